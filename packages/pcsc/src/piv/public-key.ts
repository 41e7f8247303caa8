/**
 * Public keys as the card returns them — the public key template 0x7F49 of GENERATE ASYMMETRIC
 * KEY PAIR (SP 800-73-4 Part 2 §3.3.2, Table 10): RSA modulus 0x81 and exponent 0x82, or the
 * EC point 0x86 (uncompressed, SEC 1 §2.3.3) — turned into DER SubjectPublicKeyInfo
 * (RFC 5280 §4.1.2.7). RSA keys go through node:crypto. An EC SPKI is the curve's fixed
 * AlgorithmIdentifier and BIT STRING header (RFC 5480 §2) followed by the point, so it is that
 * constant prefix plus the point once the point is validated (SEC 1 §3.2.2.1); node:crypto's
 * import-and-export round trip cost more than the rest of the card edge per generated key.
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

/** A short-Weierstrass curve y² = x³ − 3x + b over GF(p) (SEC 2 §2.4.2, §2.5.1), with its SPKI prefix. */
interface Curve {
  crv: string;
  /** Field element size in bytes. */
  size: number;
  p: bigint;
  b: bigint;
  /**
   * DER of SEQUENCE { AlgorithmIdentifier { id-ecPublicKey, namedCurve }, BIT STRING header }
   * up to the point (RFC 5480 §2.1.1, §2.2), as node:crypto and OpenSSL export it.
   */
  spkiPrefix: Uint8Array;
}

const CURVES: Readonly<Record<"ECCP256" | "ECCP384", Curve>> = {
  ECCP256: {
    crv: "P-256",
    size: 32,
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    // 30 59, 30 13 (06 07 id-ecPublicKey 1.2.840.10045.2.1, 06 08 prime256v1 1.2.840.10045.3.1.7), 03 42 00
    spkiPrefix: Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"),
  },
  ECCP384: {
    crv: "P-384",
    size: 48,
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    // 30 76, 30 10 (06 07 id-ecPublicKey, 06 05 secp384r1 1.3.132.0.34), 03 62 00
    spkiPrefix: Buffer.from("3076301006072a8648ce3d020106052b81040022036200", "hex"),
  },
};

const toBigInt = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString("hex")}`);

/**
 * SEC 1 §3.2.2.1 public key validation of an affine point: both coordinates are field elements
 * (below p) and satisfy the curve equation. The point at infinity has no uncompressed affine form,
 * and both curves have cofactor 1, so every such point is in the prime-order group (§3.2.3) —
 * the same checks OpenSSL's import made.
 */
function isOnCurve(curve: Curve, xBytes: Uint8Array, yBytes: Uint8Array): boolean {
  const { p, b } = curve;
  const x = toBigInt(xBytes);
  const y = toBigInt(yBytes);
  if (x >= p || y >= p) return false;
  const x2 = (x * x) % p;
  return (y * y) % p === (((x2 * x - 3n * x + b) % p) + p) % p;
}

/**
 * SPKI DER of the public key in `elements` (the TLVs inside 0x7F49, or the same elements from
 * GET METADATA tag 04).
 * @throws BadResponseError when the elements do not form a key of `algorithm`.
 */
export function spkiFromPublicKeyElements(algorithm: PivKeyAlgorithm, elements: Uint8Array): Uint8Array {
  const map = decodeMap(elements);
  if (algorithm !== "RSA2048") {
    const point = map.get(Tag.ecPoint);
    const curve = CURVES[algorithm];
    const { crv, size } = curve;
    if (point === undefined || point.length !== 1 + 2 * size || point[0] !== 0x04) {
      throw new BadResponseError(`${algorithm} public key is not an uncompressed ${crv} point`);
    }
    if (!isOnCurve(curve, point.subarray(1, 1 + size), point.subarray(1 + size))) {
      throw new BadResponseError(`${algorithm} public key is not a valid key`, {
        details: { reason: `the point is not on ${crv}` },
      });
    }
    const spki = new Uint8Array(curve.spkiPrefix.length + point.length);
    spki.set(curve.spkiPrefix);
    spki.set(point, curve.spkiPrefix.length);
    return spki;
  }
  const n = map.get(Tag.rsaModulus);
  const e = map.get(Tag.rsaExponent);
  if (n === undefined || e === undefined) throw new BadResponseError("RSA public key lacks modulus or exponent");
  const modulus = stripLeadingZeros(n);
  if (modulus.length !== 256) throw new BadResponseError(`RSA2048 modulus of ${modulus.length} bytes`);
  const jwk: JsonWebKey = { kty: "RSA", n: B64URL(modulus), e: B64URL(stripLeadingZeros(e)) };
  try {
    return Uint8Array.from(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }));
  } catch (err) {
    throw new BadResponseError(`${algorithm} public key is not a valid key`, { cause: err });
  }
}
