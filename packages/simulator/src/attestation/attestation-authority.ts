/**
 * The simulator's stand-in for Yubico's PIV attestation root CA: a root key and self-signed
 * certificate, per simulator, that issues each virtual card's attestation (F9) certificate —
 * the intermediate under which the card signs slot attestations (Yubico, "PIV attestation").
 * Verifiers trust this root the way they trust Yubico's in production.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { CardwrightError } from "@cardwright/core";
import { caBasicConstraints, caKeyUsage, issueCertificate, parseCertificate } from "./x509-builder.js";

/**
 * JSON form of an {@link AttestationAuthority}. Holds the root private key in clear: a test
 * artefact to be protected like any CA key.
 */
export interface AttestationAuthorityJson {
  format: "cardwright-attestation-authority";
  version: 1;
  /** PKCS #8 DER private key, base64. */
  privateKey: string;
  /** DER root certificate, base64. */
  certificate: string;
}

/** Options for {@link AttestationAuthority.create}. */
export interface AttestationAuthorityOptions {
  /** Root subject common name. */
  commonName?: string;
  /** Root key curve; P-256 by default. */
  curve?: "P-256" | "P-384";
  /** Root validity in years from `now` (default 20). */
  validityYears?: number;
  /** Issue time (default: now). */
  now?: Date;
}

/** What a card tells the authority when it asks for its attestation certificate. */
export interface DeviceAttestationRequest {
  /** The card's attestation (F9) public key. */
  publicKey: KeyObject;
  serial: number;
  firmware: string;
  /** Issue time (default: now). */
  now?: Date;
  /** Validity in years (default 15). */
  validityYears?: number;
}

function addYears(d: Date, years: number): Date {
  const out = new Date(d.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === "public" ? key : createPublicKey(key);
  return new Uint8Array(pub.export({ format: "der", type: "spki" }));
}

let sharedAuthority: Promise<AttestationAuthority> | undefined;

/** A per-simulator attestation root that signs virtual cards' F9 certificates. */
export class AttestationAuthority {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly certificateDer: Uint8Array,
  ) {}

  /** Create a fresh root key and self-signed root certificate. */
  static async create(options: AttestationAuthorityOptions = {}): Promise<AttestationAuthority> {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: options.curve ?? "P-256" });
    const now = options.now ?? new Date();
    const spki = spkiOf(privateKey);
    const certificate = await issueCertificate({
      subjectCommonName: options.commonName ?? "Cardwright Simulator PIV Attestation Root",
      subjectPublicKeyInfo: spki,
      issuerPublicKeyInfo: spki,
      signingKey: privateKey,
      notBefore: new Date(now.getTime() - 24 * 3600 * 1000),
      notAfter: addYears(now, options.validityYears ?? 20),
      extensions: [caBasicConstraints(), caKeyUsage()],
    });
    return new AttestationAuthority(privateKey, certificate);
  }

  /**
   * The process-wide default root, created on first use: what cards created without an explicit
   * authority are attested by, so one trust anchor covers every virtual card of a test run.
   */
  static shared(): Promise<AttestationAuthority> {
    sharedAuthority ??= AttestationAuthority.create();
    return sharedAuthority;
  }

  /**
   * Load from {@link AttestationAuthority.toJSON} output.
   * @throws CardwrightError `CONFIG_INVALID` when the JSON is not an authority or its key does not match.
   */
  static fromJSON(json: AttestationAuthorityJson): AttestationAuthority {
    if (json?.format !== "cardwright-attestation-authority" || json.version !== 1) {
      throw new CardwrightError("CONFIG_INVALID", "not a cardwright attestation authority (format/version mismatch)");
    }
    try {
      const key = createPrivateKey({ key: Buffer.from(json.privateKey, "base64"), format: "der", type: "pkcs8" });
      const cert = new Uint8Array(Buffer.from(json.certificate, "base64"));
      const certSpki = new Uint8Array(parseCertificate(cert).subjectPublicKeyInfo.toSchema().toBER(false));
      if (!Buffer.from(certSpki).equals(Buffer.from(spkiOf(key)))) throw new Error("key does not match certificate");
      return new AttestationAuthority(key, cert);
    } catch (cause) {
      throw new CardwrightError("CONFIG_INVALID", "attestation authority key or certificate is unreadable", { cause });
    }
  }

  /** Read an authority saved with {@link AttestationAuthority.save}. @throws CardwrightError `CONFIG_INVALID`. */
  static async load(path: string): Promise<AttestationAuthority> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (cause) {
      throw new CardwrightError("CONFIG_INVALID", `cannot read attestation authority file ${path}`, { cause });
    }
    return AttestationAuthority.fromJSON(JSON.parse(text) as AttestationAuthorityJson);
  }

  /** JSON form, including the private key in clear (see {@link AttestationAuthorityJson}). */
  toJSON(): AttestationAuthorityJson {
    return {
      format: "cardwright-attestation-authority",
      version: 1,
      privateKey: this.privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
      certificate: Buffer.from(this.certificateDer).toString("base64"),
    };
  }

  /** Write the JSON form to `path` with owner-only permissions. */
  async save(path: string): Promise<void> {
    await writeFile(path, JSON.stringify(this.toJSON(), null, 2), { mode: 0o600 });
  }

  /** DER root certificate (a copy). */
  get certificate(): Uint8Array {
    return Uint8Array.from(this.certificateDer);
  }

  /** PEM root certificate, for trust stores and `openssl verify -CAfile`. */
  get certificatePem(): string {
    const b64 = Buffer.from(this.certificateDer).toString("base64").replace(/.{64}/g, "$&\n");
    return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
  }

  /**
   * Issue a card's attestation (F9) certificate: a CA certificate (path length 0) for the card's
   * attestation key, named after the card's serial.
   */
  async issueDeviceCertificate(request: DeviceAttestationRequest): Promise<Uint8Array> {
    const now = request.now ?? new Date();
    const root = parseCertificate(this.certificateDer);
    return issueCertificate({
      subjectCommonName: `Cardwright Virtual YubiKey PIV Attestation ${request.serial}`,
      issuer: root.subject,
      subjectPublicKeyInfo: spkiOf(request.publicKey),
      issuerPublicKeyInfo: spkiOf(this.privateKey),
      signingKey: this.privateKey,
      notBefore: new Date(now.getTime() - 24 * 3600 * 1000),
      notAfter: addYears(now, request.validityYears ?? 15),
      extensions: [caBasicConstraints(0), caKeyUsage()],
    });
  }
}
