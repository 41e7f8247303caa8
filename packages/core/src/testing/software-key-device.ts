/**
 * A real software implementation of the {@link Device} port for tests and examples: key pairs
 * are node:crypto keys held per slot, and it enforces the rules a PIV card enforces —
 * management-key authentication before changes, PIN verification before signing, PIN/PUK retry
 * counters and blocking (NIST SP 800-73-4 Part 2 §3.2). It can be told to "lose the card" at
 * the n-th call of an operation, before or after the card applied it, to test the failure rule.
 *
 * NOT for production: keys live in process memory.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { CardwrightError } from "../errors.js";
import type {
  AdminCredential,
  CardIdentifiers,
  Device,
  DeviceCapabilities,
  DeviceIdentity,
  DeviceObject,
  DevicePublicKey,
  FactoryCredentials,
  HashAlgorithm,
  KeyAlgorithm,
  ManagementKeyAlgorithm,
  PinStatus,
  SlotId,
} from "../ports/device.js";

/** Factory PIN of the software device (SP 800-73-4 leaves factory values to the vendor; these are YubiKey's). */
export const PIV_FACTORY_PIN = "123456";
/** Factory PUK of the software device. */
export const PIV_FACTORY_PUK = "12345678";
/** Factory management key of the software device, hex. */
export const PIV_FACTORY_MANAGEMENT_KEY = "010203040506070801020304050607080102030405060708";

/** Device operations that can be made to fail. */
export type DeviceOperation = Exclude<keyof Device, "identity" | "capabilities">;

/** Options for {@link SoftwareKeyDevice}. */
export interface SoftwareKeyDeviceOptions {
  serial?: string;
  model?: string;
  /** Firmware version; ≥ 5.7 ships an AES-192 management key, older ones TDES (as YubiKeys do). */
  firmware?: string;
  capabilities?: Partial<DeviceCapabilities>;
  /** PIN and PUK retry counters (default 3). */
  pinRetries?: number;
  pukRetries?: number;
}

/** When {@link SoftwareKeyDevice.failOn} fires. */
export interface FailureOptions {
  /** Which call of the operation fails, counting from now (1 = the next). Default 1. */
  nth?: number;
  /** Apply the operation before losing the card (the response is lost, not the command). Default false. */
  applied?: boolean;
  /**
   * Never answer (the promise stays pending), as when the host process dies mid-command: tests
   * use it to leave an operation "running" and resume it from the store in a new facade.
   */
  hang?: boolean;
}

interface SlotKey {
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  spki: Uint8Array;
}

const ALL_SLOTS: readonly SlotId[] = [
  "9a",
  "9c",
  "9d",
  "9e",
  ...Array.from({ length: 0x95 - 0x82 + 1 }, (_, i) => (0x82 + i).toString(16)),
];

const HASH_NAMES: Record<HashAlgorithm, string> = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };

function firmwareAtLeast(firmware: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = firmware.split(".").map(Number);
  return a > major || (a === major && b >= minor);
}

function pivError(
  code: ConstructorParameters<typeof CardwrightError>[0],
  message: string,
  details = {},
): CardwrightError {
  return new CardwrightError(code, message, { details });
}

/** A software PIV-like device. Not for production. */
export class SoftwareKeyDevice implements Device {
  readonly identity: DeviceIdentity;
  readonly capabilities: DeviceCapabilities;
  readonly #factoryAdminAlgorithm: ManagementKeyAlgorithm;
  readonly #pinRetries: number;
  readonly #pukRetries: number;

  #pin = PIV_FACTORY_PIN;
  #puk = PIV_FACTORY_PUK;
  #admin: { algorithm: ManagementKeyAlgorithm; key: Uint8Array };
  #pinLeft: number;
  #pukLeft: number;
  #keys = new Map<SlotId, SlotKey>();
  #certs = new Map<SlotId, Uint8Array>();
  #identifiers: CardIdentifiers | undefined;
  // Session state, lost when the card is removed.
  #adminAuthenticated = false;
  #pinVerified = false;
  #present = true;
  #failures: Array<{ op: DeviceOperation; remaining: number; applied: boolean; hang: boolean }> = [];
  /** Names of the operations called, in order (no arguments: they may be secrets). */
  readonly calls: DeviceOperation[] = [];

  constructor(options: SoftwareKeyDeviceOptions = {}) {
    const firmware = options.firmware ?? "5.7.1";
    this.identity = {
      serial: options.serial ?? randomBytes(4).readUInt32BE(0).toString(),
      type: "piv",
      model: options.model ?? "Software PIV device",
      firmware,
      reader: "software",
    };
    this.capabilities = {
      keyAlgorithms: ["RSA2048", "RSA3072", "ECCP256", "ECCP384"],
      slots: ALL_SLOTS,
      pinChange: true,
      pinUnblock: true,
      reset: true,
      adminCredentialChange: true,
      attestation: false,
      keyImport: true,
      cardIdentifiers: true,
      pinRetries: options.pinRetries ?? 3,
      ...options.capabilities,
    };
    this.#factoryAdminAlgorithm = firmwareAtLeast(firmware, 5, 7) ? "AES192" : "TDES";
    this.#pinRetries = options.pinRetries ?? 3;
    this.#pukRetries = options.pukRetries ?? 3;
    this.#pinLeft = this.#pinRetries;
    this.#pukLeft = this.#pukRetries;
    this.#admin = { algorithm: this.#factoryAdminAlgorithm, key: Buffer.from(PIV_FACTORY_MANAGEMENT_KEY, "hex") };
  }

  /** Lose the card at the `nth` call of `op` (see {@link FailureOptions}). */
  failOn(op: DeviceOperation, options: FailureOptions = {}): void {
    this.#failures.push({
      op,
      remaining: options.nth ?? 1,
      applied: options.applied ?? false,
      hang: options.hang ?? false,
    });
  }

  /** Pull the card out: every call fails with `APDU_CARD_REMOVED` until {@link insertCard}. */
  removeCard(): void {
    this.#present = false;
    this.#adminAuthenticated = false;
    this.#pinVerified = false;
  }

  /** Put the card back; like a real card, it has forgotten PIN and admin authentication. */
  insertCard(): void {
    this.#present = true;
    this.#adminAuthenticated = false;
    this.#pinVerified = false;
  }

  /** Test inspection: the current management key as hex, to check it never reaches the store. */
  currentAdminKeyHex(): string {
    return Buffer.from(this.#admin.key).toString("hex");
  }

  /** Test inspection: PIN and PUK currently set. */
  currentPinAndPuk(): { pin: string; puk: string } {
    return { pin: this.#pin, puk: this.#puk };
  }

  async #op<T>(op: DeviceOperation, body: () => T | Promise<T>): Promise<T> {
    this.calls.push(op);
    if (!this.#present) throw pivError("APDU_CARD_REMOVED", "the card was removed from the reader", { operation: op });
    const failure = this.#failures.find((f) => f.op === op);
    if (failure !== undefined && --failure.remaining === 0) {
      this.#failures.splice(this.#failures.indexOf(failure), 1);
      if (failure.applied) await body();
      if (failure.hang) return new Promise<T>(() => {});
      this.removeCard();
      throw pivError("APDU_CARD_REMOVED", "the card was removed from the reader", { operation: op });
    }
    return body();
  }

  #requireAdmin(op: string): void {
    if (!this.#adminAuthenticated) {
      throw pivError("PIV_SECURITY_STATUS", `${op} needs management key authentication first`, { sw: "6982" });
    }
  }

  #checkPin(pin: string): void {
    if (this.#pinLeft === 0)
      throw pivError("PIV_PIN_BLOCKED", "the PIN is blocked; unblock it with the PUK", { sw: "6983" });
    if (!safeEqual(pin, this.#pin)) {
      this.#pinLeft--;
      this.#pinVerified = false;
      if (this.#pinLeft === 0) throw pivError("PIV_PIN_BLOCKED", "wrong PIN; the PIN is now blocked", { sw: "6983" });
      throw new CardwrightError("PIV_WRONG_PIN", `wrong PIN, ${this.#pinLeft} tries left`, {
        details: { sw: `63C${this.#pinLeft.toString(16).toUpperCase()}`, retriesLeft: this.#pinLeft },
      });
    }
    this.#pinLeft = this.#pinRetries;
  }

  #checkPuk(puk: string): void {
    if (this.#pukLeft === 0) throw pivError("PIV_PIN_BLOCKED", "the PUK is blocked", { sw: "6983", reference: "puk" });
    if (!safeEqual(puk, this.#puk)) {
      this.#pukLeft--;
      throw new CardwrightError("PIV_WRONG_PIN", `wrong PUK, ${this.#pukLeft} tries left`, {
        details: { sw: `63C${this.#pukLeft.toString(16).toUpperCase()}`, retriesLeft: this.#pukLeft, reference: "puk" },
      });
    }
    this.#pukLeft = this.#pukRetries;
  }

  #checkNewPin(pin: string, what: string): void {
    if (pin.length < 6 || pin.length > 8) {
      throw pivError("PIV_WRONG_DATA", `new ${what} must be 6 to 8 characters (SP 800-73-4)`, { sw: "6A80" });
    }
  }

  factoryCredentials(): Promise<FactoryCredentials> {
    return this.#op("factoryCredentials", () => ({
      pin: PIV_FACTORY_PIN,
      puk: PIV_FACTORY_PUK,
      admin: {
        kind: "management-key",
        algorithm: this.#factoryAdminAlgorithm,
        key: new Uint8Array(Buffer.from(PIV_FACTORY_MANAGEMENT_KEY, "hex")),
      },
    }));
  }

  authenticateAdmin(credential: AdminCredential): Promise<void> {
    return this.#op("authenticateAdmin", () => {
      if (
        credential.kind !== "management-key" ||
        credential.algorithm !== this.#admin.algorithm ||
        credential.key.length !== this.#admin.key.length ||
        !timingSafeEqual(credential.key, this.#admin.key)
      ) {
        this.#adminAuthenticated = false;
        throw pivError("PIV_AUTH_FAILED", "management key authentication failed", { sw: "6982" });
      }
      this.#adminAuthenticated = true;
    });
  }

  setAdminCredential(credential: AdminCredential): Promise<void> {
    return this.#op("setAdminCredential", () => {
      this.#requireAdmin("setting the management key");
      if (credential.kind !== "management-key") {
        throw pivError("PIV_UNSUPPORTED", "a PIV card's administrator credential is a management key");
      }
      const expected = { TDES: 24, AES128: 16, AES192: 24, AES256: 32 }[credential.algorithm];
      if (credential.key.length !== expected) {
        throw pivError("PIV_WRONG_DATA", `${credential.algorithm} management keys are ${expected} bytes`, {
          sw: "6A80",
        });
      }
      this.#admin = { algorithm: credential.algorithm, key: new Uint8Array(credential.key) };
    });
  }

  reset(): Promise<void> {
    return this.#op("reset", () => {
      this.#pin = PIV_FACTORY_PIN;
      this.#puk = PIV_FACTORY_PUK;
      this.#pinLeft = this.#pinRetries;
      this.#pukLeft = this.#pukRetries;
      this.#admin = { algorithm: this.#factoryAdminAlgorithm, key: Buffer.from(PIV_FACTORY_MANAGEMENT_KEY, "hex") };
      this.#keys.clear();
      this.#certs.clear();
      this.#identifiers = undefined;
      this.#adminAuthenticated = false;
      this.#pinVerified = false;
    });
  }

  verifyPin(pin: string): Promise<void> {
    return this.#op("verifyPin", () => {
      this.#checkPin(pin);
      this.#pinVerified = true;
    });
  }

  changePin(currentPin: string, newPin: string): Promise<void> {
    return this.#op("changePin", () => {
      this.#checkNewPin(newPin, "PIN");
      this.#checkPin(currentPin);
      this.#pin = newPin;
    });
  }

  changePuk(currentPuk: string, newPuk: string): Promise<void> {
    return this.#op("changePuk", () => {
      this.#checkNewPin(newPuk, "PUK");
      this.#checkPuk(currentPuk);
      this.#puk = newPuk;
    });
  }

  unblockPin(puk: string, newPin: string): Promise<void> {
    return this.#op("unblockPin", () => {
      this.#checkNewPin(newPin, "PIN");
      this.#checkPuk(puk);
      this.#pin = newPin;
      this.#pinLeft = this.#pinRetries;
    });
  }

  pinStatus(): Promise<PinStatus> {
    return this.#op("pinStatus", () => ({
      retriesLeft: this.#pinLeft,
      blocked: this.#pinLeft === 0,
      retriesTotal: this.#pinRetries,
    }));
  }

  writeCardIdentifiers(): Promise<CardIdentifiers> {
    return this.#op("writeCardIdentifiers", () => {
      this.#requireAdmin("writing the CHUID");
      this.#identifiers = { guid: randomBytes(16).toString("hex"), cardId: randomBytes(21).toString("hex") };
      return { ...this.#identifiers };
    });
  }

  generateKeyPair(slot: SlotId, algorithm: KeyAlgorithm): Promise<DevicePublicKey> {
    return this.#op("generateKeyPair", () => {
      this.#requireAdmin("generating a key pair");
      if (!this.capabilities.slots.includes(slot)) throw pivError("PIV_NOT_FOUND", `no key slot ${slot}`, { slot });
      if (!this.capabilities.keyAlgorithms.includes(algorithm)) {
        throw pivError("DEVICE_CAPABILITY", `this device cannot generate ${algorithm} keys`, {
          keyAlgorithm: algorithm,
        });
      }
      const pair =
        algorithm === "ECCP256" || algorithm === "ECCP384"
          ? generateKeyPairSync("ec", { namedCurve: algorithm === "ECCP256" ? "P-256" : "P-384" })
          : generateKeyPairSync("rsa", { modulusLength: algorithm === "RSA2048" ? 2048 : 3072 });
      const spki = new Uint8Array(pair.publicKey.export({ type: "spki", format: "der" }));
      this.#keys.set(slot, { algorithm, privateKey: pair.privateKey, spki });
      return { algorithm, spki: new Uint8Array(spki) };
    });
  }

  /**
   * Import a PKCS #8 private key into `slot`, as a YubiKey's IMPORT ASYMMETRIC KEY does: admin
   * authentication first, a key of `algorithm` only. Absent when `capabilities.keyImport` is false.
   */
  importKeyPair(slot: SlotId, algorithm: KeyAlgorithm, pkcs8: Uint8Array): Promise<DevicePublicKey> {
    return this.#op("importKeyPair", () => {
      if (this.capabilities.keyImport !== true) {
        throw pivError("DEVICE_CAPABILITY", "this device cannot import private keys", {
          capability: "keyImport",
          slot,
        });
      }
      this.#requireAdmin("importing a key pair");
      if (!this.capabilities.slots.includes(slot)) throw pivError("PIV_NOT_FOUND", `no key slot ${slot}`, { slot });
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
      } catch {
        throw pivError("PIV_WRONG_DATA", "the key to import is not a DER PKCS #8 private key", { sw: "6A80", slot });
      }
      if (keyAlgorithmOf(privateKey) !== algorithm) {
        throw pivError("PIV_WRONG_DATA", `the key to import is not an ${algorithm} key`, { sw: "6A80", slot });
      }
      const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
      this.#keys.set(slot, { algorithm, privateKey, spki });
      return { algorithm, spki: new Uint8Array(spki) };
    });
  }

  sign(slot: SlotId, algorithm: KeyAlgorithm, hash: HashAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    return this.#op("sign", () => {
      const key = this.#keys.get(slot);
      if (key === undefined) throw pivError("PIV_NOT_FOUND", `no key in slot ${slot}`, { slot, sw: "6A82" });
      if (key.algorithm !== algorithm) {
        throw pivError("PIV_WRONG_DATA", `slot ${slot} holds a ${key.algorithm} key, not ${algorithm}`, { slot });
      }
      // SP 800-73-4 Part 1 Table 4b: the card authentication key (9E) needs no PIN.
      if (slot !== "9e" && !this.#pinVerified) {
        throw pivError("PIV_SECURITY_STATUS", `signing with slot ${slot} needs the PIN verified first`, { sw: "6982" });
      }
      return new Uint8Array(cryptoSign(HASH_NAMES[hash], data, { key: key.privateKey, dsaEncoding: "der" }));
    });
  }

  writeCertificate(slot: SlotId, certificate: Uint8Array): Promise<void> {
    return this.#op("writeCertificate", () => {
      this.#requireAdmin("writing a certificate");
      if (!this.capabilities.slots.includes(slot)) throw pivError("PIV_NOT_FOUND", `no key slot ${slot}`, { slot });
      this.#certs.set(slot, new Uint8Array(certificate));
    });
  }

  readCertificate(slot: SlotId): Promise<Uint8Array | null> {
    return this.#op("readCertificate", () => {
      const c = this.#certs.get(slot);
      return c === undefined ? null : new Uint8Array(c);
    });
  }

  deleteCertificate(slot: SlotId): Promise<void> {
    return this.#op("deleteCertificate", () => {
      this.#requireAdmin("deleting a certificate");
      this.#certs.delete(slot);
    });
  }

  listObjects(): Promise<DeviceObject[]> {
    return this.#op("listObjects", () => {
      const slots = new Set([...this.#keys.keys(), ...this.#certs.keys()]);
      return [...slots].sort().map((slot) => {
        const key = this.#keys.get(slot);
        const cert = this.#certs.get(slot);
        return {
          slot,
          ...(cert === undefined ? {} : { certificate: new Uint8Array(cert) }),
          ...(key === undefined ? {} : { publicKey: { algorithm: key.algorithm, spki: new Uint8Array(key.spki) } }),
        };
      });
    });
  }

  attest(slot: SlotId): Promise<Uint8Array[]> {
    return this.#op("attest", () => {
      throw new CardwrightError("DEVICE_CAPABILITY", "this software device cannot attest keys", {
        details: { capability: "attestation", slot },
      });
    });
  }

  close(): Promise<void> {
    return this.#op("close", () => {
      this.#adminAuthenticated = false;
      this.#pinVerified = false;
    });
  }
}

function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") {
    return details.modulusLength === 2048 ? "RSA2048" : details.modulusLength === 3072 ? "RSA3072" : undefined;
  }
  if (key.asymmetricKeyType === "ec") {
    return details.namedCurve === "prime256v1" ? "ECCP256" : details.namedCurve === "secp384r1" ? "ECCP384" : undefined;
  }
  return undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}
