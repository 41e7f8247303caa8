/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) from the attributes of a PKCS#11 public key object:
 * RSA from CKA_MODULUS/CKA_PUBLIC_EXPONENT (RFC 8017 §A.1.1), EC from CKA_EC_PARAMS and
 * CKA_EC_POINT (RFC 5480 §2). PKCS#11 v2.40 §2.3.3 says CKA_EC_POINT is the DER encoding of an
 * ECPoint OCTET STRING — the X9.62 point wrapped once more — though some modules return the bare
 * point; both are accepted.
 */
import type { DevicePublicKey, KeyAlgorithm } from "@cardwright/core";
import { CardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import { AlgorithmIdentifier, PublicKeyInfo, RSAPublicKey } from "pkijs";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";

/** Named curves cardwright generates (RFC 5480 §2.1.1.1), by key algorithm. */
export const CURVE_OIDS: Readonly<Record<"ECCP256" | "ECCP384", string>> = {
  ECCP256: "1.2.840.10045.3.1.7",
  ECCP384: "1.3.132.0.34",
};

/** Coordinate size in bytes of each curve (an uncompressed point is 1 + 2 × this). */
export const CURVE_FIELD_BYTES: Readonly<Record<"ECCP256" | "ECCP384", number>> = { ECCP256: 32, ECCP384: 48 };

const bad = (message: string) => new CardwrightError("PKCS11_FUNCTION_FAILED", message);

const toBytes = (buffer: ArrayBuffer): Uint8Array => new Uint8Array(buffer);

/** CKA_EC_PARAMS for a named curve: the DER OBJECT IDENTIFIER (ECParameters namedCurve choice). */
export function ecParamsFor(algorithm: "ECCP256" | "ECCP384"): Uint8Array {
  return toBytes(new asn1js.ObjectIdentifier({ value: CURVE_OIDS[algorithm] }).toBER());
}

/** The key algorithm of a curve given as CKA_EC_PARAMS, or `undefined` for another curve. */
export function curveOf(ecParams: Uint8Array): "ECCP256" | "ECCP384" | undefined {
  const parsed = asn1js.fromBER(ecParams);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.ObjectIdentifier)) return undefined;
  const oid = parsed.result.valueBlock.toString();
  if (oid === CURVE_OIDS.ECCP256) return "ECCP256";
  if (oid === CURVE_OIDS.ECCP384) return "ECCP384";
  return undefined;
}

/**
 * The X9.62 point inside CKA_EC_POINT: unwrap the DER OCTET STRING when there is one.
 * A bare uncompressed point starts with 0x04 and has the field's length; a wrapped one starts
 * with the OCTET STRING tag 0x04 too, so the length decides.
 */
export function ecPointOf(ecPoint: Uint8Array, fieldBytes: number): Uint8Array {
  const bareLength = 1 + 2 * fieldBytes;
  if (ecPoint.length === bareLength && ecPoint[0] === 0x04) return ecPoint;
  const parsed = asn1js.fromBER(ecPoint);
  if (parsed.offset !== -1 && parsed.result instanceof asn1js.OctetString) {
    const inner = toBytes(parsed.result.valueBlock.valueHexView.slice().buffer);
    if (inner.length === bareLength && inner[0] === 0x04) return inner;
  }
  throw bad(`the token returned an EC point of ${ecPoint.length} bytes that is not an uncompressed point`);
}

/** SPKI of an EC key on `algorithm`'s curve. */
export function ecSpki(algorithm: "ECCP256" | "ECCP384", ecPoint: Uint8Array): DevicePublicKey {
  const point = ecPointOf(ecPoint, CURVE_FIELD_BYTES[algorithm]);
  const info = new PublicKeyInfo({
    algorithm: new AlgorithmIdentifier({
      algorithmId: EC_PUBLIC_KEY,
      algorithmParams: new asn1js.ObjectIdentifier({ value: CURVE_OIDS[algorithm] }),
    }),
    subjectPublicKey: new asn1js.BitString({ valueHex: point }),
  });
  return { algorithm, spki: toBytes(info.toSchema().toBER()) };
}

/** Drop leading zero bytes (CKA_MODULUS is a big-endian unsigned integer of any length). */
function unsigned(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** DER INTEGER contents of an unsigned big-endian value (a 0x00 prefix keeps it positive). */
function integer(bytes: Uint8Array): asn1js.Integer {
  const u = unsigned(bytes);
  const body = (u[0] ?? 0) & 0x80 ? Uint8Array.of(0, ...u) : u;
  return new asn1js.Integer({ valueHex: body });
}

/** Key algorithm of an RSA modulus, or `undefined` for a size cardwright does not issue. */
export function rsaAlgorithmOf(modulus: Uint8Array): KeyAlgorithm | undefined {
  const bits = unsigned(modulus).length * 8;
  if (bits === 2048) return "RSA2048";
  if (bits === 3072) return "RSA3072";
  return undefined;
}

/** SPKI of an RSA key. */
export function rsaSpki(algorithm: KeyAlgorithm, modulus: Uint8Array, exponent: Uint8Array): DevicePublicKey {
  const rsa = new RSAPublicKey({ modulus: integer(modulus), publicExponent: integer(exponent) });
  const info = new PublicKeyInfo({
    algorithm: new AlgorithmIdentifier({ algorithmId: RSA_ENCRYPTION, algorithmParams: new asn1js.Null() }),
    subjectPublicKey: new asn1js.BitString({ valueHex: rsa.toSchema().toBER() }),
  });
  return { algorithm, spki: toBytes(info.toSchema().toBER()) };
}
