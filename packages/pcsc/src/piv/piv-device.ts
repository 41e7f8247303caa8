/**
 * `PivDevice`: the core `Device` port over a {@link PivSession}. It maps slots ("9a") to key
 * references, capabilities to what the card's firmware supports, and lifecycle operations
 * (factory credentials, reset, card identifiers) to the PIV and YubiKey instructions.
 */
import { createHash } from "node:crypto";
import {
  type AdminCredential,
  type CardIdentifiers,
  CardwrightError,
  type Device,
  type DeviceCapabilities,
  type DeviceIdentity,
  type DeviceObject,
  type DevicePublicKey,
  type FactoryCredentials,
  type HashAlgorithm,
  type KeyAlgorithm,
  type ManagementKeyAlgorithm,
  type PinStatus,
  type SlotId,
  withContext,
} from "@cardwright/core";
import { BadResponseError, NotFoundError, UnsupportedError } from "../errors.js";
import { secureRandomBytes } from "../random.js";
import type { ApduTransport } from "../transport.js";
import { algorithmByte, isPivKeyAlgorithm, managementKeyAlgorithmOf, type PivKeyAlgorithm } from "./algorithms.js";
import { buildCcc } from "./ccc.js";
import { buildChuid, type Chuid } from "./chuid.js";
import { KeyRef, RETIRED_KEY_REFS, YubiKeyDefaults } from "./constants.js";
import { prepareImportKey, zeroImportKey } from "./key-import.js";
import { PivSession, type PivSessionOptions } from "./session.js";

/** Options of {@link PivDevice.open}. */
export interface PivDeviceOptions extends PivSessionOptions {
  /** Random source for GUIDs, card identifiers and reset tries; defaults to the platform CSPRNG. */
  random?: (length: number) => Uint8Array;
  /** Clock for the CHUID expiration date; defaults to the system clock. */
  now?: () => Date;
  /** Called by {@link PivDevice.close}, e.g. to end the PC/SC transaction or disconnect the reader. */
  onClose?: () => Promise<void>;
}

const PRIMARY_SLOTS = [KeyRef.authentication, KeyRef.signature, KeyRef.keyManagement, KeyRef.cardAuthentication];
/** Largest object YubiKey 4/5 accept (Yubico.NET SDK "Maximum certificate sizes"); NEO: 2025. */
const YUBIKEY_MAX_OBJECT = 3052;
const YUBIKEY_NEO_MAX_OBJECT = 2025;
/** About 51,000 bytes for all data objects on YubiKey 4/5 (same source). */
const YUBIKEY_TOTAL_STORAGE = 51_000;
/** Bound on wrong tries while blocking PIN or PUK for reset (counters are at most 255). */
const MAX_BLOCKING_TRIES = 256;
/** Wrong values drawn per call of the random source while blocking (PIN and PUK counters are 3 by default). */
const BLOCKING_TRIES_PER_DRAW = 4;

const slotOf = (keyRef: number): SlotId => keyRef.toString(16).padStart(2, "0");
const PRIMARY_SLOT_IDS: readonly SlotId[] = PRIMARY_SLOTS.map(slotOf);
const PRIMARY_AND_RETIRED_SLOT_IDS: readonly SlotId[] = [...PRIMARY_SLOTS, ...RETIRED_KEY_REFS].map(slotOf);

function capabilityError(message: string, details: Record<string, string> = {}): CardwrightError {
  return new CardwrightError("DEVICE_CAPABILITY", message, { details });
}

/** A PIV card (YubiKey or any SP 800-73-4 card) as a cardwright `Device`. */
export class PivDevice implements Device {
  readonly identity: DeviceIdentity;
  readonly capabilities: DeviceCapabilities;
  /** The underlying PIV session, for PIV-specific operations the `Device` port does not cover. */
  readonly session: PivSession;
  private readonly random: (length: number) => Uint8Array;
  private readonly now: () => Date;
  private readonly onClose: (() => Promise<void>) | undefined;
  private closed = false;

  private constructor(
    session: PivSession,
    identity: DeviceIdentity,
    capabilities: DeviceCapabilities,
    options: PivDeviceOptions,
  ) {
    this.session = session;
    this.identity = identity;
    this.capabilities = capabilities;
    this.random = options.random ?? secureRandomBytes;
    this.now = options.now ?? (() => new Date());
    this.onClose = options.onClose;
  }

  /**
   * Open the PIV application on the card behind `transport` and read who it is: YubiKeys report
   * firmware and serial; other PIV cards are identified by their CHUID GUID.
   * @throws NotFoundError when the card has no PIV application.
   */
  static async open(transport: ApduTransport, options: PivDeviceOptions = {}): Promise<PivDevice> {
    let session: PivSession;
    try {
      session = await PivSession.open(transport, options);
    } catch (err) {
      throw withContext(err, "selecting piv applet", "APDU_TRANSPORT");
    }
    const identity = await PivDevice.readIdentity(session, transport);
    const capabilities = await PivDevice.readCapabilities(session);
    return new PivDevice(session, identity, capabilities, options);
  }

  private static async readIdentity(session: PivSession, transport: ApduTransport): Promise<DeviceIdentity> {
    const identity: DeviceIdentity = { serial: "", type: "piv", model: "PIV card" };
    if (transport.reader !== undefined) identity.reader = transport.reader;
    const firmware = session.firmware;
    if (firmware !== undefined) {
      identity.firmware = firmware;
      const major = Number(firmware.split(".")[0]);
      identity.model = major < 4 ? "YubiKey NEO" : `YubiKey ${major}`;
      try {
        identity.serial = String(await session.getSerial());
        return identity;
      } catch (err) {
        // Serial is hidden (configurable) or unsupported before 5.0: fall back to the CHUID.
        if (!(err instanceof UnsupportedError) && !(err instanceof NotFoundError)) throw err;
      }
    }
    let chuid: Chuid | null = null;
    try {
      chuid = await session.readChuid();
    } catch (err) {
      // A malformed CHUID identifies nothing; fall through to the ATR.
      if (!(err instanceof BadResponseError)) throw err;
    }
    if (chuid !== null) {
      identity.serial = Buffer.from(chuid.guid).toString("hex");
    } else {
      // A blank non-YubiKey card has nothing unique to read; the ATR digest names it until identifiers are written.
      const atr = await transport.getAtr();
      identity.serial = `atr-${createHash("sha256").update(atr).digest("hex").slice(0, 16)}`;
    }
    return identity;
  }

  private static async readCapabilities(session: PivSession): Promise<DeviceCapabilities> {
    const yubiKey = session.isYubiKey;
    const major = Number((session.firmware ?? "0").split(".")[0]);
    const keyAlgorithms: KeyAlgorithm[] = ["RSA2048", "ECCP256"];
    if (!yubiKey || major >= 4) keyAlgorithms.push("ECCP384");
    const slots = (yubiKey && major >= 4 ? PRIMARY_AND_RETIRED_SLOT_IDS : PRIMARY_SLOT_IDS).slice();
    const capabilities: DeviceCapabilities = {
      keyAlgorithms,
      slots,
      pinChange: true,
      pinUnblock: true,
      reset: yubiKey,
      adminCredentialChange: yubiKey,
      attestation: yubiKey && compareVersion(session.firmware, [4, 3, 0]) >= 0,
      // IMPORT ASYMMETRIC KEY is a Yubico extension every YubiKey PIV applet has; SP 800-73-4 has none.
      keyImport: yubiKey,
      cardIdentifiers: true,
    };
    if (yubiKey) {
      capabilities.maxObjectSize = major >= 4 ? YUBIKEY_MAX_OBJECT : YUBIKEY_NEO_MAX_OBJECT;
      if (major >= 4) capabilities.totalStorage = YUBIKEY_TOTAL_STORAGE;
    }
    if (session.supportsMetadata) {
      const pin = await session.getMetadata(KeyRef.pin);
      if (pin.retries !== undefined) capabilities.pinRetries = pin.retries.total;
    }
    return capabilities;
  }

  /**
   * YubiKey factory credentials: PIN 123456, PUK 12345678, management key 0102…08 — AES-192 from
   * firmware 5.7, 3DES before. While the card still has its default key, GET METADATA of 9B says
   * which algorithm it is; otherwise the firmware decides.
   * @throws UnsupportedError for non-YubiKey cards, whose defaults are vendor-specific.
   */
  async factoryCredentials(): Promise<FactoryCredentials> {
    this.ensureOpen();
    if (!this.session.isYubiKey) {
      throw new UnsupportedError("factory credentials of this PIV card are vendor-specific; configure them explicitly");
    }
    let algorithm: ManagementKeyAlgorithm = compareVersion(this.session.firmware, [5, 7, 0]) >= 0 ? "AES192" : "TDES";
    if (this.session.supportsMetadata) {
      const metadata = await this.session.getMetadata(KeyRef.managementKey);
      if (metadata.isDefault === true) algorithm = managementKeyAlgorithmOf(algorithmByte(metadata.algorithm));
    }
    return {
      pin: YubiKeyDefaults.pin,
      puk: YubiKeyDefaults.puk,
      admin: { kind: "management-key", algorithm, key: Uint8Array.from(YubiKeyDefaults.managementKey) },
    };
  }

  /**
   * Authenticate with the management key.
   * @throws CardwrightError `DEVICE_CAPABILITY` for a credential that is not a management key; `PIV_AUTH_FAILED`.
   */
  async authenticateAdmin(credential: AdminCredential): Promise<void> {
    this.ensureOpen();
    const { algorithm, key } = managementKey(credential);
    await this.session.authenticateManagementKey(algorithm, key);
  }

  /** Replace the management key; requires admin authentication. */
  async setAdminCredential(credential: AdminCredential): Promise<void> {
    this.ensureOpen();
    const { algorithm, key } = managementKey(credential);
    await this.session.setManagementKey(algorithm, key);
  }

  /**
   * Factory reset, the YubiKey way: block the PIN with wrong VERIFYs, block the PUK with wrong
   * CHANGE REFERENCE DATAs, then RESET. Erases every key, certificate and data object.
   * @throws UnsupportedError on non-YubiKeys.
   */
  async reset(): Promise<void> {
    this.ensureOpen();
    if (!this.capabilities.reset) throw new UnsupportedError("this PIV card cannot be reset to factory state");
    await this.blockCredential("PIN");
    await this.blockCredential("PUK");
    await this.session.reset();
  }

  /** VERIFY the PIN. @throws WrongPinError (`PIV_WRONG_PIN`, `details.retriesLeft`), PinBlockedError. */
  async verifyPin(pin: string): Promise<void> {
    this.ensureOpen();
    await this.session.verifyPin(pin);
  }

  /** Change the PIN (CHANGE REFERENCE DATA). @throws WrongPinError, PinBlockedError. */
  async changePin(currentPin: string, newPin: string): Promise<void> {
    this.ensureOpen();
    await this.session.changePin(currentPin, newPin);
  }

  /** Change the PUK (CHANGE REFERENCE DATA on 81). @throws WrongPinError with credential PUK, PinBlockedError. */
  async changePuk(currentPuk: string, newPuk: string): Promise<void> {
    this.ensureOpen();
    await this.session.changePuk(currentPuk, newPuk);
  }

  /** Unblock the PIN with the PUK and set a new PIN (RESET RETRY COUNTER). @throws WrongPinError with credential PUK. */
  async unblockPin(puk: string, newPin: string): Promise<void> {
    this.ensureOpen();
    await this.session.unblockPin(puk, newPin);
  }

  /**
   * PIN tries left and total: GET METADATA of the PIN where supported (live, so it reflects a
   * changed retry count), otherwise VERIFY without data and the total known at open.
   */
  async pinStatus(): Promise<PinStatus> {
    this.ensureOpen();
    if (this.session.supportsMetadata) {
      const { retries } = await this.session.getMetadata(KeyRef.pin);
      if (retries !== undefined) {
        return { retriesLeft: retries.remaining, blocked: retries.remaining === 0, retriesTotal: retries.total };
      }
    }
    const retriesLeft = await this.session.pinRetries();
    const status: PinStatus = { retriesLeft, blocked: retriesLeft === 0 };
    if (this.capabilities.pinRetries !== undefined) status.retriesTotal = this.capabilities.pinRetries;
    return status;
  }

  /**
   * Write a fresh CHUID (new random GUID, unsigned) and a fresh CCC (new card identifier);
   * requires admin authentication. Relying parties that cache by GUID see a new card.
   */
  async writeCardIdentifiers(): Promise<CardIdentifiers> {
    this.ensureOpen();
    const chuid = buildChuid({ random: this.random, now: this.now() });
    const ccc = buildCcc(this.random);
    await this.session.writeChuid(chuid);
    await this.session.writeCcc(ccc);
    return {
      guid: Buffer.from(chuid.guid).toString("hex"),
      cardId: Buffer.from(ccc.cardIdentifier).toString("hex"),
    };
  }

  /** Generate a key pair in `slot`; requires admin authentication. */
  async generateKeyPair(slot: SlotId, algorithm: KeyAlgorithm): Promise<DevicePublicKey> {
    this.ensureOpen();
    const keyRef = this.keyRefOf(slot);
    const pivAlgorithm = this.pivAlgorithm(algorithm);
    const spki = await this.session.generateKeyPair(keyRef, pivAlgorithm);
    return { algorithm: pivAlgorithm, spki };
  }

  /**
   * Import a private key generated off the card into `slot` (Yubico IMPORT ASYMMETRIC KEY, INS FE);
   * requires admin authentication. The components are zeroed once sent. Where the card has
   * GET METADATA (5.3+) its public key is read back and must equal the imported one.
   * @throws CardwrightError `DEVICE_CAPABILITY` when the card cannot import (not a YubiKey) or lacks
   * the slot or algorithm; `PIV_WRONG_DATA` for a key that is not PKCS #8 of `algorithm`;
   * `PIV_SECURITY_STATUS` without admin authentication.
   */
  async importKeyPair(slot: SlotId, algorithm: KeyAlgorithm, pkcs8: Uint8Array): Promise<DevicePublicKey> {
    this.ensureOpen();
    if (this.capabilities.keyImport !== true) {
      throw capabilityError("this PIV card cannot import private keys", { capability: "keyImport", slot });
    }
    const keyRef = this.keyRefOf(slot);
    const pivAlgorithm = this.pivAlgorithm(algorithm);
    const { components, spki } = prepareImportKey(pivAlgorithm, pkcs8);
    try {
      await this.session.importKey(keyRef, pivAlgorithm, components);
    } catch (err) {
      throw withContext(err, `importing a key into slot ${slot}`);
    } finally {
      zeroImportKey(components);
    }
    if (this.session.supportsMetadata) {
      const metadata = await this.session.getMetadata(keyRef);
      if (metadata.publicKey === undefined || !Buffer.from(metadata.publicKey).equals(Buffer.from(spki))) {
        throw new BadResponseError(`the card holds a different public key in slot ${slot} after the import`, {
          instruction: "GET METADATA",
          details: { slot },
        });
      }
    }
    return { algorithm: pivAlgorithm, spki };
  }

  /**
   * Sign with the key in `slot` (PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value for EC).
   * Requires a prior {@link verifyPin} in this session; the card enforces it (`PIV_SECURITY_STATUS`).
   */
  async sign(slot: SlotId, algorithm: KeyAlgorithm, hash: HashAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    this.ensureOpen();
    return this.session.sign(this.keyRefOf(slot), this.pivAlgorithm(algorithm), hash, data);
  }

  /**
   * Store a DER certificate for `slot`; requires admin authentication. Compressed only when it
   * would not fit uncompressed. @throws CardFullError (`PIV_CARD_FULL`).
   */
  async writeCertificate(slot: SlotId, certificate: Uint8Array): Promise<void> {
    this.ensureOpen();
    const keyRef = this.keyRefOf(slot);
    // Compress only what would not fit: uncompressed is what every middleware reads.
    const max = this.capabilities.maxObjectSize;
    const compress = max !== undefined && certificate.length + 16 > max;
    await this.session.writeCertificate(keyRef, certificate, { compress });
  }

  /** The DER certificate of `slot`, or `null` when the slot has none. */
  async readCertificate(slot: SlotId): Promise<Uint8Array | null> {
    this.ensureOpen();
    return this.session.readCertificate(this.keyRefOf(slot));
  }

  /** Remove the certificate of `slot`; requires admin authentication. */
  async deleteCertificate(slot: SlotId): Promise<void> {
    this.ensureOpen();
    await this.session.deleteCertificate(this.keyRefOf(slot));
  }

  /**
   * Every slot with a certificate or (where GET METADATA tells) a key: 9a, 9c, 9d, 9e and the
   * retired 82–95. Empty slots are skipped.
   */
  async listObjects(): Promise<DeviceObject[]> {
    this.ensureOpen();
    const objects: DeviceObject[] = [];
    for (const slot of this.capabilities.slots) {
      const keyRef = Number.parseInt(slot, 16);
      const object: DeviceObject = { slot };
      const certificate = await this.session.readCertificate(keyRef);
      if (certificate !== null) object.certificate = certificate;
      if (this.session.supportsMetadata) {
        try {
          const metadata = await this.session.getMetadata(keyRef);
          if (metadata.publicKey !== undefined && isPivKeyAlgorithm(metadata.algorithm)) {
            object.publicKey = { algorithm: metadata.algorithm, spki: metadata.publicKey };
          }
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
      if (object.certificate !== undefined || object.publicKey !== undefined) objects.push(object);
    }
    return objects;
  }

  /**
   * Attestation chain, leaf first: the slot's attestation certificate, then the YubiKey's
   * attestation intermediate from object 5FFF01 (signed by Yubico's PIV root CA) when present.
   */
  async attest(slot: SlotId): Promise<Uint8Array[]> {
    this.ensureOpen();
    if (!this.capabilities.attestation) throw new UnsupportedError("this PIV card cannot attest its keys");
    const leaf = await this.session.attest(this.keyRefOf(slot));
    const intermediate = await this.session.readCertificate(KeyRef.attestation);
    return intermediate === null ? [leaf] : [leaf, intermediate];
  }

  /** Release the device; later calls fail with `DEVICE_NOT_FOUND`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.onClose?.();
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new CardwrightError("DEVICE_NOT_FOUND", "the device was closed; open it again", {
        details: { deviceSerial: this.identity.serial },
      });
    }
  }

  private keyRefOf(slot: SlotId): number {
    const normalized = slot.toLowerCase();
    if (!this.capabilities.slots.includes(normalized)) {
      throw capabilityError(`slot ${slot} is not a key slot of this card (${this.capabilities.slots.join(", ")})`, {
        slot,
      });
    }
    return Number.parseInt(normalized, 16);
  }

  private pivAlgorithm(algorithm: KeyAlgorithm): PivKeyAlgorithm {
    if (!isPivKeyAlgorithm(algorithm) || !this.capabilities.keyAlgorithms.includes(algorithm)) {
      throw capabilityError(`this card does not support ${algorithm} keys`, { algorithm });
    }
    return algorithm;
  }

  private async blockCredential(credential: "PIN" | "PUK"): Promise<void> {
    // Random bytes for several tries at once: one draw per try cost more than the try's APDU.
    let pool = new Uint8Array(0);
    for (let i = 0; i < MAX_BLOCKING_TRIES; i++) {
      if (pool.length < 6) pool = Uint8Array.from(this.random(6 * BLOCKING_TRIES_PER_DRAW));
      // A random 8-character value; should it ever match, the loop simply tries another.
      const wrong = Buffer.from(pool.subarray(0, 6)).toString("base64url").slice(0, 8).padEnd(8, "x");
      pool = pool.subarray(6);
      let retriesLeft: number | undefined;
      try {
        // Wrong tries are the point here: they come back as counts, not as thrown WrongPinErrors.
        retriesLeft = await this.session.tryReferenceData(credential, wrong);
      } catch (err) {
        throw withContext(err, `blocking the ${credential} for reset`);
      }
      if (retriesLeft === 0) return;
    }
    throw new CardwrightError(
      "PIV_CONDITIONS_NOT_SATISFIED",
      `the ${credential} did not block after ${MAX_BLOCKING_TRIES} wrong tries`,
      {
        details: { credential },
      },
    );
  }
}

function managementKey(credential: AdminCredential): { algorithm: ManagementKeyAlgorithm; key: Uint8Array } {
  if (credential.kind !== "management-key") {
    throw capabilityError("a PIV card's administrator credential is a management key, not an SO PIN");
  }
  return { algorithm: credential.algorithm, key: credential.key };
}

/** Compare a "major.minor.patch" string with a version; an unknown version is lowest. */
function compareVersion(version: string | undefined, than: readonly [number, number, number]): number {
  if (version === undefined) return -1;
  const parts = version.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (parts[i] ?? 0) - (than[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}
