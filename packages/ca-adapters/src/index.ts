// Public API of @cardwright/ca-adapters. Explicit named exports only.

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
