/** Reading X.509 certificates (RFC 5280 §4.1) and comparing public keys. */
import * as asn1js from "asn1js";
import type * as pkijs from "pkijs";
import { CardwrightError } from "../errors.js";
import { escapeDnValue } from "../policy/attribute-template.js";
import {
  DER_TAG,
  decodeDer,
  encodeSubjectPublicKeyInfo,
  isAlgorithmIdentifier,
  isContextTag,
  isDerAlgorithmIdentifier,
  isDerBitString,
  isSubjectPublicKeyInfo,
  nameAttributes,
  oidString,
  plainDerSubjectPublicKeyInfo,
  readChildren,
  readTlv,
  sequenceItems,
  type Tlv,
  timeValue,
} from "./der.js";
import { DN_ATTRIBUTE_OIDS } from "./distinguished-name.js";

/** The facts cardwright keeps about a certificate. */
export interface CertificateSummary {
  /** Serial number, lowercase hex without separators or leading zero bytes. */
  serialHex: string;
  /** Subject as an RFC 4514 string. */
  subject: string;
  /** Issuer as an RFC 4514 string. */
  issuer: string;
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
}

const OID_NAMES = new Map<string, string>(Object.entries(DN_ATTRIBUTE_OIDS).map(([k, v]) => [v, k]));

/** RFC 4514 string of a pkijs Name (pkijs flattens multi-valued RDNs; each attribute is printed as its own RDN). */
export function nameToString(name: pkijs.RelativeDistinguishedNames): string {
  return attributesToString(name.typesAndValues.map((tv) => ({ type: tv.type, value: tv.value as asn1js.AsnType })));
}

/** RFC 4514 string of Name attributes in encoding order: last first, each attribute its own RDN. */
function attributesToString(attributes: { type: string; value: asn1js.AsnType }[]): string {
  const parts: string[] = [];
  for (let i = attributes.length - 1; i >= 0; i--) {
    const { type, value } = attributes[i] as { type: string; value: asn1js.AsnType };
    const block = value as unknown as { valueBlock: { value?: unknown } };
    const text = typeof block.valueBlock.value === "string" ? block.valueBlock.value : value.toString();
    parts.push(`${OID_NAMES.get(type) ?? type}=${escapeDnValue(text)}`);
  }
  return parts.join(",");
}

/** `Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }` (RFC 5280 §4.1). */
function isExtension(block: unknown): boolean {
  const items = sequenceItems(block);
  if (items === undefined || !(items[0] instanceof asn1js.ObjectIdentifier)) return false;
  if (items.length === 2) return items[1] instanceof asn1js.OctetString;
  return items.length === 3 && items[1] instanceof asn1js.Boolean && items[2] instanceof asn1js.OctetString;
}

/**
 * issuerUniqueID [1] and subjectUniqueID [2] (IMPLICIT BIT STRING) and extensions [3] EXPLICIT
 * SEQUENCE OF Extension of a TBSCertificate: each optional, in that order (RFC 5280 §4.1).
 */
function isOptionalTrailer(blocks: readonly asn1js.AsnType[]): boolean {
  let last = 0;
  for (const b of blocks) {
    if (!(b instanceof asn1js.BaseBlock) || b.idBlock.tagClass !== 3) return false;
    const tag = b.idBlock.tagNumber;
    if (tag <= last || tag > 3) return false;
    if (tag === 3) {
      const wrapped = isContextTag(b, 3) ? (b.valueBlock.value as asn1js.AsnType[]) : [];
      const extensions = wrapped.length === 1 ? sequenceItems(wrapped[0]) : undefined;
      if (extensions === undefined || !extensions.every(isExtension)) return false;
    } else if (b.idBlock.isConstructed) return false;
    last = tag;
  }
  return true;
}

/** The fields of a decoded `Certificate` (RFC 5280 §4.1) this module reads, after checking its structure. */
function certificateFields(block: unknown) {
  const outer = sequenceItems(block);
  if (outer === undefined || outer.length !== 3) return undefined;
  if (!isAlgorithmIdentifier(outer[1]) || !(outer[2] instanceof asn1js.BitString)) return undefined;
  const tbs = sequenceItems(outer[0]);
  if (tbs === undefined) return undefined;
  // TBSCertificate: version [0] EXPLICIT is DEFAULT v1, so it may be absent.
  const at = isContextTag(tbs[0], 0) ? 1 : 0;
  const [serial, signature, issuer, validity, subject, spki, ...rest] = tbs.slice(at);
  const times = sequenceItems(validity);
  const issuerAttributes = nameAttributes(issuer);
  const subjectAttributes = nameAttributes(subject);
  if (
    !(serial instanceof asn1js.Integer) ||
    !isAlgorithmIdentifier(signature) ||
    issuerAttributes === undefined ||
    subjectAttributes === undefined ||
    times?.length !== 2 ||
    !isSubjectPublicKeyInfo(spki) ||
    !isOptionalTrailer(rest)
  ) {
    return undefined;
  }
  const notBefore = timeValue(times[0]);
  const notAfter = timeValue(times[1]);
  if (notBefore === undefined || notAfter === undefined) return undefined;
  return { serial, issuerAttributes, subjectAttributes, notBefore, notAfter, spki };
}

/** A Name's attributes read from DER (see {@link nameAttributes}); `undefined` when not plain DER. */
function derNameAttributes(
  bytes: Uint8Array,
  name: Tlv | undefined,
): { type: string; value: asn1js.AsnType }[] | undefined {
  if (name?.tag !== DER_TAG.SEQUENCE) return undefined;
  const attributes: { type: string; value: asn1js.AsnType }[] = [];
  for (const rdn of readChildren(bytes, name) ?? [undefined]) {
    if (rdn?.tag !== DER_TAG.SET) return undefined;
    for (const atv of readChildren(bytes, rdn) ?? [undefined]) {
      const pair = atv?.tag === DER_TAG.SEQUENCE ? readChildren(bytes, atv) : undefined;
      if (pair?.length !== 2 || pair[0]?.tag !== DER_TAG.OBJECT_IDENTIFIER) return undefined;
      const type = oidString(bytes, pair[0]);
      const value = decodeDer(bytes.subarray((pair[1] as Tlv).start, (pair[1] as Tlv).end));
      if (type === undefined || value === undefined) return undefined;
      attributes.push({ type, value });
    }
  }
  return attributes;
}

/** {@link isOptionalTrailer} over DER elements. */
function isDerOptionalTrailer(bytes: Uint8Array, blocks: readonly Tlv[]): boolean {
  let last = 0;
  for (const b of blocks) {
    const tag = b.tag & 0x1f;
    if ((b.tag & 0xc0) !== 0x80 || tag <= last || tag > 3) return false;
    if (tag === 3) {
      const outer = b.tag === 0xa3 ? readChildren(bytes, b) : undefined;
      const list =
        outer?.length === 1 && outer[0]?.tag === DER_TAG.SEQUENCE ? readChildren(bytes, outer[0]) : undefined;
      if (list === undefined) return false;
      for (const e of list) {
        const items = e.tag === DER_TAG.SEQUENCE ? readChildren(bytes, e) : undefined;
        if (items?.[0]?.tag !== DER_TAG.OBJECT_IDENTIFIER) return false;
        const ok =
          items.length === 2
            ? items[1]?.tag === DER_TAG.OCTET_STRING
            : items.length === 3 && items[1]?.tag === DER_TAG.BOOLEAN && items[2]?.tag === DER_TAG.OCTET_STRING;
        if (!ok) return false;
      }
    } else if (b.tag & 0x20) return false;
    last = tag;
  }
  return true;
}

/** What {@link parseCertificate} reads from a certificate. */
interface CertificateFields {
  serial: Uint8Array;
  issuerAttributes: { type: string; value: asn1js.AsnType }[];
  subjectAttributes: { type: string; value: asn1js.AsnType }[];
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
}

/**
 * {@link certificateFields} read straight from plain DER without building a tree (a few
 * microseconds); `undefined` when the input is not plain DER, for the general path to judge.
 */
function derCertificateFields(bytes: Uint8Array): CertificateFields | undefined {
  const outer = readTlv(bytes, 0, bytes.length);
  const top = outer?.tag === DER_TAG.SEQUENCE ? readChildren(bytes, outer) : undefined;
  if (top?.length !== 3 || !isDerBitString(bytes, top[2]) || !isDerAlgorithmIdentifier(bytes, top[1])) {
    return undefined;
  }
  const tbs = top[0]?.tag === DER_TAG.SEQUENCE ? readChildren(bytes, top[0]) : undefined;
  if (tbs === undefined) return undefined;
  const at = tbs[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, signature, issuer, validity, subject, spki, ...rest] = tbs.slice(at);
  const times = validity?.tag === DER_TAG.SEQUENCE ? readChildren(bytes, validity) : undefined;
  if (
    serial?.tag !== DER_TAG.INTEGER ||
    !isDerAlgorithmIdentifier(bytes, signature) ||
    times?.length !== 2 ||
    spki === undefined ||
    !isDerOptionalTrailer(bytes, rest)
  ) {
    return undefined;
  }
  const spkiBytes = plainDerSubjectPublicKeyInfo(bytes.subarray(spki.start, spki.end));
  const issuerAttributes = derNameAttributes(bytes, issuer);
  const subjectAttributes = derNameAttributes(bytes, subject);
  const [notBefore, notAfter] = times.map((t) => timeValue(decodeDer(bytes.subarray(t.start, t.end))));
  if (
    spkiBytes === undefined ||
    issuerAttributes === undefined ||
    subjectAttributes === undefined ||
    notBefore === undefined ||
    notAfter === undefined
  ) {
    return undefined;
  }
  return {
    serial: bytes.subarray(serial.contentStart, serial.end),
    issuerAttributes,
    subjectAttributes,
    notBefore,
    notAfter,
    spki: spkiBytes.slice(),
  };
}

/** Certificates parsed lately, by base64 DER: an issue reads each one when the CA answers and again before writing it to the card. */
const RECENT = new Map<string, CertificateSummary>();
const RECENT_MAX = 32;

/**
 * Parse a DER certificate (RFC 5280 §4.1), its structure checked field by field: read straight
 * from the DER, through a general asn1js decode only when it is not plain DER.
 * @throws CardwrightError `CA_BAD_RESPONSE` when `certificate` is not a DER X.509 certificate.
 */
export function parseCertificate(certificate: Uint8Array): CertificateSummary {
  const key = Buffer.from(certificate.buffer, certificate.byteOffset, certificate.byteLength).toString("base64");
  let summary = RECENT.get(key);
  if (summary === undefined) {
    summary = readCertificate(certificate);
    if (RECENT.size >= RECENT_MAX) RECENT.delete(RECENT.keys().next().value as string);
    RECENT.set(key, summary);
  }
  // A copy: callers own what they get, the cache's entry stays as parsed.
  return { ...summary, spki: summary.spki.slice() };
}

function readCertificate(certificate: Uint8Array): CertificateSummary {
  const bytes = new Uint8Array(certificate);
  let fields: CertificateFields | undefined = derCertificateFields(bytes);
  let cause: unknown;
  if (fields === undefined) {
    try {
      const general = certificateFields(decodeDer(bytes));
      if (general !== undefined) {
        const serial: Uint8Array = general.serial.valueBlock.valueHexView;
        fields = { ...general, serial, spki: encodeSubjectPublicKeyInfo(general.spki) };
      }
    } catch (err) {
      cause = err;
    }
  }
  if (fields === undefined) {
    throw new CardwrightError("CA_BAD_RESPONSE", "not a DER X.509 certificate", cause === undefined ? {} : { cause });
  }
  const serial = Buffer.from(fields.serial.buffer, fields.serial.byteOffset, fields.serial.byteLength)
    .toString("hex")
    .replace(/^(00)+(?=.)/, "");
  return {
    serialHex: serial,
    subject: attributesToString(fields.subjectAttributes),
    issuer: attributesToString(fields.issuerAttributes),
    notBefore: fields.notBefore.toISOString(),
    notAfter: fields.notAfter.toISOString(),
    spki: fields.spki,
  };
}

/**
 * True when two DER SubjectPublicKeyInfo structures (RFC 5280 §4.1.2.7) carry the same key
 * (compared after re-encoding, so BER variations of the same key compare equal).
 */
export function spkiEquals(a: Uint8Array, b: Uint8Array): boolean {
  try {
    const plainA = plainDerSubjectPublicKeyInfo(a);
    const plainB = plainDerSubjectPublicKeyInfo(b);
    if (plainA !== undefined && plainB !== undefined) return Buffer.from(plainA).equals(plainB);
    const x = decodeDer(a);
    const y = decodeDer(b);
    if (!isSubjectPublicKeyInfo(x) || !isSubjectPublicKeyInfo(y)) return false;
    return Buffer.from(encodeSubjectPublicKeyInfo(x)).equals(encodeSubjectPublicKeyInfo(y));
  } catch {
    return false;
  }
}
