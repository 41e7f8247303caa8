// Public API of @cardwright/ca-adapters. Explicit named exports only.

export {
  AcmeCertificateAuthority,
  type AcmeCertificateAuthorityOptions,
  type AcmeChallenge,
  type AcmeChallengeResponder,
} from "./acme/acme-ca.js";
export {
  type AcmeIssuedEntry,
  type AcmeOrderEntry,
  type AcmeOrderLedger,
  MemoryAcmeOrderLedger,
} from "./acme/acme-order-ledger.js";
export { type AcmeProblem, AcmeProblemError } from "./acme/acme-problem.js";
export { type AcmeIdentifier, csrIdentifiers } from "./acme/csr-identifiers.js";
export { AccountKey, type JwsAlgorithm } from "./acme/jws.js";
export {
  AdcsCertificateAuthority,
  type AdcsCertificateAuthorityOptions,
  type AdcsCredentials,
} from "./adcs/adcs-ca.js";
export { type AdcsRequestEntry, type AdcsRequestLedger, MemoryAdcsRequestLedger } from "./adcs/adcs-request-ledger.js";
export type { XcepEnrollmentUri, XcepTemplate } from "./adcs/xcep.js";
export {
  CfsslCertificateAuthority,
  type CfsslCertificateAuthorityOptions,
} from "./cfssl/cfssl-certificate-authority.js";
export { type CfsslLedger, type CfsslLedgerEntry, MemoryCfsslLedger } from "./cfssl/cfssl-ledger.js";
export {
  CmpCertificateAuthority,
  type CmpCertificateAuthorityOptions,
  type CmpProtection,
} from "./cmp/cmp-certificate-authority.js";
export { type FailureInfo, PkiStatus } from "./cmp/pki-status.js";
export { type CmpRequestLedger, MemoryCmpRequestLedger } from "./cmp/request-ledger.js";
export {
  EjbcaCertificateAuthority,
  type EjbcaCertificateAuthorityOptions,
  type EjbcaRevocationStatus,
} from "./ejbca/ejbca-certificate-authority.js";
export { type EjbcaLedger, type EjbcaLedgerEntry, MemoryEjbcaLedger } from "./ejbca/ejbca-ledger.js";
export { CaFile } from "./embedded/ca-directory.js";
export type { CaKeyAlgorithm } from "./embedded/ca-key.js";
export type { ApprovalMode } from "./embedded/ca-state.js";
export {
  EmbeddedCa,
  type EmbeddedCaCreateOptions,
  type EmbeddedCaIssuingOptions,
  type EmbeddedCaOpenOptions,
  type EmbeddedCaRuntime,
  type IssuedCertificateStatus,
  type PendingRequest,
} from "./embedded/embedded-ca.js";
export { CrlReasonCode } from "./embedded/revocation-reason.js";
export {
  EstCertificateAuthority,
  type EstCertificateAuthorityOptions,
  type EstCredentials,
} from "./est/est-ca.js";
export { type EstRequestEntry, type EstRequestLedger, MemoryEstRequestLedger } from "./est/est-request-ledger.js";
export type { HttpsOptions } from "./http/https-request.js";
export { assertIssuedForCsr, certificatesFromPkcs7 } from "./issued-certificate.js";
export {
  type ExtendedKeyUsageName,
  ExtendedKeyUsageOid,
  ExtensionOid,
  extendedKeyUsageName,
  isDottedOid,
  OtherNameOid,
  Pkcs9Oid,
  PublicKeyOid,
} from "./oids.js";
export { fromPem, fromPemAll, type PemBlock, type PemLabel, toPem } from "./pem.js";
