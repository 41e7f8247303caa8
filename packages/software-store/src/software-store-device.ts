/**
 * A software certificate store as a cardwright {@link Device}: the "registry card" of card
 * management systems. Keys and certificates live in password-protected PKCS#12 files (RFC 7292),
 * one per slot, in a directory; OpenSSL reads and writes the same files.
 *
 * The store has one secret, its password, set once at creation: every PKCS#12 file is encrypted
 * and MACed with it, and it is both the device's PIN ({@link SoftwareStoreDevice.verifyPin}) and
 * its administrator credential (an `so-pin`). The store is unlocked by opening it with the
 * password, so {@link SoftwareStoreDevice.factoryCredentials} hands back what the opener gave.
 * The store cannot change its password, has no PUK or retry counter, no reset, card identifiers
 * or attestation: those methods throw `DEVICE_CAPABILITY`.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  sign,
  timingSafeEqual,
} from "node:crypto";
import { mkdir, open as openFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
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
  type PinStatus,
  parseCertificate,
  type SlotId,
  spkiEquals,
} from "@cardwright/core";
import { type Pkcs12Contents, type Pkcs12Key, readPkcs12, writePkcs12 } from "./pkcs12.js";
import { corrupt, keyMismatch, missingCapability, slotEmpty, unavailable } from "./store-errors.js";
import { isSlotName, listSlotFiles, readSlotFile, removeSlotFile, slotPath, writeSlotFile } from "./store-files.js";
import {
  checkPassword,
  METADATA_FILE,
  newMetadata,
  readMetadata,
  type StoreMetadata,
  type StoreScope,
} from "./store-metadata.js";

const generateKeyPairAsync = promisify(generateKeyPair);

/** RSA moduli the store generates (bits), by key algorithm. */
const RSA_BITS: Readonly<Partial<Record<KeyAlgorithm, number>>> = { RSA2048: 2048, RSA3072: 3072 };

/** node:crypto digest names of the hashes `sign` accepts. */
const HASH_NAMES: Readonly<Record<HashAlgorithm, string>> = {
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

/**
 * The slots keys are generated in: the PIV key references (NIST SP 800-73-4 Part 1 §3.1, Table
 * 4b) — 9a, 9c, 9d, 9e and the retired 82–95 — so one policy's templates fit PIV cards and
 * software stores alike. Files of other names (third-party imports) are listed and usable too.
 */
export const SOFTWARE_STORE_SLOTS: readonly SlotId[] = [
  "9a",
  "9c",
  "9d",
  "9e",
  ...Array.from({ length: 0x95 - 0x82 + 1 }, (_, i) => (0x82 + i).toString(16)),
];

/** PBKDF2 and MAC iterations a new store uses unless told otherwise. */
export const DEFAULT_ITERATIONS = 100_000;
/** OpenSSL's default (`PKCS12_DEFAULT_ITER`), the least a store accepts. */
export const MIN_ITERATIONS = 2048;

/** What a software store can do (the "registry card" row of commercial CMSs). */
export const SOFTWARE_STORE_CAPABILITIES: DeviceCapabilities = Object.freeze({
  keyAlgorithms: Object.freeze(["RSA2048", "RSA3072"] as KeyAlgorithm[]),
  slots: SOFTWARE_STORE_SLOTS,
  pinChange: false,
  pinUnblock: false,
  reset: false,
  adminCredentialChange: false,
  attestation: false,
  cardIdentifiers: false,
});

/** Options of {@link SoftwareStoreDevice.create}. */
export interface CreateSoftwareStoreOptions {
  /** The store's password (its PIN and admin credential). Secret: never logged or persisted in clear. */
  password: string;
  /** Machine or user store (default `user`). */
  scope?: StoreScope;
  /** PBKDF2 / MAC iterations of the store's files, at least 2048 (default 100 000). */
  iterations?: number;
}

/** Options of {@link SoftwareStoreDevice.open}. */
export interface OpenSoftwareStoreOptions {
  /** The store's password. Secret. */
  password: string;
  /** Refuse a store of another scope. */
  scope?: StoreScope;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa") {
    if (details?.modulusLength === 2048) return "RSA2048";
    if (details?.modulusLength === 3072) return "RSA3072";
  } else if (key.asymmetricKeyType === "ec") {
    if (details?.namedCurve === "prime256v1") return "ECCP256";
    if (details?.namedCurve === "secp384r1") return "ECCP384";
  }
  return undefined;
}

function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
}

/** SHA-1 of the public key's SPKI: the `localKeyId` pairing a slot's key and certificate bags. */
function localKeyId(spki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(spki).digest());
}

/** The certificate of a file's key: the one with the key's localKeyId, else the first. */
function leafCertificate(contents: Pkcs12Contents): Uint8Array | undefined {
  const key = contents.keys[0];
  const id = key?.localKeyId;
  const paired =
    id === undefined
      ? undefined
      : contents.certificates.find((c) => c.localKeyId !== undefined && Buffer.from(c.localKeyId).equals(id));
  return (paired ?? contents.certificates[0])?.der;
}

function importKey(key: Pkcs12Key, file: string): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(key.pkcs8), format: "der", type: "pkcs8" });
  } catch (err) {
    throw corrupt(file, "holds a private key that is not valid PKCS#8", err);
  }
}

function wipe(contents: Pkcs12Contents): void {
  for (const k of contents.keys) k.pkcs8.fill(0);
}

/** A software certificate store opened with its password. */
export class SoftwareStoreDevice implements Device {
  readonly identity: DeviceIdentity;
  readonly capabilities: DeviceCapabilities = SOFTWARE_STORE_CAPABILITIES;
  /** Absolute path of the store directory. */
  readonly directory: string;
  /** Machine or user store. */
  readonly scope: StoreScope;
  readonly #metadata: StoreMetadata;
  #password: string | undefined;
  #admin = false;
  #pinVerified = false;

  private constructor(directory: string, metadata: StoreMetadata, password: string) {
    this.directory = directory;
    this.scope = metadata.scope;
    this.#metadata = metadata;
    this.#password = password;
    this.identity = {
      serial: metadata.serial,
      type: "software",
      model: `cardwright software store (${metadata.scope})`,
      reader: `software store (${metadata.scope}) ${directory}`,
    };
  }

  /**
   * Create a new, empty store in `directory` (created with mode 0700 when missing; it must not
   * already be a store) and open it.
   * @throws CardwrightError `CONFIG_INVALID` for an empty password or too few iterations;
   * `SOFTSTORE_UNAVAILABLE` (reason `exists`, `not-writable`, `io`) when it cannot be created.
   */
  static async create(directory: string, options: CreateSoftwareStoreOptions): Promise<SoftwareStoreDevice> {
    const dir = resolve(directory);
    const iterations = options.iterations ?? DEFAULT_ITERATIONS;
    if (options.password.length === 0) {
      throw new CardwrightError("CONFIG_INVALID", "a software store needs a non-empty password", {
        details: { field: "password" },
      });
    }
    if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) {
      throw new CardwrightError("CONFIG_INVALID", `iterations must be a whole number ≥ ${MIN_ITERATIONS}`, {
        details: { field: "iterations" },
      });
    }
    const metadata = await newMetadata(options.scope ?? "user", options.password, iterations);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
      // "wx" refuses an existing metadata file: never turn an existing store into a new one.
      const handle = await openFile(join(dir, METADATA_FILE), "wx", 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(metadata, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw unavailable(dir, "exists", "is already a software store; open it instead", err);
      if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
        throw unavailable(dir, "not-writable", `cannot be created (${code}); check the parent's permissions`, err);
      }
      throw unavailable(dir, "io", `cannot be created (${code ?? "error"})`, err);
    }
    return new SoftwareStoreDevice(dir, metadata, options.password);
  }

  /**
   * Open the store in `directory` with its password.
   * @throws CardwrightError `SOFTSTORE_UNAVAILABLE` (reason `missing`, `not-a-store`,
   * `scope-mismatch`); `SOFTSTORE_CORRUPT` for damaged metadata; `SOFTSTORE_WRONG_PASSWORD`.
   */
  static async open(directory: string, options: OpenSoftwareStoreOptions): Promise<SoftwareStoreDevice> {
    const dir = resolve(directory);
    const metadata = await readMetadata(dir);
    if (options.scope !== undefined && metadata.scope !== options.scope) {
      throw unavailable(dir, "scope-mismatch", `is a ${metadata.scope} store, not a ${options.scope} store`);
    }
    await checkPassword(metadata, options.password, dir);
    return new SoftwareStoreDevice(dir, metadata, options.password);
  }

  #open(): string {
    if (this.#password === undefined) {
      throw new CardwrightError("DEVICE_NOT_FOUND", `software store ${this.directory} was closed; open it again`, {
        details: { deviceSerial: this.identity.serial },
      });
    }
    return this.#password;
  }

  #requireAdmin(action: string): string {
    const password = this.#open();
    if (!this.#admin) {
      throw new CardwrightError(
        "SOFTSTORE_NOT_AUTHENTICATED",
        `${action} needs administrator authentication; call authenticateAdmin with the store's password first`,
        { details: { deviceSerial: this.identity.serial } },
      );
    }
    return password;
  }

  #slot(slot: SlotId): string {
    if (!isSlotName(slot)) {
      throw missingCapability("slot", `has no slot named "${slot}" (letters, digits, ".", "_", "-")`);
    }
    return slot;
  }

  #generationSlot(slot: SlotId): string {
    if (!this.capabilities.slots.includes(slot)) {
      throw missingCapability(
        "slot",
        `generates keys only in slots ${this.capabilities.slots.join(", ")}, not ${slot}`,
      );
    }
    return slot;
  }

  #rsaBits(algorithm: KeyAlgorithm): number {
    const bits = RSA_BITS[algorithm];
    if (bits === undefined || !this.capabilities.keyAlgorithms.includes(algorithm)) {
      throw missingCapability(
        "keyAlgorithm",
        `holds only ${this.capabilities.keyAlgorithms.join(", ")} keys, not ${algorithm}`,
      );
    }
    return bits;
  }

  async #read(slot: string, password: string): Promise<Pkcs12Contents | null> {
    const bytes = await readSlotFile(this.directory, slot);
    if (bytes === null) return null;
    return readPkcs12(bytes, password, slotPath(this.directory, slot));
  }

  async #write(slot: string, contents: Pkcs12Contents, password: string): Promise<void> {
    const bytes = await writePkcs12(contents, password, { iterations: this.#metadata.iterations });
    await writeSlotFile(this.directory, slot, bytes);
  }

  /** The store's single secret, as PIN and admin credential (see the class comment). */
  async factoryCredentials(): Promise<FactoryCredentials> {
    const password = this.#open();
    return { pin: password, admin: { kind: "so-pin", pin: password } };
  }

  /**
   * Authenticate as administrator with the store's password, as an `so-pin` credential.
   * @throws CardwrightError `DEVICE_CAPABILITY` for a management key; `SOFTSTORE_WRONG_PASSWORD`.
   */
  async authenticateAdmin(credential: AdminCredential): Promise<void> {
    const password = this.#open();
    if (credential.kind !== "so-pin") {
      throw missingCapability("adminCredential", "has no management key; authenticate with its password as an so-pin");
    }
    this.#admin = false;
    if (!sameSecret(credential.pin, password)) {
      throw new CardwrightError(
        "SOFTSTORE_WRONG_PASSWORD",
        `the administrator credential is not the password of software store ${this.directory}`,
        { details: { file: this.directory } },
      );
    }
    this.#admin = true;
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (adminCredentialChange): the password is fixed at creation. */
  async setAdminCredential(_credential: AdminCredential): Promise<void> {
    throw missingCapability("adminCredentialChange", "cannot change its password (the administrator credential)");
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (reset): delete the slots instead. */
  async reset(): Promise<void> {
    throw missingCapability("reset", "cannot be reset to a factory state; delete its slots' files instead");
  }

  /**
   * Verify the store's password as the user PIN. No retry counter limits guesses: the PBKDF2
   * and MAC iterations are what slow an attacker who has the files.
   * @throws CardwrightError `SOFTSTORE_WRONG_PASSWORD`.
   */
  async verifyPin(pin: string): Promise<void> {
    const password = this.#open();
    this.#pinVerified = false;
    if (!sameSecret(pin, password)) {
      throw new CardwrightError(
        "SOFTSTORE_WRONG_PASSWORD",
        `the PIN is not the password of software store ${this.directory}`,
        { details: { file: this.directory } },
      );
    }
    this.#pinVerified = true;
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (pinChange). */
  async changePin(_currentPin: string, _newPin: string): Promise<void> {
    throw missingCapability("pinChange", "cannot change its PIN (its password is fixed at creation)");
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (pinUnblock): the store has no PUK. */
  async changePuk(_currentPuk: string, _newPuk: string): Promise<void> {
    throw missingCapability("pinUnblock", "has no PUK");
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (pinUnblock): the store has no PUK. */
  async unblockPin(_puk: string, _newPin: string): Promise<void> {
    throw missingCapability("pinUnblock", "has no PUK and its PIN never blocks");
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (pinRetries): the store counts no PIN tries. */
  async pinStatus(): Promise<PinStatus> {
    this.#open();
    throw missingCapability("pinRetries", "has no PIN retry counter");
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (cardIdentifiers): the store has no CHUID/CCC. */
  async writeCardIdentifiers(): Promise<CardIdentifiers> {
    throw missingCapability("cardIdentifiers", "keeps no card identifiers (CHUID/CCC)");
  }

  /**
   * Generate an RSA key pair with node:crypto and keep it in `slot`'s PKCS#12 file, encrypted
   * (the private key exists in clear only in memory). A key already in the slot is replaced,
   * with its certificate. Requires admin.
   * @throws CardwrightError `DEVICE_CAPABILITY` (keyAlgorithm, slot); `SOFTSTORE_NOT_AUTHENTICATED`;
   * `SOFTSTORE_UNAVAILABLE`.
   */
  async generateKeyPair(slot: SlotId, algorithm: KeyAlgorithm): Promise<DevicePublicKey> {
    const password = this.#requireAdmin("generating a key pair");
    this.#generationSlot(slot);
    const modulusLength = this.#rsaBits(algorithm);
    const { publicKey, privateKey } = await generateKeyPairAsync("rsa", {
      modulusLength,
      publicExponent: 0x10001,
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "der" },
    });
    const spki = new Uint8Array(publicKey);
    const contents: Pkcs12Contents = {
      keys: [
        {
          pkcs8: new Uint8Array(privateKey.buffer, privateKey.byteOffset, privateKey.byteLength),
          friendlyName: this.#friendlyName(slot),
          localKeyId: localKeyId(spki),
        },
      ],
      certificates: [],
    };
    try {
      await this.#write(slot, contents, password);
    } finally {
      wipe(contents);
    }
    return { algorithm, spki };
  }

  #friendlyName(slot: string): string {
    return `cardwright ${this.scope} store slot ${slot}`;
  }

  /**
   * Sign `data` with the key of `slot`: RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) over `hash`. The key is
   * decrypted in memory for the one signature. Requires a verified PIN.
   * @throws CardwrightError `SOFTSTORE_NOT_AUTHENTICATED`; `SOFTSTORE_SLOT_EMPTY`;
   * `SOFTSTORE_KEY_MISMATCH` when the slot's key is not `algorithm`; `DEVICE_CAPABILITY`;
   * `SOFTSTORE_WRONG_PASSWORD` / `SOFTSTORE_CORRUPT` for the file.
   */
  async sign(slot: SlotId, algorithm: KeyAlgorithm, hash: HashAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    const password = this.#open();
    if (!this.#pinVerified) {
      throw new CardwrightError(
        "SOFTSTORE_NOT_AUTHENTICATED",
        "signing needs the PIN; call verifyPin with the store's password first",
        { details: { deviceSerial: this.identity.serial, slot } },
      );
    }
    this.#slot(slot);
    this.#rsaBits(algorithm);
    const contents = await this.#read(slot, password);
    try {
      const key = contents?.keys[0];
      if (key === undefined) throw slotEmpty(slot, this.directory, "signing");
      const privateKey = importKey(key, slotPath(this.directory, slot));
      const actual = keyAlgorithmOf(privateKey);
      if (actual !== algorithm) {
        throw new CardwrightError(
          "SOFTSTORE_KEY_MISMATCH",
          `slot ${slot} of software store ${this.directory} holds a ${actual ?? "non-RSA-2048/3072"} key, not ${algorithm}`,
          { details: { slot, directory: this.directory, algorithm } },
        );
      }
      return new Uint8Array(sign(HASH_NAMES[hash], data, privateKey));
    } finally {
      if (contents !== null) wipe(contents);
    }
  }

  /**
   * Add `certificate` to the PKCS#12 file of `slot`, next to its key (replacing any earlier
   * certificate). Requires admin.
   * @throws CardwrightError `SOFTSTORE_SLOT_EMPTY` when the slot has no key;
   * `SOFTSTORE_KEY_MISMATCH` when the certificate does not certify it; `SOFTSTORE_*` for the file.
   */
  async writeCertificate(slot: SlotId, certificate: Uint8Array): Promise<void> {
    const password = this.#requireAdmin("writing a certificate");
    this.#slot(slot);
    const summary = parseCertificate(certificate);
    const contents = await this.#read(slot, password);
    try {
      const key = contents?.keys[0];
      if (contents === null || key === undefined) throw slotEmpty(slot, this.directory, "writing a certificate");
      const spki = spkiOf(importKey(key, slotPath(this.directory, slot)));
      if (!spkiEquals(spki, summary.spki)) throw keyMismatch(slot, this.directory);
      const id = key.localKeyId ?? localKeyId(spki);
      const friendlyName = key.friendlyName ?? this.#friendlyName(slot);
      await this.#write(
        slot,
        {
          keys: [{ ...key, localKeyId: id, friendlyName }],
          certificates: [{ der: certificate, localKeyId: id, friendlyName }],
        },
        password,
      );
    } finally {
      if (contents !== null) wipe(contents);
    }
  }

  /**
   * The DER certificate of `slot`'s key, or `null` when the slot has no file or no certificate.
   * @throws CardwrightError `SOFTSTORE_WRONG_PASSWORD` / `SOFTSTORE_CORRUPT` for the file.
   */
  async readCertificate(slot: SlotId): Promise<Uint8Array | null> {
    const password = this.#open();
    this.#slot(slot);
    const contents = await this.#read(slot, password);
    if (contents === null) return null;
    wipe(contents);
    return leafCertificate(contents) ?? null;
  }

  /**
   * Remove the certificate of `slot`, keeping its key; a file holding only certificates is
   * removed. Nothing happens for a slot without a file. Requires admin.
   * @throws CardwrightError `SOFTSTORE_NOT_AUTHENTICATED`; `SOFTSTORE_*` for the file.
   */
  async deleteCertificate(slot: SlotId): Promise<void> {
    const password = this.#requireAdmin("deleting a certificate");
    this.#slot(slot);
    const contents = await this.#read(slot, password);
    if (contents === null) return;
    try {
      if (contents.keys.length === 0) await removeSlotFile(this.directory, slot);
      else await this.#write(slot, { keys: contents.keys, certificates: [] }, password);
    } finally {
      wipe(contents);
    }
  }

  /**
   * Every slot file of the store, including PKCS#12 files placed there by other tools (their
   * slot is the file name without `.p12`): the certificate of the file's key and the key's
   * public half.
   * @throws CardwrightError `SOFTSTORE_WRONG_PASSWORD` for a file under another password;
   * `SOFTSTORE_CORRUPT`; `SOFTSTORE_UNAVAILABLE`.
   */
  async listObjects(): Promise<DeviceObject[]> {
    const password = this.#open();
    const out: DeviceObject[] = [];
    for (const slot of await listSlotFiles(this.directory)) {
      const contents = await this.#read(slot, password);
      if (contents === null) continue; // removed meanwhile
      try {
        const object: DeviceObject = { slot };
        const certificate = leafCertificate(contents);
        if (certificate !== undefined) object.certificate = certificate;
        const key = contents.keys[0];
        if (key !== undefined) {
          const privateKey = importKey(key, slotPath(this.directory, slot));
          const algorithm = keyAlgorithmOf(privateKey);
          if (algorithm !== undefined) object.publicKey = { algorithm, spki: spkiOf(privateKey) };
        }
        out.push(object);
      } finally {
        wipe(contents);
      }
    }
    return out;
  }

  /** @throws CardwrightError `DEVICE_CAPABILITY` (attestation): software keys cannot be attested. */
  async attest(_slot: SlotId): Promise<Uint8Array[]> {
    throw missingCapability("attestation", "cannot attest where a key was generated");
  }

  /** Forget the password and authentication; later calls throw `DEVICE_NOT_FOUND`. */
  async close(): Promise<void> {
    this.#password = undefined;
    this.#admin = false;
    this.#pinVerified = false;
  }
}
