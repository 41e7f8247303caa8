/**
 * Object identifiers the CA writes or reads, grouped by role. Each group names the document it
 * comes from; EKU names are the ones policies use, so the CLI can show `smartcardLogon` instead
 * of a dotted OID.
 */
import { CardwrightError } from "@cardwright/core";

/** Extended key usage purposes (RFC 5280 §4.2.1.12, RFC 9336, Microsoft KB 287547). */
export const ExtendedKeyUsageOid = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  /** id-kp-documentSigning, RFC 9336. */
  documentSigning: "1.3.6.1.5.5.7.3.36",
  /** Microsoft Document Signing (szOID_KP_DOCUMENT_SIGNING), what Office and Acrobat look for. */
  msDocumentSigning: "1.3.6.1.4.1.311.10.3.12",
  /** Microsoft Smart Card Logon (szOID_KP_SMARTCARD_LOGON). */
  smartcardLogon: "1.3.6.1.4.1.311.20.2.2",
  anyExtendedKeyUsage: "2.5.29.37.0",
} as const;

/** A name from {@link ExtendedKeyUsageOid}. */
export type ExtendedKeyUsageName = keyof typeof ExtendedKeyUsageOid;

/** Certificate and CRL extensions (RFC 5280 §4.2, §5.2, §5.3). */
export const ExtensionOid = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  cRLNumber: "2.5.29.20",
  reasonCode: "2.5.29.21",
  cRLDistributionPoints: "2.5.29.31",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
} as const;

/** PKCS#9 attributes used in PKCS#10 requests (RFC 2985 §5.4.2). */
export const Pkcs9Oid = {
  extensionRequest: "1.2.840.113549.1.9.14",
  challengePassword: "1.2.840.113549.1.9.7",
} as const;

/** Subject alternative name otherName types. */
export const OtherNameOid = {
  /** Microsoft User Principal Name (szOID_NT_PRINCIPAL_NAME), a UTF8String. */
  userPrincipalName: "1.3.6.1.4.1.311.20.2.3",
} as const;

/** Public key algorithms and named curves (RFC 3279 §2.3, RFC 5480 §2.1.1). */
export const PublicKeyOid = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecPublicKey: "1.2.840.10045.2.1",
  secp256r1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
} as const;

const DOTTED_OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const nameByOid = new Map<string, ExtendedKeyUsageName>(
  Object.entries(ExtendedKeyUsageOid).map(([name, oid]) => [oid, name as ExtendedKeyUsageName]),
);

/** True for a syntactically valid dotted-decimal OID. */
export function isDottedOid(value: string): boolean {
  return DOTTED_OID.test(value);
}

/**
 * Resolve an EKU given as a name from {@link ExtendedKeyUsageOid} or as a dotted OID; dotted OIDs
 * pass through unchanged so profiles can carry purposes this table does not know.
 * @throws CardwrightError `CONFIG_INVALID` for an unknown name or a malformed OID.
 */
export function resolveExtendedKeyUsage(nameOrOid: string): string {
  if (Object.hasOwn(ExtendedKeyUsageOid, nameOrOid)) return ExtendedKeyUsageOid[nameOrOid as ExtendedKeyUsageName];
  if (isDottedOid(nameOrOid)) return nameOrOid;
  throw new CardwrightError(
    "CONFIG_INVALID",
    `unknown extended key usage "${nameOrOid}": use a dotted OID or one of ${Object.keys(ExtendedKeyUsageOid).join(", ")}`,
    { details: { extendedKeyUsage: nameOrOid } },
  );
}

/** The table name of an EKU OID, or `undefined` when the table does not know it. */
export function extendedKeyUsageName(oid: string): ExtendedKeyUsageName | undefined {
  return nameByOid.get(oid);
}
