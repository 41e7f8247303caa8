/**
 * `Pkcs11Device`: the core `Device` port over one PKCS#11 token. Slots are CKA_IDs (hex): a key
 * pair and its certificate share the CKA_ID, the way OpenSC, p11-kit and browsers link them.
 * The administrator is the Security Officer (SO PIN); the token enforces who may do what, and
 * this class logs in as the role each call needs (PKCS#11 allows one login state per token and
 * application, Base v2.40 §5.6), with the SO PIN and user PIN it was given and that the token
 * accepted — kept in memory for this device only and dropped on {@link Pkcs11Device.close}.
 */
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
  type SlotId,
} from "@cardwright/core";
import type { Attribute, Handle, Mechanism, PKCS11, Template } from "pkcs11js";
import { Certificate } from "pkijs";
import { Attr, CertificateType, KeyType, Mech, ObjectClass, SessionFlag, TokenFlag, UserType } from "./constants.js";
import { capabilityError, isCkr, pkcs11Error } from "./errors.js";
import type { LoadedModule } from "./module-registry.js";
import { CURVE_FIELD_BYTES, curveOf, ecParamsFor, ecSpki, rsaAlgorithmOf, rsaSpki } from "./public-key.js";
import { digest, digestInfo, ecdsaSigValue } from "./signature-encoding.js";
import { isInitialised, padLabel, pinStatusOf } from "./token-info.js";

/** Everything a {@link Pkcs11Device} needs from its provider. */
export interface Pkcs11DeviceInit {
  module: LoadedModule;
  /** Finds the token's current slot handle by serial (slot ids may change, e.g. after C_InitToken). */
  findSlot: (serial: string) => Handle;
  identity: DeviceIdentity;
  capabilities: DeviceCapabilities;
  /** Mechanisms the token lists, for choosing how to sign. */
  mechanisms: ReadonlySet<number>;
  /** Key algorithms the token can sign with (a superset of what it generates). */
  signAlgorithms: readonly KeyAlgorithm[];
  /** SO PIN the token was personalised with (see `Pkcs11ProviderOptions.initialSoPin`). Secret. */
  initialSoPin?: string;
  /** User PIN the token was personalised with. Secret. */
  initialUserPin?: string;
  /** CKA_LABEL of generated keys and written certificates, per slot. */
  objectLabel: (slot: SlotId) => string;
  /** Called once by {@link Pkcs11Device.close}. */
  onClose: () => void;
}

type Role = "so" | "user";

const RSA_BITS: Readonly<Record<"RSA2048" | "RSA3072", number>> = { RSA2048: 2048, RSA3072: 3072 };
const RSA_PKCS_HASH_MECH: Readonly<Record<HashAlgorithm, number>> = {
  "SHA-256": Mech.sha256RsaPkcs,
  "SHA-384": Mech.sha384RsaPkcs,
  "SHA-512": Mech.sha512RsaPkcs,
};
const F4 = Uint8Array.of(0x01, 0x00, 0x01);

const slotBytes = (slot: SlotId): Buffer => Buffer.from(slot, "hex");
const isEc = (a: KeyAlgorithm): a is "ECCP256" | "ECCP384" => a === "ECCP256" || a === "ECCP384";

/** A PKCS#11 token as a cardwright `Device`. */
export class Pkcs11Device implements Device {
  readonly identity: DeviceIdentity;
  readonly capabilities: DeviceCapabilities;
  readonly #init: Pkcs11DeviceInit;
  readonly #lib: PKCS11;
  #slot: Handle;
  #session: Handle | undefined;
  #loggedIn: Role | undefined;
  /** SO PIN the token accepted in this device's lifetime. Secret, memory only. */
  #soPin: string | undefined;
  /** User PIN the token accepted in this device's lifetime. Secret, memory only. */
  #userPin: string | undefined;
  #closed = false;
  /** Serialises calls: the login state is shared by every session of the token. */
  #queue: Promise<unknown> = Promise.resolve();

  /** Use {@link Pkcs11DeviceProvider.open}. */
  constructor(slot: Handle, init: Pkcs11DeviceInit) {
    this.#init = init;
    this.#lib = init.module.lib;
    this.#slot = slot;
    this.identity = init.identity;
    this.capabilities = init.capabilities;
  }

  // ------------------------------------------------------------ credentials

  /**
   * The SO PIN and user PIN the token was set up with. PKCS#11 has no factory PINs: whoever
   * ran C_InitToken chose them, so they come from the provider options `initialSoPin` and
   * `initialUserPin`. The PUK is the SO PIN (C_InitPIN by the SO unblocks the user PIN).
   * @throws CardwrightError `CONFIG_INVALID` when the provider was not given them.
   */
  async factoryCredentials(): Promise<FactoryCredentials> {
    this.#ensureOpen();
    const so = this.#init.initialSoPin;
    const user = this.#init.initialUserPin;
    if (so === undefined || user === undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        "a PKCS#11 token has no factory PINs: pass initialSoPin and initialUserPin to the Pkcs11DeviceProvider",
        { details: { deviceSerial: this.identity.serial } },
      );
    }
    return { pin: user, puk: so, admin: { kind: "so-pin", pin: so } };
  }

  /**
   * Log in as the Security Officer (C_Login CKU_SO).
   * @throws CardwrightError `DEVICE_CAPABILITY` for a management key; `PKCS11_PIN_INCORRECT`
   * (`details.userType` "so"), `PKCS11_PIN_LOCKED`.
   */
  async authenticateAdmin(credential: AdminCredential): Promise<void> {
    const pin = soPinOf(credential);
    await this.#run("logging in as SO", async () => {
      await this.#login("so", pin);
      this.#soPin = pin;
    });
  }

  /** Change the SO PIN (C_SetPIN in an SO session); requires {@link authenticateAdmin}. */
  async setAdminCredential(credential: AdminCredential): Promise<void> {
    const next = soPinOf(credential);
    await this.#run("changing the SO PIN", async () => {
      const session = await this.#as("so");
      this.#call(() => this.#lib.C_SetPIN(session, this.#soPin as string, next), { userType: "so" });
      this.#soPin = next;
    });
  }

  /**
   * Re-initialise the token (C_InitToken with the SO PIN: every object is destroyed, the label
   * kept), then restore the PINs it was set up with: the SO PIN back to `initialSoPin` and the
   * user PIN to `initialUserPin` (C_SetPIN and C_InitPIN as SO). Requires {@link authenticateAdmin}.
   * Graphene's `Slot.initToken` throws a TypeError after C_InitToken succeeded, so the module is
   * called directly.
   * @throws CardwrightError `DEVICE_CAPABILITY` when the token cannot be re-initialised.
   */
  async reset(): Promise<void> {
    if (!this.capabilities.reset) throw capabilityError("this PKCS#11 token cannot be re-initialised (C_InitToken)");
    const factory = await this.factoryCredentials();
    await this.#run("re-initialising the token", async () => {
      const soPin = this.#requirePin("so");
      this.#closeSession();
      this.#call(() => this.#lib.C_InitToken(this.#slot, soPin, padLabel(this.identity.reader ?? "")), {
        userType: "so",
      });
      // SoftHSM2 renumbers slots when tokens are initialised: find ours again by serial.
      this.#slot = this.#init.findSlot(this.identity.serial);
      this.#soPin = soPin;
      const session = await this.#as("so");
      if (factory.admin.kind === "so-pin" && factory.admin.pin !== soPin) {
        this.#call(() => this.#lib.C_SetPIN(session, soPin, (factory.admin as { pin: string }).pin), {
          userType: "so",
        });
      }
      this.#call(() => this.#lib.C_InitPIN(session, factory.pin));
      this.#logout();
      this.#soPin = undefined;
      this.#userPin = undefined;
    });
  }

  // ------------------------------------------------------------ PINs

  /** Log in as the user (C_Login CKU_USER). @throws `PKCS11_PIN_INCORRECT` with `details.retriesLeft`, `PKCS11_PIN_LOCKED`. */
  async verifyPin(pin: string): Promise<void> {
    await this.#run("verifying the PIN", async () => {
      this.#userPin = undefined;
      await this.#login("user", pin);
      this.#userPin = pin;
    });
  }

  /** Change the user PIN (C_SetPIN in a user session, after logging in with `currentPin`). */
  async changePin(currentPin: string, newPin: string): Promise<void> {
    await this.#run("changing the PIN", async () => {
      const session = await this.#loginAs("user", currentPin);
      this.#call(() => this.#lib.C_SetPIN(session, currentPin, newPin));
      this.#userPin = newPin;
    });
  }

  /**
   * PKCS#11 tokens have no PUK: the SO PIN unblocks. Change it with {@link setAdminCredential}.
   * @throws CardwrightError `DEVICE_CAPABILITY` always.
   */
  async changePuk(_currentPuk: string, _newPuk: string): Promise<void> {
    this.#ensureOpen();
    throw capabilityError(
      "a PKCS#11 token has no PUK; its SO PIN unblocks the user PIN and is changed as the admin credential",
    );
  }

  /**
   * Unblock (or set) the user PIN: log in as SO with `puk` — the SO PIN — and C_InitPIN `newPin`.
   * @throws CardwrightError `PKCS11_PIN_INCORRECT` (`details.userType` "so") for a wrong SO PIN.
   */
  async unblockPin(puk: string, newPin: string): Promise<void> {
    await this.#run("unblocking the PIN", async () => {
      const session = await this.#loginAs("so", puk);
      this.#soPin = puk;
      this.#call(() => this.#lib.C_InitPIN(session, newPin));
      this.#userPin = undefined;
    });
  }

  /** PIN state from the token flags (see {@link pinStatusOf}: `retriesLeft` is a lower bound). */
  async pinStatus(): Promise<PinStatus> {
    return this.#run("reading the token flags", async () => pinStatusOf(this.#flags(), this.capabilities.pinRetries));
  }

  /** PKCS#11 tokens keep no card identifiers. @throws CardwrightError `DEVICE_CAPABILITY` always. */
  async writeCardIdentifiers(): Promise<CardIdentifiers> {
    this.#ensureOpen();
    throw capabilityError("a PKCS#11 token keeps no PIV card identifiers (CHUID/CCC)");
  }

  // ------------------------------------------------------------ keys

  /**
   * Generate a key pair on the token as token objects (C_GenerateKeyPair; CKA_TOKEN true,
   * private key CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE) with CKA_ID = the slot bytes,
   * replacing any key pair with that CKA_ID. Private objects are created in a user session, so a
   * verified PIN is required. The public key is read back and returned as an SPKI.
   * @throws CardwrightError `DEVICE_CAPABILITY` for an algorithm or slot the token lacks;
   * `PKCS11_NOT_LOGGED_IN` before {@link verifyPin}.
   */
  async generateKeyPair(slot: SlotId, algorithm: KeyAlgorithm): Promise<DevicePublicKey> {
    const id = this.#slotId(slot);
    this.#checkAlgorithm(algorithm);
    return this.#run(`generating a ${algorithm} key pair in slot ${slot}`, async () => {
      const session = await this.#as("user");
      const label = this.#init.objectLabel(slot);
      const common: Template = [
        { type: Attr.token, value: true },
        { type: Attr.id, value: id },
        { type: Attr.label, value: label },
      ];
      const publicTemplate: Template = [
        ...common,
        { type: Attr.private, value: false },
        { type: Attr.verify, value: true },
      ];
      const privateTemplate: Template = [
        ...common,
        { type: Attr.private, value: true },
        { type: Attr.sensitive, value: true },
        { type: Attr.extractable, value: false },
        { type: Attr.sign, value: true },
      ];
      let mechanism: Mechanism;
      if (isEc(algorithm)) {
        mechanism = { mechanism: Mech.ecKeyPairGen };
        publicTemplate.push({ type: Attr.ecParams, value: Buffer.from(ecParamsFor(algorithm)) });
      } else {
        mechanism = { mechanism: Mech.rsaPkcsKeyPairGen };
        publicTemplate.push(
          { type: Attr.modulusBits, value: RSA_BITS[algorithm] },
          { type: Attr.publicExponent, value: Buffer.from(F4) },
        );
      }
      const previous = [
        ...this.#find(session, [
          { type: Attr.class, value: ObjectClass.privateKey },
          { type: Attr.id, value: id },
        ]),
        ...this.#find(session, [
          { type: Attr.class, value: ObjectClass.publicKey },
          { type: Attr.id, value: id },
        ]),
      ];
      let keys: { publicKey: Handle; privateKey: Handle };
      try {
        keys = await this.#lib.C_GenerateKeyPairAsync(session, mechanism, publicTemplate, privateTemplate);
      } catch (err) {
        throw pkcs11Error(err, "C_GenerateKeyPair", { slot, algorithm });
      }
      // The new pair exists before the old one goes, so a failure never leaves the slot empty-handed.
      for (const handle of previous) this.#call(() => this.#lib.C_DestroyObject(session, handle));
      const publicKey = this.#publicKeyOf(session, keys.publicKey);
      if (publicKey === undefined || publicKey.algorithm !== algorithm) {
        throw new CardwrightError(
          "PKCS11_FUNCTION_FAILED",
          `the token generated a key that is not ${algorithm} in slot ${slot}`,
          { details: { slot, algorithm } },
        );
      }
      return publicKey;
    });
  }

  /**
   * Sign with the private key of `slot` (C_SignInit + C_Sign; the key never leaves the token).
   * EC: hashed on the host, CKM_ECDSA, raw `r || s` DER-encoded (SoftHSM2 2.6 has no
   * CKM_ECDSA_SHA256). RSA: CKM_SHAxxx_RSA_PKCS where listed, else host hash + DigestInfo +
   * CKM_RSA_PKCS. Requires a verified PIN.
   * @throws CardwrightError `PKCS11_OBJECT_NOT_FOUND` when the slot has no private key.
   */
  async sign(slot: SlotId, algorithm: KeyAlgorithm, hash: HashAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    const id = this.#slotId(slot);
    this.#checkAlgorithm(algorithm, this.#init.signAlgorithms, "sign with");
    return this.#run(`signing with the key in slot ${slot}`, async () => {
      const session = await this.#as("user");
      const [key] = this.#find(session, [
        { type: Attr.class, value: ObjectClass.privateKey },
        { type: Attr.id, value: id },
      ]);
      if (key === undefined) {
        throw new CardwrightError("PKCS11_OBJECT_NOT_FOUND", `slot ${slot} has no private key; generate one first`, {
          details: { slot },
        });
      }
      let mechanism: number;
      let input: Uint8Array;
      let outLength: number;
      if (isEc(algorithm)) {
        mechanism = Mech.ecdsa;
        input = digest(hash, data);
        outLength = 2 * CURVE_FIELD_BYTES[algorithm];
      } else {
        const hashMech = RSA_PKCS_HASH_MECH[hash];
        if (this.#init.mechanisms.has(hashMech)) {
          mechanism = hashMech;
          input = data;
        } else {
          mechanism = Mech.rsaPkcs;
          input = digestInfo(hash, data);
        }
        outLength = RSA_BITS[algorithm] / 8;
      }
      this.#call(() => this.#lib.C_SignInit(session, { mechanism }, key), { slot });
      let signature: Buffer;
      try {
        signature = await this.#lib.C_SignAsync(session, Buffer.from(input), Buffer.alloc(outLength));
      } catch (err) {
        throw pkcs11Error(err, "C_Sign", { slot });
      }
      return isEc(algorithm) ? ecdsaSigValue(new Uint8Array(signature)) : new Uint8Array(signature);
    });
  }

  // ------------------------------------------------------------ certificates

  /**
   * Store a DER X.509 certificate as a token object (CKO_CERTIFICATE, CKC_X_509, CKA_VALUE,
   * CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER from the certificate, CKA_ID = slot) replacing the
   * slot's previous certificate. Written in a user session when the PIN was verified, else as SO.
   */
  async writeCertificate(slot: SlotId, certificate: Uint8Array): Promise<void> {
    const id = this.#slotId(slot);
    const parsed = parseX509(certificate, slot);
    await this.#run(`writing the certificate of slot ${slot}`, async () => {
      const session = await this.#asWriter();
      const previous = this.#find(session, [
        { type: Attr.class, value: ObjectClass.certificate },
        { type: Attr.id, value: id },
      ]);
      this.#call(
        () =>
          this.#lib.C_CreateObject(session, [
            { type: Attr.class, value: ObjectClass.certificate },
            { type: Attr.certificateType, value: CertificateType.x509 },
            { type: Attr.token, value: true },
            { type: Attr.private, value: false },
            { type: Attr.id, value: id },
            { type: Attr.label, value: this.#init.objectLabel(slot) },
            { type: Attr.subject, value: parsed.subject },
            { type: Attr.issuer, value: parsed.issuer },
            { type: Attr.serialNumber, value: parsed.serialNumber },
            { type: Attr.value, value: Buffer.from(certificate) },
          ]),
        { slot },
      );
      for (const handle of previous) this.#call(() => this.#lib.C_DestroyObject(session, handle), { slot });
    });
  }

  /** The DER certificate with CKA_ID = slot, or `null`. */
  async readCertificate(slot: SlotId): Promise<Uint8Array | null> {
    const id = this.#slotId(slot);
    return this.#run(`reading the certificate of slot ${slot}`, async () => {
      const session = this.#openSession();
      const [handle] = this.#find(session, [
        { type: Attr.class, value: ObjectClass.certificate },
        { type: Attr.id, value: id },
      ]);
      if (handle === undefined) return null;
      return new Uint8Array(this.#attribute(session, handle, Attr.value));
    });
  }

  /** Destroy the certificate objects with CKA_ID = slot (a slot without one is left as it is). */
  async deleteCertificate(slot: SlotId): Promise<void> {
    const id = this.#slotId(slot);
    await this.#run(`deleting the certificate of slot ${slot}`, async () => {
      const session = await this.#asWriter();
      for (const handle of this.#find(session, [
        { type: Attr.class, value: ObjectClass.certificate },
        { type: Attr.id, value: id },
      ])) {
        this.#call(() => this.#lib.C_DestroyObject(session, handle), { slot });
      }
    });
  }

  /**
   * Every certificate and public key on the token, grouped by CKA_ID (hex) as the slot — including
   * objects cardwright did not write and CKA_IDs outside {@link DeviceCapabilities.slots}. Objects
   * without a CKA_ID are listed under slot `""`. Private keys of a slot without a public key object
   * show when the PIN was verified (private objects are visible only in a user session).
   */
  async listObjects(): Promise<DeviceObject[]> {
    return this.#run("listing the token's objects", async () => {
      const session = this.#userPin !== undefined ? await this.#as("user") : this.#openSession();
      const bySlot = new Map<string, DeviceObject>();
      const entry = (slot: string) => {
        let object = bySlot.get(slot);
        if (object === undefined) {
          object = { slot };
          bySlot.set(slot, object);
        }
        return object;
      };
      for (const handle of this.#find(session, [{ type: Attr.class, value: ObjectClass.certificate }])) {
        const object = entry(this.#idOf(session, handle));
        object.certificate ??= new Uint8Array(this.#attribute(session, handle, Attr.value));
      }
      for (const handle of this.#find(session, [{ type: Attr.class, value: ObjectClass.publicKey }])) {
        const object = entry(this.#idOf(session, handle));
        const publicKey = this.#publicKeyOf(session, handle);
        if (publicKey !== undefined) object.publicKey ??= publicKey;
      }
      for (const handle of this.#find(session, [{ type: Attr.class, value: ObjectClass.privateKey }])) {
        entry(this.#idOf(session, handle));
      }
      return [...bySlot.values()].sort((a, b) => a.slot.localeCompare(b.slot));
    });
  }

  /** PKCS#11 has no key attestation. @throws CardwrightError `DEVICE_CAPABILITY` always. */
  async attest(_slot: SlotId): Promise<Uint8Array[]> {
    this.#ensureOpen();
    throw capabilityError("this PKCS#11 token cannot attest its keys", { slot: _slot });
  }

  /** Log out, close the session and release the module; later calls fail with `DEVICE_NOT_FOUND`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue.catch(() => undefined);
    this.#closed = true;
    try {
      this.#logout();
      this.#closeSession();
    } finally {
      this.#soPin = undefined;
      this.#userPin = undefined;
      this.#init.onClose();
    }
  }

  // ------------------------------------------------------------ private helpers

  /** Run `body` alone (calls are serialised), with `context` added to any error. */
  #run<T>(context: string, body: () => Promise<T>): Promise<T> {
    this.#ensureOpen();
    const next = this.#queue.then(async () => {
      this.#ensureOpen();
      try {
        return await body();
      } catch (err) {
        throw pkcs11Error(err, context, { deviceSerial: this.identity.serial });
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** A synchronous module call; a CKR becomes a CardwrightError. */
  #call<T>(fn: () => T, details: Record<string, string> = {}): T {
    try {
      return fn();
    } catch (err) {
      throw this.#refine(err, details);
    }
  }

  /**
   * A CKR_PIN_INCORRECT gets the retries the token flags still guarantee (and becomes
   * `PKCS11_PIN_LOCKED` when the wrong try locked the PIN).
   */
  #refine(err: unknown, details: Record<string, string>): CardwrightError {
    const error = pkcs11Error(err, "module call", details);
    if (error.code === "PKCS11_PIN_INCORRECT") {
      try {
        const flags = this.#flags();
        const so = details.userType === "so";
        const locked = (flags & (so ? TokenFlag.soPinLocked : TokenFlag.userPinLocked)) !== 0;
        if (!so) error.details.retriesLeft = pinStatusOf(flags, this.capabilities.pinRetries).retriesLeft;
        if (locked) {
          return new CardwrightError("PKCS11_PIN_LOCKED", `the ${so ? "SO " : ""}PIN is now locked`, {
            details: { ...error.details, retriesLeft: 0 },
            cause: error,
          });
        }
      } catch {
        // Flags are a refinement; the wrong-PIN error stands without them.
      }
    }
    return error;
  }

  #flags(): number {
    return this.#call(() => this.#lib.C_GetTokenInfo(this.#slot).flags);
  }

  #ensureOpen(): void {
    if (this.#closed) {
      throw new CardwrightError("DEVICE_NOT_FOUND", "the device was closed; open it again", {
        details: { deviceSerial: this.identity.serial },
      });
    }
  }

  #openSession(): Handle {
    if (this.#session === undefined) {
      const info = this.#call(() => this.#lib.C_GetTokenInfo(this.#slot));
      if (!isInitialised(info)) {
        throw new CardwrightError("PKCS11_TOKEN_NOT_PRESENT", `token ${this.identity.serial} is not initialised`, {
          details: { deviceSerial: this.identity.serial },
        });
      }
      this.#session = this.#call(() =>
        this.#lib.C_OpenSession(this.#slot, SessionFlag.rwSession | SessionFlag.serialSession),
      );
      this.#loggedIn = undefined;
    }
    return this.#session;
  }

  #closeSession(): void {
    if (this.#session === undefined) return;
    const session = this.#session;
    this.#session = undefined;
    this.#loggedIn = undefined;
    try {
      this.#lib.C_CloseSession(session);
    } catch (err) {
      // A session of a removed token is already gone.
      if (!isCkr(err, "CKR_SESSION_HANDLE_INVALID") && !isCkr(err, "CKR_DEVICE_REMOVED")) throw err;
    }
  }

  #logout(): void {
    if (this.#session === undefined || this.#loggedIn === undefined) return;
    const session = this.#session;
    this.#loggedIn = undefined;
    try {
      this.#lib.C_Logout(session);
    } catch (err) {
      if (!isCkr(err, "CKR_USER_NOT_LOGGED_IN")) throw this.#refine(err, {});
    }
  }

  /** C_Login as `role` with `pin`, logging the other role out first. */
  async #login(role: Role, pin: string): Promise<Handle> {
    const session = this.#openSession();
    if (this.#loggedIn !== undefined) this.#logout();
    const userType = role === "so" ? UserType.so : UserType.user;
    try {
      this.#lib.C_Login(session, userType, pin);
    } catch (err) {
      if (isCkr(err, "CKR_USER_ALREADY_LOGGED_IN") || isCkr(err, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN")) {
        // Logged in by another session of this process (login state is per token): start over.
        this.#call(() => this.#lib.C_Logout(session));
        this.#call(() => this.#lib.C_Login(session, userType, pin), { userType: role });
      } else {
        throw this.#refine(err, { userType: role });
      }
    }
    this.#loggedIn = role;
    return session;
  }

  /** A session logged in as `role` with the PIN the token accepted earlier. */
  async #as(role: Role): Promise<Handle> {
    const session = this.#openSession();
    if (this.#loggedIn === role) return session;
    return this.#login(role, this.#requirePin(role));
  }

  /** A session logged in as `role` with `pin`, whatever was logged in before. */
  async #loginAs(role: Role, pin: string): Promise<Handle> {
    return this.#login(role, pin);
  }

  /** Public token objects may be written by the user or the SO; prefer the user. */
  async #asWriter(): Promise<Handle> {
    if (this.#loggedIn !== undefined) return this.#openSession();
    return this.#as(this.#userPin !== undefined ? "user" : "so");
  }

  #requirePin(role: Role): string {
    const pin = role === "so" ? this.#soPin : this.#userPin;
    if (pin === undefined) {
      throw new CardwrightError(
        "PKCS11_NOT_LOGGED_IN",
        role === "so"
          ? "this needs the Security Officer: call authenticateAdmin with the SO PIN first"
          : "this needs the user: call verifyPin first",
        { details: { deviceSerial: this.identity.serial, userType: role } },
      );
    }
    return pin;
  }

  #slotId(slot: SlotId): Buffer {
    if (!/^(?:[0-9a-f]{2})+$/.test(slot)) {
      throw capabilityError(`slot "${slot}" is not a CKA_ID in lowercase hex`, { slot });
    }
    return slotBytes(slot);
  }

  #checkAlgorithm(
    algorithm: KeyAlgorithm,
    supported: readonly KeyAlgorithm[] = this.capabilities.keyAlgorithms,
    verb = "generate",
  ): void {
    if (!supported.includes(algorithm)) {
      throw capabilityError(`this token cannot ${verb} ${algorithm} keys (it can: ${supported.join(", ") || "none"})`, {
        algorithm,
      });
    }
  }

  #find(session: Handle, template: Template): Handle[] {
    return this.#call(() => {
      this.#lib.C_FindObjectsInit(session, template);
      try {
        const found: Handle[] = [];
        for (;;) {
          const batch = this.#lib.C_FindObjects(session, 64);
          if (batch.length === 0) return found;
          found.push(...batch);
        }
      } finally {
        this.#lib.C_FindObjectsFinal(session);
      }
    });
  }

  #attribute(session: Handle, handle: Handle, type: number): Buffer {
    const [attribute] = this.#call(() => this.#lib.C_GetAttributeValue(session, handle, [{ type }]));
    return (attribute as Attribute | undefined)?.value as Buffer;
  }

  #idOf(session: Handle, handle: Handle): string {
    try {
      return Buffer.from(this.#attribute(session, handle, Attr.id) ?? []).toString("hex");
    } catch {
      // An object without CKA_ID (CKR_ATTRIBUTE_TYPE_INVALID) belongs to no slot.
      return "";
    }
  }

  /** The SPKI of a public key object, or `undefined` for a key type or size cardwright does not issue. */
  #publicKeyOf(session: Handle, handle: Handle): DevicePublicKey | undefined {
    const keyType = this.#attribute(session, handle, Attr.keyType).readUIntLE(0, 4);
    if (keyType === KeyType.rsa) {
      const modulus = new Uint8Array(this.#attribute(session, handle, Attr.modulus));
      const exponent = new Uint8Array(this.#attribute(session, handle, Attr.publicExponent));
      const algorithm = rsaAlgorithmOf(modulus);
      return algorithm === undefined ? undefined : rsaSpki(algorithm, modulus, exponent);
    }
    if (keyType === KeyType.ec) {
      const algorithm = curveOf(new Uint8Array(this.#attribute(session, handle, Attr.ecParams)));
      if (algorithm === undefined) return undefined;
      return ecSpki(algorithm, new Uint8Array(this.#attribute(session, handle, Attr.ecPoint)));
    }
    return undefined;
  }
}

function soPinOf(credential: AdminCredential): string {
  if (credential.kind !== "so-pin") {
    throw capabilityError("a PKCS#11 token's administrator credential is an SO PIN, not a management key");
  }
  return credential.pin;
}

/** Subject, issuer and serial number (DER) of a certificate, for the CKO_CERTIFICATE attributes. */
function parseX509(der: Uint8Array, slot: SlotId): { subject: Buffer; issuer: Buffer; serialNumber: Buffer } {
  try {
    const cert = Certificate.fromBER(new Uint8Array(der));
    return {
      subject: Buffer.from(cert.subject.toSchema().toBER()),
      issuer: Buffer.from(cert.issuer.toSchema().toBER()),
      // PKCS#11 §4.6.3: CKA_SERIAL_NUMBER is the DER encoding of the serial number INTEGER.
      serialNumber: Buffer.from(cert.serialNumber.toBER()),
    };
  } catch (err) {
    throw new CardwrightError("CA_BAD_RESPONSE", `the certificate for slot ${slot} is not DER X.509`, {
      details: { slot },
      cause: err instanceof Error ? err : undefined,
    });
  }
}
