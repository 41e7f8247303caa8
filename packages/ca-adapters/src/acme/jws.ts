/**
 * JSON Web Signature (RFC 7515) in the flattened JSON serialization ACME uses (RFC 8555 §6.2),
 * signed with node:crypto: ES256/ES384 (RFC 7518 §3.4, raw r‖s) and RS256 (§3.3). Also the
 * account key's public JWK (RFC 7517) and its thumbprint (RFC 7638) for key authorizations.
 */
import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject, sign } from "node:crypto";
import { CardwrightError } from "@cardwright/core";

/** The JWS algorithms an account key can use. */
export type JwsAlgorithm = "ES256" | "ES384" | "RS256";

/** A flattened JWS (RFC 7515 §7.2.2). */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** base64url without padding (RFC 7515 §2). */
export function base64url(data: Uint8Array | string): string {
  return (typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data)).toString("base64url");
}

/**
 * JWK thumbprint (RFC 7638 §3): base64url SHA-256 of the JSON of the key type's required members
 * (EC: crv, kty, x, y; RSA: e, kty, n) in lexicographic order, without whitespace.
 * @throws CardwrightError `CONFIG_INVALID` for another key type or a missing member.
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  const members = jwk.kty === "EC" ? ["crv", "kty", "x", "y"] : jwk.kty === "RSA" ? ["e", "kty", "n"] : undefined;
  if (members === undefined || members.some((m) => typeof jwk[m] !== "string")) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      "a JWK thumbprint needs an EC or RSA key with all its required members",
    );
  }
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(",")}}`;
  return createHash("sha256").update(canonical).digest("base64url");
}

/** An ACME account key: the private key, its JWS algorithm and public JWK. */
export class AccountKey {
  readonly algorithm: JwsAlgorithm;
  /** The public JWK with only the members RFC 7638 §3.2 requires, in lexicographic order. */
  readonly jwk: Readonly<Record<string, string>>;
  readonly #key: KeyObject;

  private constructor(key: KeyObject, algorithm: JwsAlgorithm, jwk: Record<string, string>) {
    this.#key = key;
    this.algorithm = algorithm;
    this.jwk = jwk;
  }

  /**
   * Wrap a private key given as a KeyObject, a private JWK or PKCS#8 PEM.
   * @throws CardwrightError `CONFIG_INVALID` when it is not an EC P-256/P-384 or RSA (≥2048) private key.
   */
  static from(key: KeyObject | JsonWebKey | string): AccountKey {
    let privateKey: KeyObject;
    try {
      privateKey =
        typeof key === "string"
          ? createPrivateKey(key)
          : "type" in key && typeof (key as KeyObject).export === "function"
            ? (key as KeyObject)
            : createPrivateKey({ key: key as JsonWebKey, format: "jwk" });
    } catch (err) {
      throw new CardwrightError("CONFIG_INVALID", "the ACME account key is not a readable private key", { cause: err });
    }
    if (privateKey.type !== "private") {
      throw new CardwrightError("CONFIG_INVALID", "the ACME account key must be a private key, not a public one");
    }
    const pub = createPublicKey(privateKey).export({ format: "jwk" });
    if (pub.kty === "EC" && (pub.crv === "P-256" || pub.crv === "P-384")) {
      const jwk = { crv: pub.crv, kty: "EC", x: String(pub.x), y: String(pub.y) };
      return new AccountKey(privateKey, pub.crv === "P-256" ? "ES256" : "ES384", jwk);
    }
    if (pub.kty === "RSA" && (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) {
      return new AccountKey(privateKey, "RS256", { e: String(pub.e), kty: "RSA", n: String(pub.n) });
    }
    throw new CardwrightError(
      "CONFIG_INVALID",
      "the ACME account key must be EC P-256, EC P-384 or RSA of at least 2048 bits",
      { details: { kty: String(pub.kty), crv: pub.crv === undefined ? undefined : String(pub.crv) } },
    );
  }

  /** JWK thumbprint of the account key (RFC 7638 §3). */
  thumbprint(): string {
    return jwkThumbprint(this.jwk);
  }

  /**
   * Sign `payload` (a JSON value, or `""` for POST-as-GET, RFC 8555 §6.3) with a protected
   * header holding `alg`, `nonce`, `url` and either `kid` (an account URL) or the `jwk`
   * (newAccount, revocation by certificate key; RFC 8555 §6.2).
   */
  sign(payload: unknown, header: { nonce?: string; url: string; kid?: string }): FlattenedJws {
    const protectedHeader: Record<string, unknown> = { alg: this.algorithm };
    if (header.kid === undefined) protectedHeader.jwk = this.jwk;
    else protectedHeader.kid = header.kid;
    if (header.nonce !== undefined) protectedHeader.nonce = header.nonce;
    protectedHeader.url = header.url;
    const protectedB64 = base64url(JSON.stringify(protectedHeader));
    const payloadB64 = payload === "" ? "" : base64url(JSON.stringify(payload));
    const input = Buffer.from(`${protectedB64}.${payloadB64}`, "ascii");
    const signature =
      this.algorithm === "RS256"
        ? sign("sha256", input, this.#key)
        : sign(this.algorithm === "ES256" ? "sha256" : "sha384", input, { key: this.#key, dsaEncoding: "ieee-p1363" });
    return { protected: protectedB64, payload: payloadB64, signature: signature.toString("base64url") };
  }
}
