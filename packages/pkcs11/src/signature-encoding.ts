/**
 * What PKCS#11 signing mechanisms produce versus what X.509/PKCS#10 expect:
 * CKM_ECDSA returns the raw `r || s` (Current Mechanisms v2.40 §2.3.1), X.509 wants a DER
 * `ECDSA-Sig-Value` (RFC 5480 §2.2 / RFC 3279 §2.2.3); CKM_RSA_PKCS signs whatever it is given,
 * so the host adds the DigestInfo (RFC 8017 §9.2, step 2) when the token lacks CKM_SHAxxx_RSA_PKCS.
 */
import { createHash } from "node:crypto";
import type { HashAlgorithm } from "@cardwright/core";
import { CardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";

/** DER INTEGER of an unsigned big-endian value. */
function derInteger(bytes: Uint8Array): asn1js.Integer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const u = bytes.subarray(i);
  return new asn1js.Integer({ valueHex: (u[0] ?? 0) & 0x80 ? Uint8Array.of(0, ...u) : u });
}

/**
 * `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` from the raw `r || s` of CKM_ECDSA.
 * @throws CardwrightError `PKCS11_FUNCTION_FAILED` when the length is odd or empty.
 */
export function ecdsaSigValue(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new CardwrightError("PKCS11_FUNCTION_FAILED", `CKM_ECDSA returned ${raw.length} bytes, not r || s`);
  }
  const half = raw.length / 2;
  const seq = new asn1js.Sequence({ value: [derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))] });
  return new Uint8Array(seq.toBER());
}

const NODE_HASH: Readonly<Record<HashAlgorithm, string>> = {
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

/** The digest of `data` with `hash`, computed on the host. */
export function digest(hash: HashAlgorithm, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(NODE_HASH[hash]).update(data).digest());
}

/** DER prefixes of `DigestInfo` per hash (RFC 8017 §9.2, note 1). */
const DIGEST_INFO_PREFIX: Readonly<Record<HashAlgorithm, string>> = {
  "SHA-256": "3031300d060960864801650304020105000420",
  "SHA-384": "3041300d060960864801650304020205000430",
  "SHA-512": "3051300d060960864801650304020305000440",
};

/** `DigestInfo` over `data`: what CKM_RSA_PKCS must sign to give a PKCS#1 v1.5 signature. */
export function digestInfo(hash: HashAlgorithm, data: Uint8Array): Uint8Array {
  return Uint8Array.from([...Buffer.from(DIGEST_INFO_PREFIX[hash], "hex"), ...digest(hash, data)]);
}
