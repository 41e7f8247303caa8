/**
 * RFC 4210 §5.1.3.3 signature protection: the ProtectedPart signed with the sender's key, the
 * sender's certificate first in extraCerts. Algorithms per RFC 9481 §3: ECDSA and RSA PKCS#1 v1.5
 * with SHA-2.
 */
import { createPublicKey, KeyObject, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { CardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { badResponse, decodeDer, encode } from "./der.js";

/** A hash name as the port's signers take it. */
export type SignatureHash = "SHA-256" | "SHA-384" | "SHA-512";

/** Signs data with a key; EC signatures DER `ECDSA-Sig-Value`, RSA PKCS#1 v1.5. */
export type ProtectionSigner = (data: Uint8Array, hash: SignatureHash) => Promise<Uint8Array>;

const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const CURVE_HASH: Readonly<Record<string, SignatureHash>> = {
  "1.2.840.10045.3.1.7": "SHA-256",
  "1.3.132.0.34": "SHA-384",
  "1.3.132.0.35": "SHA-512",
};

/** Signature algorithms: OID → key type, hash, and whether parameters are NULL (RFC 4055) or absent (RFC 5758). */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { key: "ec" | "rsa"; hash: SignatureHash }>> = {
  "1.2.840.10045.4.3.2": { key: "ec", hash: "SHA-256" },
  "1.2.840.10045.4.3.3": { key: "ec", hash: "SHA-384" },
  "1.2.840.10045.4.3.4": { key: "ec", hash: "SHA-512" },
  "1.2.840.113549.1.1.11": { key: "rsa", hash: "SHA-256" },
  "1.2.840.113549.1.1.12": { key: "rsa", hash: "SHA-384" },
  "1.2.840.113549.1.1.13": { key: "rsa", hash: "SHA-512" },
};

function signatureOid(key: "ec" | "rsa", hash: SignatureHash): string {
  const found = Object.entries(SIGNATURE_ALGORITHMS).find(([, v]) => v.key === key && v.hash === hash);
  if (found === undefined) throw new TypeError(`no ${key} signature with ${hash}`);
  return found[0];
}

/** The hash of a certificate's own signature algorithm (certConf certHash, RFC 4210 §5.3.18). */
export function certificateSignatureHash(certificate: pkijs.Certificate): SignatureHash {
  const alg = SIGNATURE_ALGORITHMS[certificate.signatureAlgorithm.algorithmId];
  if (alg === undefined) {
    throw badResponse(
      `the issued certificate is signed with ${certificate.signatureAlgorithm.algorithmId}, whose hash cmp2000 certConf cannot name`,
    );
  }
  return alg.hash;
}

/**
 * The protectionAlg to sign with a certificate's key: ECDSA with the curve's hash, RSA with SHA-256.
 * @throws CardwrightError `CONFIG_INVALID` for a key type cardwright does not sign CMP messages with.
 */
export function protectionAlgorithmFor(certificate: pkijs.Certificate): {
  algorithm: pkijs.AlgorithmIdentifier;
  hash: SignatureHash;
} {
  const spki = certificate.subjectPublicKeyInfo.algorithm;
  if (spki.algorithmId === EC_PUBLIC_KEY) {
    const curve =
      spki.algorithmParams instanceof asn1js.ObjectIdentifier ? spki.algorithmParams.valueBlock.toString() : "";
    const hash = CURVE_HASH[curve];
    if (hash !== undefined) {
      return { algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: signatureOid("ec", hash) }), hash };
    }
  } else if (spki.algorithmId === RSA_ENCRYPTION) {
    return {
      algorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: signatureOid("rsa", "SHA-256"),
        algorithmParams: new asn1js.Null(),
      }),
      hash: "SHA-256",
    };
  }
  throw new CardwrightError(
    "CONFIG_INVALID",
    `cmp: the signing certificate's key (${spki.algorithmId}) is not ECDSA P-256/P-384/P-521 or RSA`,
  );
}

/** A {@link ProtectionSigner} over a WebCrypto private key (ECDSA or RSASSA-PKCS1-v1_5). */
export function cryptoKeySigner(privateKey: CryptoKey): ProtectionSigner {
  const key = KeyObject.from(privateKey);
  return async (data, hash) => new Uint8Array(nodeSign(hash.toLowerCase().replace("-", ""), data, key));
}

/**
 * Verify a received signature protection with the public key of `signer` (a pinned CA certificate).
 * @throws CardwrightError `CA_BAD_RESPONSE` for an algorithm cardwright does not accept.
 */
export function verifySignatureProtection(
  signer: pkijs.Certificate,
  algorithm: pkijs.AlgorithmIdentifier,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const alg = SIGNATURE_ALGORITHMS[algorithm.algorithmId];
  if (alg === undefined) throw badResponse(`protection algorithm ${algorithm.algorithmId} is not supported`);
  const publicKey = createPublicKey({
    key: Buffer.from(encode(signer.subjectPublicKeyInfo.toSchema())),
    format: "der",
    type: "spki",
  });
  if ((publicKey.asymmetricKeyType === "ec") !== (alg.key === "ec")) return false;
  return nodeVerify(alg.hash.toLowerCase().replace("-", ""), data, publicKey, signature);
}

/**
 * Parse a DER certificate.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is not one.
 */
export function parseCertificateDer(der: Uint8Array, what: string): pkijs.Certificate {
  try {
    return new pkijs.Certificate({ schema: decodeDer(der, what) });
  } catch (err) {
    if (err instanceof CardwrightError) throw err;
    throw badResponse(`${what} is not an X.509 certificate`, err);
  }
}
