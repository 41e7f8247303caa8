/**
 * Arithmetic on the NIST prime curves P-256 and P-384 (FIPS 186-4 §D.1.2.3 and §D.1.2.4,
 * SEC 1 v2 §2.2), in Jacobian coordinates over BigInt. The card needs it for two things node's
 * crypto cannot do: ECDSA over a digest the host computed (see `ecdsa-digest.ts`) and deriving
 * the public point of an imported private scalar.
 */

/** Domain parameters of a short Weierstrass curve y² = x³ − 3x + b over GF(p). */
export interface CurveParams {
  /** Node/JWK name of the curve. */
  readonly name: "P-256" | "P-384";
  readonly p: bigint;
  readonly b: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  /** Field element size in bytes. */
  readonly size: number;
}

/** P-256 (secp256r1), FIPS 186-4 §D.1.2.3. */
export const P256: CurveParams = {
  name: "P-256",
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  size: 32,
};

/** P-384 (secp384r1), FIPS 186-4 §D.1.2.4. */
export const P384: CurveParams = {
  name: "P-384",
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
  b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
  gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  size: 48,
};

/** An affine point; `null` is the point at infinity. */
export type AffinePoint = { x: bigint; y: bigint } | null;

interface Jacobian {
  x: bigint;
  y: bigint;
  z: bigint;
}

/** a mod m, always non-negative. */
export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm; `m` must be prime to `a`. */
export function invert(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError("value is not invertible");
  return mod(oldS, m);
}

const INFINITY: Jacobian = { x: 1n, y: 1n, z: 0n };

// Doubling for a = −3 (EFD "dbl-2001-b").
function double(c: CurveParams, q: Jacobian): Jacobian {
  if (q.z === 0n || q.y === 0n) return INFINITY;
  const { p } = c;
  const delta = mod(q.z * q.z, p);
  const gamma = mod(q.y * q.y, p);
  const beta = mod(q.x * gamma, p);
  const alpha = mod(3n * (q.x - delta) * (q.x + delta), p);
  const x = mod(alpha * alpha - 8n * beta, p);
  const z = mod((q.y + q.z) ** 2n - gamma - delta, p);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, p);
  return { x, y, z };
}

// General addition (EFD "add-2007-bl").
function add(c: CurveParams, a: Jacobian, b: Jacobian): Jacobian {
  if (a.z === 0n) return b;
  if (b.z === 0n) return a;
  const { p } = c;
  const z1z1 = mod(a.z * a.z, p);
  const z2z2 = mod(b.z * b.z, p);
  const u1 = mod(a.x * z2z2, p);
  const u2 = mod(b.x * z1z1, p);
  const s1 = mod(a.y * b.z * z2z2, p);
  const s2 = mod(b.y * a.z * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(c, a) : INFINITY;
  const h = mod(u2 - u1, p);
  const i = mod(4n * h * h, p);
  const j = mod(h * i, p);
  const r = mod(2n * (s2 - s1), p);
  const v = mod(u1 * i, p);
  const x = mod(r * r - j - 2n * v, p);
  const y = mod(r * (v - x) - 2n * s1 * j, p);
  const z = mod(((a.z + b.z) ** 2n - z1z1 - z2z2) * h, p);
  return { x, y, z };
}

function toAffine(c: CurveParams, q: Jacobian): AffinePoint {
  if (q.z === 0n) return null;
  const zi = invert(q.z, c.p);
  const zi2 = mod(zi * zi, c.p);
  return { x: mod(q.x * zi2, c.p), y: mod(q.y * zi2 * zi, c.p) };
}

/** k·G, by double-and-add. Timing leaks k: acceptable for a test card, never for a real one. */
export function multiplyBase(c: CurveParams, k: bigint): AffinePoint {
  let result = INFINITY;
  let addend: Jacobian = { x: c.gx, y: c.gy, z: 1n };
  let e = mod(k, c.n);
  while (e > 0n) {
    if (e & 1n) result = add(c, result, addend);
    addend = double(c, addend);
    e >>= 1n;
  }
  return toAffine(c, result);
}

/** Big-endian unsigned bytes → BigInt. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** BigInt → big-endian unsigned bytes of exactly `length` bytes. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  if (value < 0n) throw new RangeError("negative value");
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`value does not fit in ${length} bytes`);
  return out;
}
