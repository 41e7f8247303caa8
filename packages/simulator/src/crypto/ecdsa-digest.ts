/**
 * ECDSA signing over a digest the host already computed — what a PIV card does for
 * GENERAL AUTHENTICATE with an EC key (SP 800-73-4 Part 2 §3.2.4; SP 800-78-4 §3.3: the card
 * receives the hash, not the message). Node's crypto always hashes the input itself, so the
 * signature is computed here (SEC 1 v2 §4.1.3) with a deterministic nonce (RFC 6979 §3.2).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import * as asn1js from "asn1js";
import { bigIntToBytes, bytesToBigInt, type CurveParams, invert, mod, multiplyBase } from "./weierstrass.js";

/** RFC 6979 §2.3.2: the leftmost qlen bits of the digest as an integer. */
function bits2int(c: CurveParams, digest: Uint8Array): bigint {
  const qlen = c.size * 8;
  const v = bytesToBigInt(digest);
  const hlen = digest.length * 8;
  return hlen > qlen ? v >> BigInt(hlen - qlen) : v;
}

function hmac(hash: string, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** RFC 6979 §3.2 nonce generation; the HMAC hash follows the curve size (SHA-256 / SHA-384). */
function* deterministicNonces(c: CurveParams, d: bigint, digest: Uint8Array): Generator<bigint> {
  const hash = c.size === 32 ? "sha256" : "sha384";
  const hashLen = c.size;
  const x = bigIntToBytes(d, c.size);
  const h1 = bigIntToBytes(mod(bits2int(c, digest), c.n), c.size);
  let v: Uint8Array = new Uint8Array(hashLen).fill(0x01);
  let k: Uint8Array = new Uint8Array(hashLen);
  k = hmac(hash, k, v, Uint8Array.of(0x00), x, h1);
  v = hmac(hash, k, v);
  k = hmac(hash, k, v, Uint8Array.of(0x01), x, h1);
  v = hmac(hash, k, v);
  for (;;) {
    let t = new Uint8Array(0);
    while (t.length < c.size) {
      v = hmac(hash, k, v);
      const joined = new Uint8Array(t.length + v.length);
      joined.set(t);
      joined.set(v, t.length);
      t = joined;
    }
    const candidate = bits2int(c, t.subarray(0, c.size));
    if (candidate >= 1n && candidate < c.n) yield candidate;
    k = hmac(hash, k, v, Uint8Array.of(0x00));
    v = hmac(hash, k, v);
  }
}

/**
 * Sign `digest` with private scalar `d` on curve `c` (SEC 1 v2 §4.1.3), returning the DER
 * `ECDSA-Sig-Value` (RFC 5480 §2.2 / RFC 3279 §2.2.3) a PIV card returns in tag 82.
 * A digest longer than the curve order is truncated to its leftmost bits, as SEC 1 requires.
 */
export function signDigest(c: CurveParams, d: bigint, digest: Uint8Array): Uint8Array {
  const e = bits2int(c, digest);
  for (const k of deterministicNonces(c, d, digest)) {
    const point = multiplyBase(c, k);
    if (point === null) continue;
    const r = mod(point.x, c.n);
    if (r === 0n) continue;
    const s = mod(invert(k, c.n) * (e + r * d), c.n);
    if (s === 0n) continue;
    const seq = new asn1js.Sequence({ value: [asn1js.Integer.fromBigInt(r), asn1js.Integer.fromBigInt(s)] });
    return new Uint8Array(seq.toBER());
  }
  throw new Error("unreachable: nonce generator is infinite");
}

/** The public point of scalar `d`, as SEC 1 §2.3.3 uncompressed bytes (04 ‖ X ‖ Y). */
export function publicPointOf(c: CurveParams, d: bigint): Uint8Array {
  if (d <= 0n || d >= c.n) throw new RangeError("private scalar out of range");
  const q = multiplyBase(c, d);
  if (q === null) throw new RangeError("private scalar yields the point at infinity");
  const out = new Uint8Array(1 + 2 * c.size);
  out[0] = 0x04;
  out.set(bigIntToBytes(q.x, c.size), 1);
  out.set(bigIntToBytes(q.y, c.size), 1 + c.size);
  return out;
}

/** Constant-time equality of two byte strings of possibly different lengths. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
