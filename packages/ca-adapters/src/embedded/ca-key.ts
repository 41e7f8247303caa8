/**
 * The CA's own key pair: generation, PKCS#8 (RFC 5208) export and import, and the signature
 * hash each algorithm signs with (RFC 5758 §3.2 pairs P-256 with SHA-256 and P-384 with SHA-384;
 * RSA signs PKCS#1 v1.5 with SHA-256, RFC 8017 §8.2).
 */
import { CardwrightError } from "@cardwright/core";
import { toArrayBuffer } from "./crypto-engine.js";

/** Key algorithms the embedded CA can sign with. */
export type CaKeyAlgorithm = "ECCP256" | "ECCP384" | "RSA2048" | "RSA3072";

/** Hash the CA signs certificates and CRLs with. */
export type CaSignatureHash = "SHA-256" | "SHA-384";

interface AlgorithmSpec {
  params: RsaHashedKeyGenParams | EcKeyGenParams;
  importParams: RsaHashedImportParams | EcKeyImportParams;
  hash: CaSignatureHash;
}

const RSA_EXPONENT = new Uint8Array([0x01, 0x00, 0x01]);

const SPECS: Record<CaKeyAlgorithm, AlgorithmSpec> = {
  ECCP256: {
    params: { name: "ECDSA", namedCurve: "P-256" },
    importParams: { name: "ECDSA", namedCurve: "P-256" },
    hash: "SHA-256",
  },
  ECCP384: {
    params: { name: "ECDSA", namedCurve: "P-384" },
    importParams: { name: "ECDSA", namedCurve: "P-384" },
    hash: "SHA-384",
  },
  RSA2048: {
    params: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: RSA_EXPONENT, hash: "SHA-256" },
    importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    hash: "SHA-256",
  },
  RSA3072: {
    params: { name: "RSASSA-PKCS1-v1_5", modulusLength: 3072, publicExponent: RSA_EXPONENT, hash: "SHA-256" },
    importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    hash: "SHA-256",
  },
};

/** True when `value` names a {@link CaKeyAlgorithm}. */
export function isCaKeyAlgorithm(value: unknown): value is CaKeyAlgorithm {
  return typeof value === "string" && Object.hasOwn(SPECS, value);
}

/** The hash the CA signs with for `algorithm`. */
export function signatureHash(algorithm: CaKeyAlgorithm): CaSignatureHash {
  return SPECS[algorithm].hash;
}

/** Generate an extractable CA key pair (extractable so it can be written as PKCS#8). */
export async function generateCaKeyPair(algorithm: CaKeyAlgorithm): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey(SPECS[algorithm].params, true, ["sign", "verify"]);
}

/** Export a private key as DER PKCS#8 PrivateKeyInfo. */
export async function exportPkcs8(privateKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.exportKey("pkcs8", privateKey));
}

/**
 * Import a DER PKCS#8 private key for `algorithm`.
 * @throws CardwrightError `CONFIG_INVALID` when the key does not parse as that algorithm.
 */
export async function importPkcs8(der: Uint8Array, algorithm: CaKeyAlgorithm): Promise<CryptoKey> {
  try {
    return await globalThis.crypto.subtle.importKey("pkcs8", toArrayBuffer(der), SPECS[algorithm].importParams, true, [
      "sign",
    ]);
  } catch (cause) {
    throw new CardwrightError("CONFIG_INVALID", `the CA private key is not a valid ${algorithm} PKCS#8 key`, {
      details: { keyAlgorithm: algorithm },
      cause,
    });
  }
}
