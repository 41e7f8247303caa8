/**
 * Object identifiers the CA writes or reads, grouped by role. Each group names the document it
 * comes from; EKU names are the ones policies use, so the CLI can show `smartcardLogon` instead
 * of a dotted OID.
 */
import { UPN_OID } from "@cardwright/core";

/**
 * Extended key usage purposes (RFC 5280 §4.2.1.12, RFC 9336, Microsoft KB 287547): core's single
 * table and its helpers, under the names this package has always exported.
 */
export {
  EKU_OIDS as ExtendedKeyUsageOid,
  type ExtendedKeyUsageName,
  ekuName as extendedKeyUsageName,
  isDottedOid,
} from "@cardwright/core";

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
  /** Microsoft User Principal Name (szOID_NT_PRINCIPAL_NAME), a UTF8String; core's `UPN_OID`. */
  userPrincipalName: UPN_OID,
} as const;

/** Public key algorithms and named curves (RFC 3279 §2.3, RFC 5480 §2.1.1). */
export const PublicKeyOid = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecPublicKey: "1.2.840.10045.2.1",
  secp256r1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
} as const;
