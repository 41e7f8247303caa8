/**
 * Public keys as the card returns them — the public key template 0x7F49 of GENERATE ASYMMETRIC
 * KEY PAIR (SP 800-73-4 Part 2 §3.3.2, Table 10): RSA modulus 0x81 and exponent 0x82, or the
 * EC point 0x86 (uncompressed, SEC 1 §2.3.3) — turned into DER SubjectPublicKeyInfo
 * (RFC 5280 §4.1.2.7) by node:crypto, never by hand-written ASN.1.
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { BadResponseError } from "../errors.js";
import { decodeMap } from "../tlv.js";
import type { PivKeyAlgorithm } from "./algorithms.js";
import { Tag } from "./constants.js";

const B64URL = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

const CURVES = {
  ECCP256: { crv: "P-256", size: 32 },
  ECCP384: { crv: "P-384", size: 48 },
} as const;

/**
 * SPKI DER of the public key in `elements` (the TLVs inside 0x7F49, or the same elements from
 * GET METADATA tag 04).
 * @throws BadResponseError when the elements do not form a key of `algorithm`.
 */
export function spkiFromPublicKeyElements(algorithm: PivKeyAlgorithm, elements: Uint8Array): Uint8Array {
  const map = decodeMap(elements);
  let jwk: JsonWebKey;
  if (algorithm === "RSA2048") {
    const n = map.get(Tag.rsaModulus);
    const e = map.get(Tag.rsaExponent);
    if (n === undefined || e === undefined) throw new BadResponseError("RSA public key lacks modulus or exponent");
    const modulus = stripLeadingZeros(n);
    if (modulus.length !== 256) throw new BadResponseError(`RSA2048 modulus of ${modulus.length} bytes`);
    jwk = { kty: "RSA", n: B64URL(modulus), e: B64URL(stripLeadingZeros(e)) };
  } else {
    const point = map.get(Tag.ecPoint);
    const { crv, size } = CURVES[algorithm];
    if (point === undefined || point.length !== 1 + 2 * size || point[0] !== 0x04) {
      throw new BadResponseError(`${algorithm} public key is not an uncompressed ${crv} point`);
    }
    jwk = { kty: "EC", crv, x: B64URL(point.subarray(1, 1 + size)), y: B64URL(point.subarray(1 + size)) };
  }
  try {
    return Uint8Array.from(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }));
  } catch (err) {
    throw new BadResponseError(`${algorithm} public key is not a valid key`, { cause: err });
  }
}
