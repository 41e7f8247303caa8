/**
 * The PIV card edge: one {@link PivSession} per open card, transport-agnostic. Every public
 * method checks capability first (firmware version, algorithm support) and then calls one
 * private helper per instruction (NIST SP 800-73-4 Part 2 §3, plus Yubico's PIV extensions).
 * Status words become typed errors (`apdu/status.ts`); chaining is invisible (`apdu/processors.ts`).
 */
import { timingSafeEqual } from "node:crypto";
import type { HashAlgorithm, ManagementKeyAlgorithm } from "@cardwright/core";
import type { CommandApdu } from "../apdu/command.js";
import { ApduConnection, type ApduConnectionOptions } from "../apdu/processors.js";
import { checkStatus, retriesFromSw, type StatusContext, statusError } from "../apdu/status.js";
import {
  AuthenticationFailedError,
  BadResponseError,
  CardEdgeError,
  ConditionsNotSatisfiedError,
  type CredentialName,
  InvalidCommandError,
  NotFoundError,
  UnsupportedError,
} from "../errors.js";
import { secureRandomBytes } from "../random.js";
import { concat, decodeOne, encodeTag, find, findRequired, tlv } from "../tlv.js";
import type { ApduTransport } from "../transport.js";
import {
  algorithmByte,
  managementKeyAlgorithmOf,
  type PinPolicy,
  type PivKeyAlgorithm,
  pinPolicyByte,
  type TouchPolicy,
  touchPolicyByte,
} from "./algorithms.js";
import { type Ccc, decodeCcc, encodeCcc } from "./ccc.js";
import { decodeCertificateObject, encodeCertificateObject } from "./certificate-object.js";
import { type Chuid, decodeChuid, encodeChuid } from "./chuid.js";
import {
  certificateObjectFor,
  ImportKeyTag,
  Ins,
  KeyRef,
  ObjectTag,
  PIV_AID,
  RETIRED_KEY_REFS,
  Sw,
  Tag,
} from "./constants.js";
import { type DiscoveryObject, parseDiscovery } from "./discovery.js";
import type { ImportKeyComponents } from "./key-import.js";
import { checkManagementKey, decryptBlock, encryptBlock, managementKeyBlockSize } from "./management-key.js";
import { type KeyMetadata, parseMetadata } from "./metadata.js";
import { spkiFromPublicKeyElements } from "./public-key.js";
import { digest, ecdsaInput, emsaPkcs1v15 } from "./signature-encoding.js";

/** Options of {@link PivSession.open}: time limits, extended length and the APDU trace. */
export type PivSessionOptions = ApduConnectionOptions;

/** Options of {@link PivSession.generateKeyPair} (Yubico policies; other cards ignore nothing — they refuse). */
export interface GenerateKeyOptions {
  pinPolicy?: PinPolicy;
  touchPolicy?: TouchPolicy;
}

/** Options of {@link PivSession.writeCertificate}. */
export interface WriteCertificateOptions {
  /** Store gzip-compressed (CertInfo bit 0), for certificates too large for the object. */
  compress?: boolean;
}

/** Options of {@link PivSession.setManagementKey}. */
export interface SetManagementKeyOptions {
  /** Require a touch each time the key is used (YubiKey). */
  requireTouch?: boolean;
}

/** The SELECT answer: the application property template (SP 800-73-4 Part 2 §3.1.1), as far as present. */
export interface SelectResponse {
  /** Application identifier (PIX) the card reports in tag 4F, if any. */
  applicationIdentifier?: Uint8Array;
  /** The raw response data. */
  raw: Uint8Array;
}

/** Firmware version triple. */
export interface FirmwareVersion {
  major: number;
  minor: number;
  patch: number;
}

/** Key references that hold an asymmetric key and may be generated into. */
const KEY_SLOTS: ReadonlySet<number> = new Set([
  KeyRef.authentication,
  KeyRef.signature,
  KeyRef.keyManagement,
  KeyRef.cardAuthentication,
  ...RETIRED_KEY_REFS,
]);

const EC_FIELD_SIZE: Readonly<Record<PivKeyAlgorithm, number>> = { RSA2048: 0, ECCP256: 32, ECCP384: 48 };
const RSA2048_BYTES = 256;
/** PIV PINs and PUKs are 6–8 bytes, padded with 0xFF to 8 (SP 800-73-4 Part 2 §2.4.3). */
const PIN_MIN = 6;
const PIN_MAX = 8;

/** Firmware thresholds of Yubico's PIV features (Yubico PIV documentation, yubikit `piv.py`). */
const FEATURE = {
  p384: [4, 0, 0],
  attestation: [4, 3, 0],
  touchCached: [4, 3, 0],
  serial: [5, 0, 0],
  metadata: [5, 3, 0],
  aesManagementKey: [5, 4, 0],
} as const satisfies Record<string, readonly [number, number, number]>;

const hexRef = (keyRef: number): string => keyRef.toString(16).padStart(2, "0");
const hexTag = (tag: number): string => tag.toString(16).toUpperCase();

/**
 * A session with the PIV application of one card. Not safe to share between unrelated callers:
 * the card keeps one security state (PIN verified, management key authenticated) per session.
 */
export class PivSession {
  /** The channel; exposed for tools that need a raw exchange (e.g. benchmarks counting APDUs). */
  readonly connection: ApduConnection;
  private firmwareVersion: FirmwareVersion | undefined;

  private constructor(connection: ApduConnection) {
    this.connection = connection;
  }

  /**
   * Open a session: SELECT the PIV application, then read the firmware version when the card is
   * a YubiKey (GET VERSION); other PIV cards report none.
   * @throws NotFoundError (`PIV_NOT_FOUND`) when the card has no PIV application.
   */
  static async open(transport: ApduTransport, options: PivSessionOptions = {}): Promise<PivSession> {
    const session = new PivSession(new ApduConnection(transport, options));
    await session.selectApplication();
    try {
      session.firmwareVersion = parseVersion(await session.getVersionData());
    } catch (err) {
      // Any status word means "not a YubiKey" (cards answer 6D00, 6E00, 6A81 or worse); link failures propagate.
      if (!(err instanceof CardEdgeError) || err.details.sw === undefined) throw err;
    }
    return session;
  }

  /** Firmware version as "major.minor.patch" (YubiKey), or `undefined` for other PIV cards. */
  get firmware(): string | undefined {
    const v = this.firmwareVersion;
    return v === undefined ? undefined : `${v.major}.${v.minor}.${v.patch}`;
  }

  /** True when the card answered GET VERSION, i.e. speaks Yubico's PIV extensions. */
  get isYubiKey(): boolean {
    return this.firmwareVersion !== undefined;
  }

  /** True when the card's firmware supports GET METADATA (YubiKey 5.3+). */
  get supportsMetadata(): boolean {
    return this.atLeast(FEATURE.metadata);
  }

  // ── Application and data objects ───────────────────────────────────────────────────────────

  /**
   * SELECT the PIV application by AID (SP 800-73-4 Part 2 §3.1.1). Resets the card's security
   * status for the application.
   * @throws NotFoundError when the card has no PIV application.
   */
  async selectApplication(): Promise<SelectResponse> {
    const data = await this.exchange(
      { cla: 0, ins: Ins.select, p1: 0x04, p2: 0x00, data: PIV_AID, ne: this.connection.maxNe },
      { instruction: "SELECT", what: "the PIV application" },
    );
    const response: SelectResponse = { raw: data };
    // Cards answer the application property template or nothing; an odd answer still means PIV is selected.
    if (data.length > 0 && data[0] === Tag.applicationPropertyTemplate) {
      const aid = find(decodeOne(data).tlv.value, Tag.applicationIdentifier);
      if (aid !== undefined) response.applicationIdentifier = Uint8Array.from(aid);
    }
    return response;
  }

  /**
   * GET DATA of one data object (SP 800-73-4 Part 2 §3.1.2): tag list 5C, answer wrapped in 53
   * (the Discovery Object answers in its own 7E template).
   * @throws NotFoundError when the object is absent; SecurityStatusError for PIN-protected objects.
   */
  async getData(objectTag: number): Promise<Uint8Array> {
    return this.getDataObject(objectTag);
  }

  /**
   * PUT DATA of one data object (SP 800-73-4 Part 2 §3.3.1); requires management-key
   * authentication. An empty `value` deletes the object on YubiKeys.
   * @throws SecurityStatusError without management-key authentication; CardFullError when it does not fit.
   */
  async putData(objectTag: number, value: Uint8Array): Promise<void> {
    await this.putDataObject(objectTag, value);
  }

  /**
   * The DER certificate of a key reference (9A, 9C, 9D, 9E, retired 82–95, YubiKey F9), gunzipped
   * when stored compressed; `null` when the slot has no certificate.
   * @throws InvalidCommandError for a key reference without a certificate object.
   */
  async readCertificate(keyRef: number): Promise<Uint8Array | null> {
    const objectTag = this.certificateObject(keyRef);
    let object: Uint8Array;
    try {
      object = await this.getDataObject(objectTag);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
    if (object.length === 0) return null;
    return decodeCertificateObject(object);
  }

  /**
   * Store a DER certificate for a key reference (SP 800-73-4 Part 1 Appendix A certificate objects);
   * requires management-key authentication.
   * @throws CardFullError when it does not fit (retry with `compress: true`).
   */
  async writeCertificate(keyRef: number, der: Uint8Array, options: WriteCertificateOptions = {}): Promise<void> {
    const objectTag = this.certificateObject(keyRef);
    await this.putDataObject(objectTag, encodeCertificateObject(der, options.compress ?? false));
  }

  /** Remove the certificate of a key reference (PUT DATA with an empty object); requires management-key authentication. */
  async deleteCertificate(keyRef: number): Promise<void> {
    await this.putDataObject(this.certificateObject(keyRef), new Uint8Array(0));
  }

  /** The CHUID (SP 800-73-4 Part 1 §3.1.2), or `null` when the card has none. */
  async readChuid(): Promise<Chuid | null> {
    const data = await this.getDataOrNull(ObjectTag.chuid);
    return data === null ? null : decodeChuid(data);
  }

  /** Write the CHUID (build one with `buildChuid`); requires management-key authentication. */
  async writeChuid(chuid: Chuid): Promise<void> {
    await this.putDataObject(ObjectTag.chuid, encodeChuid(chuid));
  }

  /** The Card Capability Container (SP 800-73-4 Part 1 §3.1.1), or `null` when absent. */
  async readCcc(): Promise<Ccc | null> {
    const data = await this.getDataOrNull(ObjectTag.ccc);
    return data === null ? null : decodeCcc(data);
  }

  /** Write the CCC (build one with `buildCcc`); requires management-key authentication. */
  async writeCcc(ccc: Ccc): Promise<void> {
    await this.putDataObject(ObjectTag.ccc, encodeCcc(ccc));
  }

  /**
   * The Discovery Object (SP 800-73-4 Part 1 §3.3.2).
   * @throws NotFoundError when the card has none (older PIV cards).
   */
  async readDiscovery(): Promise<DiscoveryObject> {
    return parseDiscovery(await this.getDataObject(ObjectTag.discovery));
  }

  // ── PIN and PUK ─────────────────────────────────────────────────────────────────────────────

  /**
   * VERIFY the PIV PIN (SP 800-73-4 Part 2 §3.2.1), padded to 8 bytes with 0xFF.
   * @throws InvalidCommandError when the PIN is not 6–8 bytes (nothing is sent, no try is used);
   * WrongPinError with `retriesLeft`; PinBlockedError.
   */
  async verifyPin(pin: string): Promise<void> {
    const block = encodeReferenceData(pin, "PIN");
    await this.verify(KeyRef.pin, block);
  }

  /**
   * PIN tries left: VERIFY without data (SP 800-73-4 Part 2 §3.2.1) answers `63Cx`, or `9000`
   * when the PIN is already verified in this session — then the count comes from GET METADATA.
   * @throws UnsupportedError when the PIN is verified and the card has no GET METADATA (it cannot tell).
   */
  async pinRetries(): Promise<number> {
    const sw = await this.verifyStatus(KeyRef.pin);
    const retries = retriesFromSw(sw);
    if (retries !== undefined) return retries;
    if (sw === Sw.authMethodBlocked) return 0;
    if (sw !== Sw.ok) throw statusError(sw, { instruction: "VERIFY", credential: "PIN" });
    if (!this.supportsMetadata) {
      throw new UnsupportedError(
        "the PIN is verified in this session and this card cannot report its retry counter; ask again in a new session",
      );
    }
    const metadata = await this.getMetadata(KeyRef.pin);
    if (metadata.retries === undefined) throw new BadResponseError("PIN metadata lacks the retry counters");
    return metadata.retries.remaining;
  }

  /**
   * CHANGE REFERENCE DATA of the PIN (SP 800-73-4 Part 2 §3.2.2).
   * @throws WrongPinError / PinBlockedError for a wrong current PIN; InvalidCommandError for bad lengths.
   */
  async changePin(currentPin: string, newPin: string): Promise<void> {
    await this.changeReferenceData(KeyRef.pin, "PIN", currentPin, newPin);
  }

  /**
   * CHANGE REFERENCE DATA of the PUK.
   * @throws WrongPinError (credential PUK) / PinBlockedError for a wrong current PUK.
   */
  async changePuk(currentPuk: string, newPuk: string): Promise<void> {
    await this.changeReferenceData(KeyRef.puk, "PUK", currentPuk, newPuk);
  }

  /**
   * RESET RETRY COUNTER (SP 800-73-4 Part 2 §3.2.3): unblock the PIN with the PUK and set a new PIN.
   * @throws WrongPinError (credential PUK) with the PUK tries left; PinBlockedError when the PUK is blocked.
   */
  async unblockPin(puk: string, newPin: string): Promise<void> {
    const data = concat(encodeReferenceData(puk, "PUK"), encodeReferenceData(newPin, "PIN"));
    await this.exchange(
      { cla: 0, ins: Ins.resetRetryCounter, p1: 0, p2: KeyRef.pin, data },
      { instruction: "RESET RETRY COUNTER", credential: "PUK" },
    );
  }

  /**
   * One try of a PIN or PUK expected to be wrong, as a YubiKey reset needs them blocked: VERIFY of
   * the PIN, or CHANGE REFERENCE DATA of the PUK with `value` as both the current and the new PUK
   * (the same APDUs as {@link verifyPin} and {@link changePuk}). Returns the tries left (`63Cx`),
   * 0 once blocked (`63C0`, `6983`), or `undefined` when the card accepted the value — a refusal is
   * the expected answer here, so it is a result rather than a thrown WrongPinError/PinBlockedError.
   * @throws InvalidCommandError when `value` is not 6–8 bytes (nothing is sent); the typed error of
   * any other status word; transport errors.
   */
  async tryReferenceData(credential: CredentialName, value: string): Promise<number | undefined> {
    const block = encodeReferenceData(value, credential);
    const pin = credential === "PIN";
    const instruction = pin ? "VERIFY" : "CHANGE REFERENCE DATA";
    const { sw } = await this.connection.send(
      pin
        ? { cla: 0, ins: Ins.verify, p1: 0, p2: KeyRef.pin, data: block }
        : { cla: 0, ins: Ins.changeReferenceData, p1: 0, p2: KeyRef.puk, data: concat(block, block) },
    );
    if (sw === Sw.ok) return undefined;
    const retries = retriesFromSw(sw);
    if (retries !== undefined) return retries;
    if (sw === Sw.authMethodBlocked) return 0;
    throw statusError(sw, { instruction, credential });
  }

  // ── Management key ─────────────────────────────────────────────────────────────────────────

  /**
   * Mutual authentication with the management key (9B) by GENERAL AUTHENTICATE
   * (SP 800-73-4 Part 2 §3.2.4, Appendix A.1): the host decrypts the card's witness (80) and
   * sends it back with its own challenge (81); the card answers the encrypted challenge (82),
   * which the host checks.
   * @throws UnsupportedError for AES on YubiKey firmware below 5.4 (before any I/O);
   * AuthenticationFailedError (`PIV_AUTH_FAILED`) for a wrong key or wrong algorithm, or a card
   * that cannot prove it knows the key.
   */
  async authenticateManagementKey(algorithm: ManagementKeyAlgorithm, key: Uint8Array): Promise<void> {
    this.checkManagementKeyAlgorithm(algorithm);
    checkManagementKey(algorithm, key);
    const blockSize = managementKeyBlockSize(algorithm);
    const witness = await this.requestWitness(algorithm, blockSize);
    const challenge = secureRandomBytes(blockSize);
    const response = await this.answerWitness(algorithm, decryptBlock(algorithm, key, witness), challenge);
    const expected = encryptBlock(algorithm, key, challenge);
    if (response.length !== expected.length || !timingSafeEqual(response, expected)) {
      throw new AuthenticationFailedError(
        "the card did not prove it knows the management key; it may not be the card you expect — stop and check it",
        { instruction: "GENERAL AUTHENTICATE" },
      );
    }
  }

  /**
   * The algorithm of the card's management key: read with GET METADATA of 9B where supported
   * (YubiKey 5.3+). Only cards without GET METADATA fall back to TDES, the only algorithm
   * firmware before 5.4 allows.
   */
  async getManagementKeyAlgorithm(): Promise<ManagementKeyAlgorithm> {
    if (!this.supportsMetadata) return "TDES";
    const metadata = await this.getMetadata(KeyRef.managementKey);
    return managementKeyAlgorithmOf(algorithmByte(metadata.algorithm));
  }

  /**
   * Replace the management key (Yubico SET MANAGEMENT KEY, INS FF); requires management-key authentication.
   * @throws UnsupportedError for AES on firmware below 5.4 or on a card that is not a YubiKey.
   */
  async setManagementKey(
    algorithm: ManagementKeyAlgorithm,
    key: Uint8Array,
    options: SetManagementKeyOptions = {},
  ): Promise<void> {
    this.requireYubiKey("SET MANAGEMENT KEY");
    this.checkManagementKeyAlgorithm(algorithm);
    checkManagementKey(algorithm, key);
    const data = concat(Uint8Array.of(algorithmByte(algorithm)), tlv(KeyRef.managementKey, key));
    // P2 FE asks the key to require touch, FF not (Yubico PIV extensions).
    await this.exchange(
      { cla: 0, ins: Ins.setManagementKey, p1: 0xff, p2: options.requireTouch ? 0xfe : 0xff, data },
      { instruction: "SET MANAGEMENT KEY" },
    );
  }

  // ── Keys ───────────────────────────────────────────────────────────────────────────────────

  /**
   * GENERATE ASYMMETRIC KEY PAIR in a slot (SP 800-73-4 Part 2 §3.3.2); requires management-key
   * authentication. Returns the DER SubjectPublicKeyInfo of the new key.
   * @throws UnsupportedError for P-384 / cached touch on firmware too old, or a slot that holds no key pair.
   */
  async generateKeyPair(
    keyRef: number,
    algorithm: PivKeyAlgorithm,
    options: GenerateKeyOptions = {},
  ): Promise<Uint8Array> {
    this.checkKeySlot(keyRef);
    this.checkKeyAlgorithm(algorithm);
    if (options.touchPolicy === "cached" && this.isYubiKey && !this.atLeast(FEATURE.touchCached)) {
      throw this.tooOld("the cached touch policy", FEATURE.touchCached);
    }
    if ((options.pinPolicy !== undefined || options.touchPolicy !== undefined) && !this.isYubiKey) {
      throw new UnsupportedError("PIN and touch policies are YubiKey extensions; this card does not support them");
    }
    const template = await this.generateAsymmetricKeyPair(keyRef, algorithm, options);
    return spkiFromPublicKeyElements(algorithm, template);
  }

  /**
   * Sign with the key in a slot: hash host-side; for RSA build EMSA-PKCS1-v1_5 (RFC 8017 §9.2)
   * and have the card apply the raw private key; for ECDSA send the hash, truncated or padded to
   * the curve size. Returns the signature as X.509 expects it (RSA: k bytes; EC: DER ECDSA-Sig-Value).
   * Requires a verified PIN (the card enforces it).
   * @throws SecurityStatusError without a verified PIN; NotFoundError for an empty slot.
   */
  async sign(keyRef: number, algorithm: PivKeyAlgorithm, hash: HashAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    this.checkKeySlot(keyRef);
    this.checkKeyAlgorithm(algorithm);
    const messageDigest = digest(hash, data);
    if (algorithm === "RSA2048") {
      const signature = await this.privateKeyOperation(
        keyRef,
        algorithm,
        emsaPkcs1v15(hash, messageDigest, RSA2048_BYTES),
      );
      if (signature.length > RSA2048_BYTES) throw new BadResponseError(`RSA signature of ${signature.length} bytes`);
      // I2OSP (RFC 8017 §4.1): the signature is exactly k bytes, left-padded with zeros.
      const out = new Uint8Array(RSA2048_BYTES);
      out.set(signature, RSA2048_BYTES - signature.length);
      return out;
    }
    const signature = await this.privateKeyOperation(
      keyRef,
      algorithm,
      ecdsaInput(messageDigest, EC_FIELD_SIZE[algorithm]),
    );
    checkEcdsaSigValue(signature);
    return signature;
  }

  /**
   * Attestation certificate (DER) for the key in a slot, signed by the YubiKey's attestation key (F9).
   * @throws UnsupportedError before firmware 4.3 or on non-YubiKeys; NotFoundError when the slot has no generated key.
   */
  async attest(keyRef: number): Promise<Uint8Array> {
    this.requireYubiKey("ATTEST");
    if (!this.atLeast(FEATURE.attestation)) throw this.tooOld("attestation", FEATURE.attestation);
    this.checkKeySlot(keyRef);
    return this.exchange(
      { cla: 0, ins: Ins.attest, p1: keyRef, p2: 0, ne: this.connection.maxNe },
      { instruction: "ATTEST", what: `a generated key in slot ${hexRef(keyRef)}`, details: { slot: hexRef(keyRef) } },
    );
  }

  /**
   * Import a private key into a slot (Yubico IMPORT ASYMMETRIC KEY, INS FE: P1 algorithm, P2 key
   * reference; RSA as CRT components in tags 01–05, EC as the private scalar in tag 06, optional
   * PIN/touch policies in AA/AB). Requires management key authentication (the card enforces it).
   * The data field is redacted in APDU traces. Imported keys cannot be attested.
   * @throws UnsupportedError on non-YubiKeys; SecurityStatusError without management key authentication.
   */
  async importKey(
    keyRef: number,
    algorithm: PivKeyAlgorithm,
    components: ImportKeyComponents,
    options: GenerateKeyOptions = {},
  ): Promise<void> {
    this.requireYubiKey("IMPORT ASYMMETRIC KEY");
    this.checkKeySlot(keyRef);
    this.checkKeyAlgorithm(algorithm);
    if ((components.kind === "rsa") !== (algorithm === "RSA2048")) {
      throw new InvalidCommandError(`the key components do not belong to an ${algorithm} key`);
    }
    if (options.touchPolicy === "cached" && !this.atLeast(FEATURE.touchCached)) {
      throw this.tooOld("the cached touch policy", FEATURE.touchCached);
    }
    await this.importAsymmetricKey(keyRef, algorithm, components, options);
  }

  // ── YubiKey extensions ─────────────────────────────────────────────────────────────────────

  /**
   * Firmware version "major.minor.patch" (Yubico GET VERSION, INS FD).
   * @throws UnsupportedError on cards that are not YubiKeys.
   */
  async getVersion(): Promise<string> {
    const v = parseVersion(await this.getVersionData());
    return `${v.major}.${v.minor}.${v.patch}`;
  }

  /**
   * Serial number (Yubico GET SERIAL, INS F8, firmware 5.0+).
   * @throws UnsupportedError before firmware 5.0 or on non-YubiKeys.
   */
  async getSerial(): Promise<number> {
    this.requireYubiKey("GET SERIAL");
    if (!this.atLeast(FEATURE.serial)) throw this.tooOld("reading the serial over PIV", FEATURE.serial);
    const data = await this.exchange(
      { cla: 0, ins: Ins.getSerial, p1: 0, p2: 0, ne: this.connection.maxNe },
      { instruction: "GET SERIAL" },
    );
    if (data.length !== 4) throw new BadResponseError(`serial of ${data.length} bytes, expected 4`);
    return Buffer.from(data).readUInt32BE(0);
  }

  /**
   * Metadata of a key reference (Yubico GET METADATA, INS F7, firmware 5.3+): algorithm, PIN and
   * touch policy, origin, public key (as SPKI), default-value flag, retry counters.
   * @throws UnsupportedError before 5.3 (no I/O); NotFoundError when the slot is empty.
   */
  async getMetadata(keyRef: number): Promise<KeyMetadata> {
    this.requireYubiKey("GET METADATA");
    if (!this.supportsMetadata) throw this.tooOld("GET METADATA", FEATURE.metadata);
    const data = await this.exchange(
      { cla: 0, ins: Ins.getMetadata, p1: 0, p2: keyRef, ne: this.connection.maxNe },
      { instruction: "GET METADATA", what: `a key in slot ${hexRef(keyRef)}`, details: { slot: hexRef(keyRef) } },
    );
    return parseMetadata(data);
  }

  /**
   * Set the PIN and PUK retry counts (Yubico SET PIN RETRIES, INS FA); requires management-key
   * authentication AND a verified PIN.
   *
   * **Trap:** the YubiKey also resets the PIN and the PUK to their factory defaults
   * (123456 / 12345678). Set the retries first, then change PIN and PUK.
   * @throws InvalidCommandError for counts outside 1–255.
   */
  async setPinRetries(pinRetries: number, pukRetries: number): Promise<void> {
    this.requireYubiKey("SET PIN RETRIES");
    for (const [name, n] of [
      ["PIN", pinRetries],
      ["PUK", pukRetries],
    ] as const) {
      if (!Number.isInteger(n) || n < 1 || n > 255)
        throw new InvalidCommandError(`${name} retries must be 1–255, got ${n}`);
    }
    await this.exchange(
      { cla: 0, ins: Ins.setPinRetries, p1: pinRetries, p2: pukRetries },
      { instruction: "SET PIN RETRIES" },
    );
  }

  /**
   * Reset the PIV application to factory state (Yubico RESET, INS FB): erases keys, certificates
   * and data objects, restores default PIN, PUK and management key.
   *
   * The YubiKey accepts it **only when both the PIN and the PUK are blocked**; block them first
   * (`PivDevice.reset` does the whole dance).
   * @throws ConditionsNotSatisfiedError when PIN or PUK are not blocked.
   */
  async reset(): Promise<void> {
    this.requireYubiKey("RESET");
    try {
      await this.exchange({ cla: 0, ins: Ins.reset, p1: 0, p2: 0 }, { instruction: "RESET" });
    } catch (err) {
      if (err instanceof ConditionsNotSatisfiedError) {
        throw new ConditionsNotSatisfiedError(
          "the YubiKey refuses RESET until both the PIN and the PUK are blocked; block them with wrong tries first",
          { instruction: "RESET", sw: Sw.conditionsNotSatisfied },
        );
      }
      throw err;
    }
  }

  // ── Capability checks (no I/O) ─────────────────────────────────────────────────────────────

  private atLeast(version: readonly [number, number, number]): boolean {
    const v = this.firmwareVersion;
    if (v === undefined) return false;
    const [major, minor, patch] = version;
    if (v.major !== major) return v.major > major;
    if (v.minor !== minor) return v.minor > minor;
    return v.patch >= patch;
  }

  private tooOld(feature: string, version: readonly [number, number, number]): UnsupportedError {
    return new UnsupportedError(
      `${feature} needs YubiKey firmware ${version.join(".")} or later; this card has ${this.firmware ?? "no YubiKey firmware"}`,
      { details: { firmware: this.firmware, required: version.join(".") } },
    );
  }

  private requireYubiKey(instruction: string): void {
    if (!this.isYubiKey) {
      throw new UnsupportedError(`${instruction} is a YubiKey extension; this PIV card does not support it`, {
        instruction,
      });
    }
  }

  private checkManagementKeyAlgorithm(algorithm: ManagementKeyAlgorithm): void {
    // AES management keys are standard (SP 800-78-4 Table 6-1) but YubiKeys only have them from 5.4.
    if (algorithm !== "TDES" && this.isYubiKey && !this.atLeast(FEATURE.aesManagementKey)) {
      throw this.tooOld(`an ${algorithm} management key`, FEATURE.aesManagementKey);
    }
  }

  private checkKeyAlgorithm(algorithm: PivKeyAlgorithm): void {
    if (!(algorithm in EC_FIELD_SIZE)) throw new InvalidCommandError(`unsupported key algorithm ${String(algorithm)}`);
    if (algorithm === "ECCP384" && this.isYubiKey && !this.atLeast(FEATURE.p384)) {
      throw this.tooOld("P-384 keys", FEATURE.p384);
    }
  }

  private checkKeySlot(keyRef: number): void {
    if (!KEY_SLOTS.has(keyRef)) {
      throw new InvalidCommandError(`key reference ${hexRef(keyRef)} is not a key pair slot (9a, 9c, 9d, 9e, 82–95)`);
    }
  }

  private certificateObject(keyRef: number): number {
    const objectTag = certificateObjectFor(keyRef);
    if (objectTag === undefined) {
      throw new InvalidCommandError(`key reference ${hexRef(keyRef)} has no certificate object`);
    }
    return objectTag;
  }

  // ── One private helper per instruction ──────────────────────────────────────────────────────

  private async exchange(apdu: CommandApdu, context: StatusContext, timeoutMs?: number): Promise<Uint8Array> {
    const response = await this.connection.send(apdu, timeoutMs === undefined ? {} : { timeoutMs });
    return checkStatus(response, context);
  }

  private async getVersionData(): Promise<Uint8Array> {
    return this.exchange(
      { cla: 0, ins: Ins.getVersion, p1: 0, p2: 0, ne: this.connection.maxNe },
      { instruction: "GET VERSION" },
    );
  }

  private async getDataObject(objectTag: number): Promise<Uint8Array> {
    const data = await this.exchange(
      {
        cla: 0,
        ins: Ins.getData,
        p1: 0x3f,
        p2: 0xff,
        data: tlv(Tag.tagList, encodeTag(objectTag)),
        ne: this.connection.maxNe,
      },
      {
        instruction: "GET DATA",
        what: `data object ${hexTag(objectTag)}`,
        details: { objectTag: hexTag(objectTag) },
      },
    );
    if (data.length === 0) return data;
    const { tlv: outer } = decodeOne(data);
    if (outer.tag !== Tag.data && outer.tag !== objectTag) {
      throw new BadResponseError(`GET DATA ${hexTag(objectTag)} answered tag ${hexTag(outer.tag)}`, {
        instruction: "GET DATA",
      });
    }
    return Uint8Array.from(outer.value);
  }

  private async getDataOrNull(objectTag: number): Promise<Uint8Array | null> {
    try {
      const data = await this.getDataObject(objectTag);
      return data.length === 0 ? null : data;
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  private async putDataObject(objectTag: number, value: Uint8Array): Promise<void> {
    // Discovery (7E) and BIT group template (7F61) are written in their own template (SP 800-73-4 Part 2 §3.3.1).
    const data =
      objectTag === ObjectTag.discovery || objectTag === 0x7f61
        ? tlv(objectTag, value)
        : concat(tlv(Tag.tagList, encodeTag(objectTag)), tlv(Tag.data, value));
    await this.exchange(
      { cla: 0, ins: Ins.putData, p1: 0x3f, p2: 0xff, data },
      {
        instruction: "PUT DATA",
        what: `data object ${hexTag(objectTag)} (${value.length} bytes)`,
        details: { objectTag: hexTag(objectTag), size: value.length },
      },
    );
  }

  private async verify(keyRef: number, block: Uint8Array): Promise<void> {
    await this.exchange(
      { cla: 0, ins: Ins.verify, p1: 0, p2: keyRef, data: block },
      { instruction: "VERIFY", credential: keyRef === KeyRef.puk ? "PUK" : "PIN" },
    );
  }

  /** VERIFY without data: the status word is the answer (63Cx, 9000, 6983). */
  private async verifyStatus(keyRef: number): Promise<number> {
    const response = await this.connection.send({ cla: 0, ins: Ins.verify, p1: 0, p2: keyRef });
    return response.sw;
  }

  private async changeReferenceData(
    keyRef: number,
    credential: CredentialName,
    current: string,
    next: string,
  ): Promise<void> {
    const data = concat(encodeReferenceData(current, credential), encodeReferenceData(next, credential));
    await this.exchange(
      { cla: 0, ins: Ins.changeReferenceData, p1: 0, p2: keyRef, data },
      { instruction: "CHANGE REFERENCE DATA", credential },
    );
  }

  private async requestWitness(algorithm: ManagementKeyAlgorithm, blockSize: number): Promise<Uint8Array> {
    const data = await this.managementKeyStep(
      algorithm,
      tlv(Tag.dynamicAuthTemplate, tlv(Tag.witness)),
      ["6A80", "6A86"],
      `the card refused a ${algorithm} management-key challenge; its management key uses another algorithm`,
    );
    const template = findRequired(data, Tag.dynamicAuthTemplate, "management key witness");
    const witness = findRequired(template, Tag.witness, "management key witness");
    if (witness.length !== blockSize) {
      throw new BadResponseError(`${algorithm} witness of ${witness.length} bytes, expected ${blockSize}`, {
        instruction: "GENERAL AUTHENTICATE",
      });
    }
    return Uint8Array.from(witness);
  }

  private async answerWitness(
    algorithm: ManagementKeyAlgorithm,
    decryptedWitness: Uint8Array,
    challenge: Uint8Array,
  ): Promise<Uint8Array> {
    const data = await this.managementKeyStep(
      algorithm,
      tlv(Tag.dynamicAuthTemplate, tlv(Tag.witness, decryptedWitness), tlv(Tag.challenge, challenge)),
      ["6982", "6A80"],
      "management key authentication failed: the card rejected the key; check the key and its algorithm",
    );
    const template = findRequired(data, Tag.dynamicAuthTemplate, "management key response");
    return Uint8Array.from(findRequired(template, Tag.response, "management key response"));
  }

  /**
   * One GENERAL AUTHENTICATE step against the management key (SP 800-73-4 Part 2 §3.2.4). The
   * status words in `refusedSw` mean a wrong key or algorithm at this step, and become an
   * AuthenticationFailedError with `message`; any other refusal propagates as it is.
   */
  private async managementKeyStep(
    algorithm: ManagementKeyAlgorithm,
    data: Uint8Array,
    refusedSw: readonly string[],
    message: string,
  ): Promise<Uint8Array> {
    try {
      return await this.exchange(
        {
          cla: 0,
          ins: Ins.generalAuthenticate,
          p1: algorithmByte(algorithm),
          p2: KeyRef.managementKey,
          data,
          ne: this.connection.maxNe,
        },
        { instruction: "GENERAL AUTHENTICATE" },
      );
    } catch (err) {
      const sw = err instanceof CardEdgeError ? err.details.sw : undefined;
      if (sw !== undefined && refusedSw.includes(sw)) {
        throw new AuthenticationFailedError(message, {
          instruction: "GENERAL AUTHENTICATE",
          sw: Number.parseInt(sw, 16),
          cause: err,
        });
      }
      throw err;
    }
  }

  private async generateAsymmetricKeyPair(
    keyRef: number,
    algorithm: PivKeyAlgorithm,
    options: GenerateKeyOptions,
  ): Promise<Uint8Array> {
    const parameters = [tlv(Tag.algorithm, Uint8Array.of(algorithmByte(algorithm)))];
    if (options.pinPolicy !== undefined)
      parameters.push(tlv(Tag.pinPolicy, Uint8Array.of(pinPolicyByte(options.pinPolicy))));
    if (options.touchPolicy !== undefined) {
      parameters.push(tlv(Tag.touchPolicy, Uint8Array.of(touchPolicyByte(options.touchPolicy))));
    }
    const timeouts = this.connection.timeouts;
    const data = await this.exchange(
      {
        cla: 0,
        ins: Ins.generateAsymmetricKeyPair,
        p1: 0,
        p2: keyRef,
        data: tlv(Tag.controlReferenceTemplate, ...parameters),
        ne: this.connection.maxNe,
      },
      { instruction: "GENERATE ASYMMETRIC KEY PAIR", details: { slot: hexRef(keyRef), algorithm } },
      algorithm === "RSA2048" ? timeouts.generateRsaMs : timeouts.generateEcMs,
    );
    return findRequired(data, Tag.publicKeyTemplate, "generated public key");
  }

  private async importAsymmetricKey(
    keyRef: number,
    algorithm: PivKeyAlgorithm,
    components: ImportKeyComponents,
    options: GenerateKeyOptions,
  ): Promise<void> {
    const parts =
      components.kind === "rsa"
        ? [
            tlv(ImportKeyTag.rsaPrime1, components.p),
            tlv(ImportKeyTag.rsaPrime2, components.q),
            tlv(ImportKeyTag.rsaExponent1, components.dp),
            tlv(ImportKeyTag.rsaExponent2, components.dq),
            tlv(ImportKeyTag.rsaCoefficient, components.qi),
          ]
        : [tlv(ImportKeyTag.ecPrivateScalar, components.scalar)];
    if (options.pinPolicy !== undefined)
      parts.push(tlv(Tag.pinPolicy, Uint8Array.of(pinPolicyByte(options.pinPolicy))));
    if (options.touchPolicy !== undefined) {
      parts.push(tlv(Tag.touchPolicy, Uint8Array.of(touchPolicyByte(options.touchPolicy))));
    }
    const data = concat(...parts);
    try {
      await this.exchange(
        { cla: 0, ins: Ins.importKey, p1: algorithmByte(algorithm), p2: keyRef, data },
        { instruction: "IMPORT ASYMMETRIC KEY", details: { slot: hexRef(keyRef), algorithm } },
      );
    } finally {
      // The encoded command holds the private key: do not leave it in memory.
      data.fill(0);
      for (const part of parts) part.fill(0);
    }
  }

  private async privateKeyOperation(
    keyRef: number,
    algorithm: PivKeyAlgorithm,
    input: Uint8Array,
  ): Promise<Uint8Array> {
    const data = await this.exchange(
      {
        cla: 0,
        ins: Ins.generalAuthenticate,
        p1: algorithmByte(algorithm),
        p2: keyRef,
        data: tlv(Tag.dynamicAuthTemplate, tlv(Tag.response), tlv(Tag.challenge, input)),
        ne: this.connection.maxNe,
      },
      {
        instruction: "GENERAL AUTHENTICATE",
        what: `a key in slot ${hexRef(keyRef)}`,
        details: { slot: hexRef(keyRef), algorithm },
      },
      this.connection.timeouts.signMs,
    );
    const template = findRequired(data, Tag.dynamicAuthTemplate, "signature");
    return Uint8Array.from(findRequired(template, Tag.response, "signature"));
  }
}

const UTF8 = new TextEncoder();

/** PIN/PUK as the 8-byte reference data block: the characters' bytes padded with 0xFF. */
function encodeReferenceData(value: string, credential: CredentialName): Uint8Array {
  const bytes = UTF8.encode(value);
  if (bytes.length < PIN_MIN || bytes.length > PIN_MAX) {
    // The length may be stated; the value never is.
    throw new InvalidCommandError(`a ${credential} must be ${PIN_MIN}–${PIN_MAX} bytes long, got ${bytes.length}`, {
      details: { credential },
    });
  }
  const block = new Uint8Array(PIN_MAX).fill(0xff);
  block.set(bytes);
  return block;
}

function parseVersion(data: Uint8Array): FirmwareVersion {
  if (data.length !== 3) throw new BadResponseError(`version of ${data.length} bytes, expected 3`);
  return { major: data[0] as number, minor: data[1] as number, patch: data[2] as number };
}

/** The card must return a DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs), RFC 5480 §2.2 / RFC 3279 §2.2.3. */
function checkEcdsaSigValue(signature: Uint8Array): void {
  try {
    const { tlv: seq, next } = decodeOne(signature);
    if (seq.tag !== 0x30 || next !== signature.length) throw new Error("not one SEQUENCE");
    const { tlv: r, next: afterR } = decodeOne(seq.value);
    const { tlv: s, next: afterS } = decodeOne(seq.value, afterR);
    if (r.tag !== 0x02 || s.tag !== 0x02 || afterS !== seq.value.length) throw new Error("not two INTEGERs");
  } catch (err) {
    throw new BadResponseError("the card's ECDSA signature is not a DER ECDSA-Sig-Value", {
      instruction: "GENERAL AUTHENTICATE",
      cause: err,
    });
  }
}
