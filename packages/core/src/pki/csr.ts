/**
 * PKCS#10 certification requests (RFC 2986) encoded with asn1js and signed by the device: the CSR's
 * to-be-signed bytes go to `device.sign`, so the private key never leaves the card. The subject
 * comes from an RFC 4514 string, and the extensionRequest attribute (RFC 2985 §5.4.2) carries
 * subjectAltName, keyUsage and extendedKeyUsage (RFC 5280 §4.2.1).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CardwrightError } from "../errors.js";
import { ekuOid } from "../policy/extended-key-usage.js";
import type { KeyUsage } from "../ports/certificate-authority.js";
import type { Device, DevicePublicKey, HashAlgorithm, KeyAlgorithm, SlotId } from "../ports/device.js";
import {
  decodeDer,
  derTlv,
  encodeSubjectPublicKeyInfo,
  isSubjectPublicKeyInfo,
  plainDerSubjectPublicKeyInfo,
} from "./der.js";
import { DN_ATTRIBUTE_OIDS, parseDn } from "./distinguished-name.js";
import { keyUsageBitString } from "./key-usage.js";

/** Microsoft UPN otherName type-id (szOID_NT_PRINCIPAL_NAME). */
export const UPN_OID = "1.3.6.1.4.1.311.20.2.3";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";
const OID_KEY_USAGE = "2.5.29.15";
const OID_EKU = "2.5.29.37";

/** `version INTEGER { v1(0) }` of CertificationRequestInfo (RFC 2986 §4.1). */
const VERSION_1 = Uint8Array.of(0x02, 0x01, 0x00);
const DER_NULL = Uint8Array.of(0x05, 0x00);
const DER_TRUE = Uint8Array.of(0x01, 0x01, 0xff);
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_UTF8_STRING = 0x0c;
const TAG_PRINTABLE_STRING = 0x13;
const TAG_IA5_STRING = 0x16;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
/** `attributes [0] IMPLICIT Attributes` (RFC 2986 §4.1). */
const TAG_ATTRIBUTES = 0xa0;

/** Signature algorithm per key algorithm: RFC 5758 §3.2 (ECDSA) and RFC 4055 §5 (RSA). */
const SIGNATURE: Record<KeyAlgorithm, { hash: HashAlgorithm; oid: string; nullParams: boolean }> = {
  ECCP256: { hash: "SHA-256", oid: "1.2.840.10045.4.3.2", nullParams: false },
  ECCP384: { hash: "SHA-384", oid: "1.2.840.10045.4.3.3", nullParams: false },
  RSA2048: { hash: "SHA-256", oid: "1.2.840.113549.1.1.11", nullParams: true },
  RSA3072: { hash: "SHA-256", oid: "1.2.840.113549.1.1.11", nullParams: true },
};

/** What signs the CSR: a device (only `sign` is used). */
export type CsrSigner = Pick<Device, "sign">;

/** Inputs of {@link buildCsr}. */
export interface CsrInput {
  /** Subject DN as an RFC 4514 string. */
  subject: string;
  /** The device-generated public key. */
  publicKey: DevicePublicKey;
  /** Slot of the key pair that signs. */
  slot: SlotId;
  san?: { upn?: string; email?: string };
  keyUsage?: readonly KeyUsage[];
  /** EKU names or dotted OIDs. */
  extendedKeyUsage?: readonly string[];
}

/**
 * DER Name (RFC 5280 §4.1.2.4) from an RFC 4514 string, encoded directly (pkijs encodes a fresh
 * Name as one multi-valued RDN). countryName is a PrintableString (RFC 5280 App. A),
 * emailAddress and domainComponent IA5String, serialNumber PrintableString, the rest UTF8String.
 * @throws CardwrightError `CONFIG_INVALID` for a malformed subject (see {@link parseDn}).
 */
export function encodeName(dn: string): Uint8Array {
  const rdns = parseDn(dn);
  return derTlv(
    TAG_SEQUENCE,
    ...rdns.map((rdn) =>
      derTlv(TAG_SET, ...rdn.map((a) => derTlv(TAG_SEQUENCE, oidDer(a.oid), stringValue(a.oid, a.value)))),
    ),
  );
}

/**
 * A pkijs Name (RFC 5280 §4.1.2.4) from an RFC 4514 string, decoded from {@link encodeName}'s DER
 * so that pkijs re-encodes the RDN structure as parsed.
 * @throws CardwrightError `CONFIG_INVALID` for a malformed subject (see {@link parseDn}).
 */
export function parseName(dn: string): pkijs.RelativeDistinguishedNames {
  return pkijs.RelativeDistinguishedNames.fromBER(new Uint8Array(encodeName(dn)));
}

function stringValue(oid: string, value: string): Uint8Array {
  if (oid === DN_ATTRIBUTE_OIDS.C || oid === DN_ATTRIBUTE_OIDS.serialNumber) {
    if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) {
      throw new CardwrightError("CONFIG_INVALID", `value "${value}" is not a PrintableString`, { details: { oid } });
    }
    return derTlv(TAG_PRINTABLE_STRING, latin1(value));
  }
  if (oid === DN_ATTRIBUTE_OIDS.E || oid === DN_ATTRIBUTE_OIDS.DC) return derTlv(TAG_IA5_STRING, latin1(value));
  return derTlv(TAG_UTF8_STRING, utf8(value));
}

/** One octet per UTF-16 code unit, as asn1js encodes its 8-bit string types. */
function latin1(value: string): Uint8Array {
  const out = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) out[i] = value.charCodeAt(i);
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** UTF-8 of `value`; a lone surrogate is refused as asn1js refuses it (URIError). */
function utf8(value: string): Uint8Array {
  if (LONE_SURROGATE.test(value)) return new Uint8Array(new asn1js.Utf8String({ value }).valueBlock.valueHexView);
  return new Uint8Array(Buffer.from(value, "utf8"));
}

function subjectAltName(san: { upn?: string; email?: string }): Uint8Array {
  const names: Uint8Array[] = [];
  if (san.upn !== undefined) {
    // otherName ::= [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY } (RFC 5280 §4.2.1.6).
    names.push(derTlv(0xa0, oidDer(UPN_OID), derTlv(0xa0, derTlv(TAG_UTF8_STRING, utf8(san.upn)))));
  }
  // rfc822Name [1] IMPLICIT IA5String.
  if (san.email !== undefined) names.push(derTlv(0x81, latin1(san.email)));
  return derTlv(TAG_SEQUENCE, ...names);
}

/** `Extension` (RFC 5280 §4.1) DER: critical is DEFAULT FALSE, so it is encoded only when true. */
function extension(extnID: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derTlv(TAG_SEQUENCE, oidDer(extnID), DER_TRUE, derTlv(TAG_OCTET_STRING, value))
    : derTlv(TAG_SEQUENCE, oidDer(extnID), derTlv(TAG_OCTET_STRING, value));
}

const OID_DER = new Map<string, Uint8Array>();

/** DER OBJECT IDENTIFIER (X.690 §8.19), memoised: requests use the same few OIDs over and over. */
function oidDer(oid: string): Uint8Array {
  let encoded = OID_DER.get(oid);
  if (encoded === undefined) {
    encoded = new Uint8Array(new asn1js.ObjectIdentifier({ value: oid }).toBER(false));
    if (OID_DER.size < 1024) OID_DER.set(oid, encoded);
  }
  return encoded;
}

/**
 * The device's SubjectPublicKeyInfo as DER.
 * @throws CardwrightError `DEVICE_CAPABILITY` when it is not a SubjectPublicKeyInfo.
 */
function devicePublicKeyInfo(spki: Uint8Array, slot: SlotId): Uint8Array {
  const plain = plainDerSubjectPublicKeyInfo(spki);
  if (plain !== undefined) return plain;
  let decoded: unknown;
  let cause: unknown;
  try {
    decoded = decodeDer(new Uint8Array(spki));
  } catch (err) {
    cause = err;
  }
  if (!isSubjectPublicKeyInfo(decoded)) {
    throw new CardwrightError(
      "DEVICE_CAPABILITY",
      "the device returned a public key that is not a DER SubjectPublicKeyInfo",
      { details: { slot }, ...(cause === undefined ? {} : { cause }) },
    );
  }
  return encodeSubjectPublicKeyInfo(decoded);
}

/**
 * Build a DER PKCS#10 request whose signature is made by `signer.sign(slot, alg, hash, tbs)`:
 * ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384, sha256WithRSAEncryption for RSA.
 * The request is encoded directly (RFC 2986 §4): pkijs's object model re-parses and re-encodes
 * each part, which costs more than the rest of the request.
 * @throws CardwrightError `CONFIG_INVALID` for a malformed subject; `DEVICE_CAPABILITY` when the
 * public key is not a SubjectPublicKeyInfo; device errors from `sign`.
 */
export async function buildCsr(input: CsrInput, signer: CsrSigner): Promise<Uint8Array> {
  const sig = SIGNATURE[input.publicKey.algorithm];
  const subject = encodeName(input.subject);
  const spki = devicePublicKeyInfo(input.publicKey.spki, input.slot);
  const extensions: Uint8Array[] = [];
  if (input.san !== undefined && (input.san.upn !== undefined || input.san.email !== undefined)) {
    extensions.push(extension(OID_SAN, false, subjectAltName(input.san)));
  }
  if (input.keyUsage !== undefined && input.keyUsage.length > 0) {
    extensions.push(extension(OID_KEY_USAGE, true, new Uint8Array(keyUsageBitString(input.keyUsage).toBER(false))));
  }
  if (input.extendedKeyUsage !== undefined && input.extendedKeyUsage.length > 0) {
    const purposes = input.extendedKeyUsage.map((eku) => oidDer(ekuOid(eku)));
    extensions.push(extension(OID_EKU, false, derTlv(TAG_SEQUENCE, ...purposes)));
  }
  // The attributes field is always present; it holds the extensionRequest (RFC 2985 §5.4.2) when
  // there is something to request.
  const attributes =
    extensions.length === 0
      ? []
      : [derTlv(TAG_SEQUENCE, oidDer(OID_EXTENSION_REQUEST), derTlv(TAG_SET, derTlv(TAG_SEQUENCE, ...extensions)))];
  const tbs = derTlv(TAG_SEQUENCE, VERSION_1, subject, spki, derTlv(TAG_ATTRIBUTES, ...attributes));
  const signature = await signer.sign(input.slot, input.publicKey.algorithm, sig.hash, tbs);
  const algorithm = derTlv(TAG_SEQUENCE, oidDer(sig.oid), ...(sig.nullParams ? [DER_NULL] : []));
  // signatureValue BIT STRING: no unused bits.
  return derTlv(TAG_SEQUENCE, tbs, algorithm, derTlv(TAG_BIT_STRING, Uint8Array.of(0), signature));
}

/** The hash a device uses to sign for `algorithm` (RFC 5758 / RFC 4055 choices above). */
export function signatureHash(algorithm: KeyAlgorithm): HashAlgorithm {
  return SIGNATURE[algorithm].hash;
}

/**
 * The DER SubjectPublicKeyInfo inside a DER PKCS#10 request.
 * @throws CardwrightError `CA_INVALID_REQUEST` when `csr` is not a PKCS#10 request.
 */
export function csrPublicKey(csr: Uint8Array): Uint8Array {
  try {
    const req = pkijs.CertificationRequest.fromBER(new Uint8Array(csr));
    return new Uint8Array(req.subjectPublicKeyInfo.toSchema().toBER(false));
  } catch (err) {
    throw new CardwrightError("CA_INVALID_REQUEST", "not a DER PKCS#10 certification request", { cause: err });
  }
}
