/** Reading X.509 certificates (RFC 5280 §4.1) and comparing public keys, via pkijs. */
import type * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CardwrightError } from "../errors.js";
import { escapeDnValue } from "../policy/attribute-template.js";
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
  return [...name.typesAndValues]
    .reverse()
    .map((tv) => {
      const type = OID_NAMES.get(tv.type) ?? tv.type;
      const block = tv.value as unknown as { valueBlock: { value?: unknown } };
      const value = typeof block.valueBlock.value === "string" ? block.valueBlock.value : tv.value.toString();
      return `${type}=${escapeDnValue(value)}`;
    })
    .join(",");
}

function der(value: asn1js.BaseBlock): Uint8Array {
  return new Uint8Array(value.toBER(false));
}

/**
 * Parse a DER certificate.
 * @throws CardwrightError `CA_BAD_RESPONSE` when `certificate` is not a DER X.509 certificate.
 */
export function parseCertificate(certificate: Uint8Array): CertificateSummary {
  let cert: pkijs.Certificate;
  try {
    cert = pkijs.Certificate.fromBER(new Uint8Array(certificate));
  } catch (err) {
    throw new CardwrightError("CA_BAD_RESPONSE", "not a DER X.509 certificate", { cause: err });
  }
  const serial = Buffer.from(cert.serialNumber.valueBlock.valueHexView)
    .toString("hex")
    .replace(/^(00)+(?=.)/, "");
  return {
    serialHex: serial,
    subject: nameToString(cert.subject),
    issuer: nameToString(cert.issuer),
    notBefore: cert.notBefore.value.toISOString(),
    notAfter: cert.notAfter.value.toISOString(),
    spki: der(cert.subjectPublicKeyInfo.toSchema()),
  };
}

/**
 * True when two DER SubjectPublicKeyInfo structures carry the same key (compared after
 * re-encoding, so BER variations of the same key compare equal).
 */
export function spkiEquals(a: Uint8Array, b: Uint8Array): boolean {
  try {
    const x = der(pkijs.PublicKeyInfo.fromBER(new Uint8Array(a)).toSchema());
    const y = der(pkijs.PublicKeyInfo.fromBER(new Uint8Array(b)).toSchema());
    return Buffer.from(x).equals(Buffer.from(y));
  } catch {
    return false;
  }
}
