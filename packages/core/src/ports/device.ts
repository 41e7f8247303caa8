/**
 * The `Device` port: one card or token in a reader or slot. PIV cards (APDUs), PKCS#11 tokens,
 * software certificate stores and TPM virtual smart cards all implement it, so the lifecycle
 * workflows run unchanged on each. {@link DeviceCapabilities} lets policy refuse early —
 * before anything is generated — when a device cannot do what a policy asks.
 */

/** Kinds of devices cardwright manages. */
export type DeviceType = "piv" | "pkcs11" | "software" | "tpm-vsc";

/** Asymmetric key algorithms a device may generate. */
export type KeyAlgorithm = "RSA2048" | "RSA3072" | "ECCP256" | "ECCP384";

/** Hash used when the device signs. */
export type HashAlgorithm = "SHA-256" | "SHA-384" | "SHA-512";

/**
 * A key slot, device-specific: for PIV the two hex digits of the key reference
 * (`"9a"`, `"9c"`, `"9d"`, `"9e"`, `"82"`…`"95"`); for PKCS#11 the CKA_ID in hex.
 */
export type SlotId = string;

/** Algorithms an administrator key (PIV management key) may use. */
export type ManagementKeyAlgorithm = "TDES" | "AES128" | "AES192" | "AES256";

/** Who the device is. */
export interface DeviceIdentity {
  /** Stable serial (PIV: YubiKey serial or CHUID-derived; PKCS#11: token serial). */
  serial: string;
  type: DeviceType;
  /** Human-readable model, e.g. "YubiKey 5 (virtual)". */
  model: string;
  /** Firmware/applet version where known, e.g. "5.7.1". */
  firmware?: string;
  /** Reader or slot description. */
  reader?: string;
}

/** What a device can do; checked by policy before any I/O that changes the device. */
export interface DeviceCapabilities {
  keyAlgorithms: readonly KeyAlgorithm[];
  /** Slots that can hold a key pair and its certificate. */
  slots: readonly SlotId[];
  /** PIN can be verified/changed. */
  pinChange: boolean;
  /** A PUK (or SO) can unblock the PIN. */
  pinUnblock: boolean;
  /**
   * The unblocking credential is a PUK of its own that can be changed (PIV CHANGE REFERENCE DATA
   * on the PUK). `false` where the administrator credential unblocks (a PKCS#11 SO PIN), so a
   * policy's random PUK cannot apply. Absent means the same as {@link pinUnblock}.
   */
  pukChange?: boolean;
  /** The device can be reset to factory state. */
  reset: boolean;
  /** The administrator credential can be replaced (PIV SET MANAGEMENT KEY, PKCS#11 SO PIN). */
  adminCredentialChange: boolean;
  /** The device can attest that a key was generated on it. */
  attestation: boolean;
  /**
   * A private key generated elsewhere can be imported ({@link Device.importKeyPair}): needed for
   * templates whose keys are archived (`archiveKey`) and for key recovery. Absent means `false`.
   */
  keyImport?: boolean;
  /** The device keeps card identifiers (PIV CHUID/CCC) that issue must refresh. */
  cardIdentifiers: boolean;
  /** Largest single data object in bytes, if bounded. */
  maxObjectSize?: number;
  /** Total storage for data objects in bytes, if bounded. */
  totalStorage?: number;
  /** Default PIN retry count, where fixed by the device. */
  pinRetries?: number;
}

/** The administrator credential of a device. Secret: never log or persist in clear. */
export type AdminCredential =
  | { kind: "management-key"; algorithm: ManagementKeyAlgorithm; key: Uint8Array }
  | { kind: "so-pin"; pin: string };

/** The factory credentials of a freshly reset device. Secret: never log or persist in clear. */
export interface FactoryCredentials {
  pin: string;
  puk?: string;
  admin: AdminCredential;
}

/** PIN state as the device reports it. */
export interface PinStatus {
  retriesLeft: number;
  blocked: boolean;
  /** Total retries configured, where known. */
  retriesTotal?: number;
}

/** A public key the device generated or holds. */
export interface DevicePublicKey {
  algorithm: KeyAlgorithm;
  /** DER-encoded SubjectPublicKeyInfo (RFC 5280). */
  spki: Uint8Array;
}

/** An object found on a device when listing it. */
export interface DeviceObject {
  slot: SlotId;
  /** DER X.509 certificate in the slot, if any. */
  certificate?: Uint8Array;
  /** Public key of the slot's key pair, where the device can tell it. */
  publicKey?: DevicePublicKey;
}

/** Card identifiers written at issue (PIV CHUID/CCC). */
export interface CardIdentifiers {
  /** CHUID GUID as 32 hex digits. */
  guid: string;
  /** CCC card identifier as hex. */
  cardId?: string;
}

/**
 * One open card or token. Methods that change the device require a prior successful
 * {@link Device.authenticateAdmin} (and signing a prior {@link Device.verifyPin}) in the
 * same session, as the device itself enforces.
 *
 * @throws every method throws {@link CardwrightError} with a device-level code
 * (`PIV_*`, `PKCS11_*`, `APDU_CARD_REMOVED`, `DEVICE_CAPABILITY`...).
 */
export interface Device {
  readonly identity: DeviceIdentity;
  readonly capabilities: DeviceCapabilities;

  /** Factory credentials for this model/firmware (e.g. which management key algorithm it ships). */
  factoryCredentials(): Promise<FactoryCredentials>;
  /** Authenticate as the device administrator (PIV management key / PKCS#11 SO). */
  authenticateAdmin(credential: AdminCredential): Promise<void>;
  /** Replace the administrator credential; requires admin authentication. */
  setAdminCredential(credential: AdminCredential): Promise<void>;
  /** Reset to factory state, erasing keys and certificates. */
  reset(): Promise<void>;

  verifyPin(pin: string): Promise<void>;
  changePin(currentPin: string, newPin: string): Promise<void>;
  changePuk(currentPuk: string, newPuk: string): Promise<void>;
  unblockPin(puk: string, newPin: string): Promise<void>;
  pinStatus(): Promise<PinStatus>;

  /** Write fresh card identifiers (PIV: CHUID with a new GUID, and CCC). Requires admin. */
  writeCardIdentifiers(): Promise<CardIdentifiers>;

  /** Generate a key pair in `slot` on the device; the private key never leaves it. Requires admin. */
  generateKeyPair(slot: SlotId, algorithm: KeyAlgorithm): Promise<DevicePublicKey>;
  /**
   * Sign `data` with the key in `slot`. The device (or its host-side edge) hashes with `hash`
   * and applies the padding; the result is encoded as X.509/PKCS#10 expect it: PKCS#1 v1.5
   * for RSA, a DER `ECDSA-Sig-Value` for EC. Requires a verified PIN.
   */
  sign(slot: SlotId, algorithm: KeyAlgorithm, hash: HashAlgorithm, data: Uint8Array): Promise<Uint8Array>;

  /**
   * Import a private key generated off the device into `slot` (PIV: YubiKey IMPORT ASYMMETRIC KEY;
   * PKCS#11: C_CreateObject). Present only when {@link DeviceCapabilities.keyImport} is true.
   * `pkcs8` is secret: implementations must not keep or log it. Requires admin.
   * @returns the imported key's public half.
   */
  importKeyPair?(slot: SlotId, algorithm: KeyAlgorithm, pkcs8: Uint8Array): Promise<DevicePublicKey>;

  /** Store a DER certificate for `slot`. Requires admin. */
  writeCertificate(slot: SlotId, certificate: Uint8Array): Promise<void>;
  /** Read the DER certificate in `slot`, or `null` when the slot has none. */
  readCertificate(slot: SlotId): Promise<Uint8Array | null>;
  /** Remove the certificate of `slot`. Requires admin. */
  deleteCertificate(slot: SlotId): Promise<void>;
  /** Everything found on the device, including certificates cardwright did not write. */
  listObjects(): Promise<DeviceObject[]>;
  /** Attestation chain (leaf first, DER) proving `slot`'s key was generated on-device. */
  attest(slot: SlotId): Promise<Uint8Array[]>;

  /** Release the device (end the session / transaction). */
  close(): Promise<void>;
}

/** Enumerates readers/slots and opens devices. */
export interface DeviceProvider {
  /** Readers or slots with a device present. */
  list(): Promise<DeviceIdentity[]>;
  /** Open a device by serial or reader name; the first present device when omitted. */
  open(selector?: { serial?: string; reader?: string }): Promise<Device>;
  /** Resolve when a device appears (optionally a given serial), or reject after `timeoutMs`. */
  waitForDevice?(options?: { serial?: string; timeoutMs?: number }): Promise<DeviceIdentity>;
}
