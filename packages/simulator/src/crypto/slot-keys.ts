/**
 * Asymmetric keys held in PIV key slots: generation (SP 800-73-4 Part 2 §3.3.2), the public key
 * data objects of Part 2 Table 10 (tags 81/82 for RSA, 86 for EC), the raw RSA private operation
 * and EC operations GENERAL AUTHENTICATE performs (§3.2.4), and Yubico's IMPORT ASYMMETRIC KEY
 * component format (RSA CRT parameters 01–05, EC private scalar 06).
 */
import {
  constants,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPair,
  type KeyObject,
  privateDecrypt,
} from "node:crypto";
import { promisify } from "node:util";
import { concat, tlv } from "@cardwright/pcsc";
import { publicPointOf, signDigest } from "./ecdsa-digest.js";
import { bigIntToBytes, bytesToBigInt, type CurveParams, invert, mod, P256, P384 } from "./weierstrass.js";

const generateKeyPairAsync = promisify(generateKeyPair);

/** What an algorithm identifier (SP 800-78-4 Table 6-2) means for key handling. */
export type KeySpec =
  | { kind: "rsa"; bits: 1024 | 2048 | 3072 | 4096; name: "RSA1024" | "RSA2048" | "RSA3072" | "RSA4096" }
  | { kind: "ec"; curve: CurveParams; name: "ECCP256" | "ECCP384" };

/** The key spec for a PIV algorithm byte, or `undefined` when the card has no such key type. */
export function keySpecFor(algorithm: number): KeySpec | undefined {
  switch (algorithm) {
    case 0x06:
      return { kind: "rsa", bits: 1024, name: "RSA1024" };
    case 0x07:
      return { kind: "rsa", bits: 2048, name: "RSA2048" };
    case 0x05:
      return { kind: "rsa", bits: 3072, name: "RSA3072" };
    case 0x16:
      return { kind: "rsa", bits: 4096, name: "RSA4096" };
    case 0x11:
      return { kind: "ec", curve: P256, name: "ECCP256" };
    case 0x14:
      return { kind: "ec", curve: P384, name: "ECCP384" };
    default:
      return undefined;
  }
}

/** A key pair in a slot, with the policies the card enforces for it. */
export interface SlotKey {
  /** PIV algorithm identifier (SP 800-78-4 Table 6-2). */
  algorithm: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Effective PIN policy: 1 never, 2 once, 3 always (Yubico PIN policy values). */
  pinPolicy: number;
  /** Effective touch policy: 1 never, 2 always, 3 cached (Yubico touch policy values). */
  touchPolicy: number;
  /** Generated on the card (attestable) or imported. */
  origin: "generated" | "imported";
}

/** Generate a fresh key pair for `spec`. */
export async function generateSlotKeyPair(spec: KeySpec): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  if (spec.kind === "rsa") {
    return generateKeyPairAsync("rsa", { modulusLength: spec.bits, publicExponent: 0x10001 });
  }
  return generateKeyPairAsync("ec", { namedCurve: spec.curve.name });
}

function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

function fromB64u(s: string | undefined): Uint8Array {
  if (s === undefined) throw new RangeError("JWK member missing");
  return new Uint8Array(Buffer.from(s, "base64url"));
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** SEC 1 uncompressed point (04 ‖ X ‖ Y) of an EC public key. */
export function ecPublicPoint(publicKey: KeyObject, curve: CurveParams): Uint8Array {
  const jwk = publicKey.export({ format: "jwk" });
  const x = fromB64u(jwk.x);
  const y = fromB64u(jwk.y);
  return concat(
    Uint8Array.of(0x04),
    bigIntToBytes(bytesToBigInt(x), curve.size),
    bigIntToBytes(bytesToBigInt(y), curve.size),
  );
}

/**
 * The public key data objects of SP 800-73-4 Part 2 Table 10, without the 7F49 wrapper:
 * `81 modulus ‖ 82 exponent` for RSA, `86 point` for EC. GET METADATA (tag 04) uses the same form.
 */
export function publicKeyObjects(publicKey: KeyObject, spec: KeySpec): Uint8Array {
  if (spec.kind === "rsa") {
    const jwk = publicKey.export({ format: "jwk" });
    return concat(tlv(0x81, stripLeadingZeros(fromB64u(jwk.n))), tlv(0x82, stripLeadingZeros(fromB64u(jwk.e))));
  }
  return tlv(0x86, ecPublicPoint(publicKey, spec.curve));
}

/**
 * The raw RSA private-key operation m^d mod n (PKCS #1 v2.2 §5.1.2 RSADP / §5.2.1 RSASP1): the host
 * pads, the card only exponentiates. The input must be exactly the modulus length.
 * @throws RangeError when the input has the wrong length or is not below the modulus.
 */
export function rsaRawPrivate(privateKey: KeyObject, input: Uint8Array, bits: number): Uint8Array {
  if (input.length !== bits / 8) throw new RangeError(`RSA input must be ${bits / 8} bytes`);
  try {
    return new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, input));
  } catch (cause) {
    throw new RangeError("RSA input is not below the modulus", { cause });
  }
}

/** The private scalar of an EC key. */
function ecPrivateScalar(privateKey: KeyObject): bigint {
  return bytesToBigInt(fromB64u(privateKey.export({ format: "jwk" }).d));
}

/** ECDSA over a host-computed digest, DER `ECDSA-Sig-Value` out (see `ecdsa-digest.ts`). */
export function ecSignDigest(privateKey: KeyObject, curve: CurveParams, digest: Uint8Array): Uint8Array {
  return signDigest(curve, ecPrivateScalar(privateKey), digest);
}

function ecPublicKeyFromPoint(curve: CurveParams, point: Uint8Array): KeyObject {
  if (point.length !== 1 + 2 * curve.size || point[0] !== 0x04) {
    throw new RangeError("EC point must be uncompressed (04 ‖ X ‖ Y)");
  }
  return createPublicKey({
    key: {
      kty: "EC",
      crv: curve.name,
      x: b64u(point.subarray(1, 1 + curve.size)),
      y: b64u(point.subarray(1 + curve.size)),
    },
    format: "jwk",
  });
}

/**
 * ECDH (SP 800-56A §5.7.1.2, cofactor 1): the X coordinate of d·Q for the peer's uncompressed point.
 * @throws RangeError when the point is malformed or not on the curve.
 */
export function ecdhSharedSecret(privateKey: KeyObject, curve: CurveParams, peerPoint: Uint8Array): Uint8Array {
  let publicKey: KeyObject;
  try {
    publicKey = ecPublicKeyFromPoint(curve, peerPoint);
  } catch (cause) {
    throw new RangeError("peer point is not on the curve", { cause });
  }
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

/**
 * Build an RSA private key from Yubico's IMPORT KEY components (tags 01 p, 02 q, 03 dp, 04 dq,
 * 05 qInv); the public exponent is 65537, the only one a YubiKey accepts.
 * @throws RangeError when the components are inconsistent.
 */
export function rsaKeyFromCrt(
  bits: number,
  c: { p: Uint8Array; q: Uint8Array; dp: Uint8Array; dq: Uint8Array; qi: Uint8Array },
): KeyObject {
  const p = bytesToBigInt(c.p);
  const q = bytesToBigInt(c.q);
  const e = 0x10001n;
  const n = p * q;
  const nBytes = bits / 8;
  if (n >> BigInt(bits - 1) !== 1n) throw new RangeError(`p·q is not a ${bits}-bit modulus`);
  const d = invert(e, (p - 1n) * (q - 1n));
  if (mod(d, p - 1n) !== bytesToBigInt(c.dp) || mod(d, q - 1n) !== bytesToBigInt(c.dq)) {
    throw new RangeError("CRT exponents do not match p and q");
  }
  if (mod(invert(q, p), p) !== bytesToBigInt(c.qi)) throw new RangeError("CRT coefficient does not match p and q");
  const half = nBytes / 2;
  return createPrivateKey({
    key: {
      kty: "RSA",
      n: b64u(bigIntToBytes(n, nBytes)),
      e: b64u(Uint8Array.of(1, 0, 1)),
      d: b64u(bigIntToBytes(d, nBytes)),
      p: b64u(bigIntToBytes(p, half)),
      q: b64u(bigIntToBytes(q, half)),
      dp: b64u(bigIntToBytes(bytesToBigInt(c.dp), half)),
      dq: b64u(bigIntToBytes(bytesToBigInt(c.dq), half)),
      qi: b64u(bigIntToBytes(bytesToBigInt(c.qi), half)),
    },
    format: "jwk",
  });
}

/**
 * Build an EC private key from its scalar (Yubico IMPORT KEY tag 06), deriving the public point.
 * @throws RangeError when the scalar is out of range.
 */
export function ecKeyFromScalar(curve: CurveParams, scalar: Uint8Array): KeyObject {
  if (scalar.length !== curve.size) throw new RangeError(`EC private scalar must be ${curve.size} bytes`);
  const point = publicPointOf(curve, bytesToBigInt(scalar));
  return createPrivateKey({
    key: {
      kty: "EC",
      crv: curve.name,
      d: b64u(scalar),
      x: b64u(point.subarray(1, 1 + curve.size)),
      y: b64u(point.subarray(1 + curve.size)),
    },
    format: "jwk",
  });
}
