/**
 * Private key components for Yubico's IMPORT ASYMMETRIC KEY (INS FE): a PKCS #8 key (RFC 5958)
 * becomes the CRT components an RSA import carries in tags 01–05 (p, q, d mod (p−1),
 * d mod (q−1), q⁻¹ mod p, each left-padded to half the modulus) or the EC private scalar of tag
 * 06 (left-padded to the field size), as Yubico's PIV documentation ("Import asymmetric key")
 * and yubikit (`piv.py`, `put_key`) encode them.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { CardwrightError } from "@cardwright/core";
import type { PivKeyAlgorithm } from "./algorithms.js";

/** Components of a private key as IMPORT ASYMMETRIC KEY sends them. Secret: zero after use. */
export type ImportKeyComponents =
  | { kind: "rsa"; p: Uint8Array; q: Uint8Array; dp: Uint8Array; dq: Uint8Array; qi: Uint8Array }
  | { kind: "ec"; scalar: Uint8Array };

/** A key ready for import: its components and the public half the card will hold. */
export interface PreparedImportKey {
  components: ImportKeyComponents;
  /** DER SubjectPublicKeyInfo of the key (RFC 5280 §4.1.2.7). */
  spki: Uint8Array;
}

const RSA_BITS: Readonly<Record<string, number>> = { RSA2048: 2048 };
const EC_CURVES: Readonly<Record<string, { curve: string; size: number }>> = {
  ECCP256: { curve: "prime256v1", size: 32 },
  ECCP384: { curve: "secp384r1", size: 48 },
};
/** YubiKeys import RSA keys with the public exponent 65537 only (Yubico PIV "Import asymmetric key"). */
const F4 = "AQAB";

function keyError(message: string, details: Record<string, string | number>): CardwrightError {
  return new CardwrightError("PIV_WRONG_DATA", message, { details });
}

/** Base64url integer left-padded to `length` bytes, refusing a value that does not fit. */
function fixed(b64url: string | undefined, length: number, what: string): Uint8Array {
  if (b64url === undefined) throw keyError(`the private key has no ${what}`, { component: what });
  const raw = Buffer.from(b64url, "base64url");
  let start = 0;
  while (start < raw.length - 1 && raw[start] === 0) start++;
  if (raw.length - start > length) {
    raw.fill(0);
    throw keyError(`${what} is longer than ${length} bytes`, { component: what });
  }
  const out = new Uint8Array(length);
  out.set(raw.subarray(start), length - (raw.length - start));
  raw.fill(0);
  return out;
}

/**
 * Split a PKCS #8 private key into the components IMPORT ASYMMETRIC KEY carries, checking that
 * it is a key of `algorithm` (RSA-2048 with e = 65537, P-256 or P-384).
 * @throws CardwrightError `PIV_WRONG_DATA` when the key is not PKCS #8, not of `algorithm`, or uses
 * an exponent YubiKeys refuse. Messages never carry key material.
 */
export function prepareImportKey(algorithm: PivKeyAlgorithm, pkcs8: Uint8Array): PreparedImportKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({
      key: Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength),
      format: "der",
      type: "pkcs8",
    });
  } catch {
    throw keyError("the key to import is not a DER PKCS #8 private key", { algorithm });
  }
  const spki = new Uint8Array(createPublicKey(key).export({ format: "der", type: "spki" }));
  const details = key.asymmetricKeyDetails ?? {};
  const bits = RSA_BITS[algorithm];
  if (bits !== undefined) {
    if (key.asymmetricKeyType !== "rsa" || details.modulusLength !== bits) {
      throw keyError(`the key to import is not an ${algorithm} key`, { algorithm });
    }
    const jwk = key.export({ format: "jwk" });
    if (jwk.e !== F4) throw keyError("YubiKeys import RSA keys with public exponent 65537 only", { algorithm });
    const half = bits / 16;
    return {
      spki,
      components: {
        kind: "rsa",
        p: fixed(jwk.p, half, "p"),
        q: fixed(jwk.q, half, "q"),
        dp: fixed(jwk.dp, half, "dp"),
        dq: fixed(jwk.dq, half, "dq"),
        qi: fixed(jwk.qi, half, "qi"),
      },
    };
  }
  const ec = EC_CURVES[algorithm];
  if (ec === undefined || key.asymmetricKeyType !== "ec" || details.namedCurve !== ec.curve) {
    throw keyError(`the key to import is not an ${algorithm} key`, { algorithm });
  }
  const jwk = key.export({ format: "jwk" });
  return { spki, components: { kind: "ec", scalar: fixed(jwk.d, ec.size, "d") } };
}

/** Overwrite every component with zeros once sent. */
export function zeroImportKey(components: ImportKeyComponents): void {
  if (components.kind === "ec") {
    components.scalar.fill(0);
    return;
  }
  for (const part of [components.p, components.q, components.dp, components.dq, components.qi]) part.fill(0);
}
