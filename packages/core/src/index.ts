// Public API of @cardwright/core. Explicit named exports only.

export { canonicalJson } from "./audit/canonical-json.js";
export type { HashChainAuditLogOptions } from "./audit/hash-chain-audit-log.js";
export { auditEventHash, GENESIS_HASH, HashChainAuditLog } from "./audit/hash-chain-audit-log.js";
// Facade
export type {
  CardwrightOptions,
  DeviceDescription,
  IssueCardOptions,
  IssueResult,
  PendingRequest,
  ResumeOptions,
} from "./cardwright.js";
export { Cardwright, DEFAULT_LEASE_TTL_MS, issueProgress, SERIAL_LEASE_PREFIX } from "./cardwright.js";
export type * from "./domain/audit.js";
export type * from "./domain/card.js";
export type * from "./domain/policy.js";
export type * from "./domain/records.js";
export * from "./errors.js";
// Lifecycle: card state transitions, permissions, suspend/resume/revoke/retire (issue 7)
export {
  allowedTargets,
  assertTransition,
  CARD_STATES,
  DEFAULT_CARD_STATE_TRANSITIONS,
  transitionTable,
  validateCardStateTransitions,
} from "./lifecycle/card-state-transitions.js";
export type {
  CardStatusOptions,
  LifecycleOperationsDependencies,
  LifecycleResult,
  ResumeLifecycleOptions,
  RetireCardOptions,
  RevokeCardOptions,
} from "./lifecycle/lifecycle-operations.js";
export {
  certificateStatusProgress,
  LifecycleOperations,
  REVOCATION_REASONS,
  retireProgress,
} from "./lifecycle/lifecycle-operations.js";
export type { LifecycleActor } from "./lifecycle/lifecycle-permissions.js";
export {
  ACTOR_KINDS,
  assertPermitted,
  DEFAULT_LIFECYCLE_PERMISSIONS,
  LIFECYCLE_OPERATIONS,
  permissionGrants,
  validatePermissionGrants,
} from "./lifecycle/lifecycle-permissions.js";
// PKI
export type { CertificateSummary } from "./pki/certificate.js";
export { nameToString, parseCertificate, spkiEquals } from "./pki/certificate.js";
export type {
  CmcAgentSigner,
  CmcFullPkiRequest,
  CmcFullPkiRequestInput,
  CmcResponse,
  CmcStatus,
} from "./pki/cmc.js";
export {
  buildCmcFullPkiRequest,
  ID_CCT_PKIDATA,
  ID_CCT_PKIRESPONSE,
  readCmcFullPkiRequest,
  readCmcResponse,
} from "./pki/cmc.js";
export type { CsrInput, CsrSigner } from "./pki/csr.js";
export { buildCsr, csrPublicKey, encodeName, parseName, signatureHash, UPN_OID } from "./pki/csr.js";
export type { DnAttribute, Rdn } from "./pki/distinguished-name.js";
export { DN_ATTRIBUTE_OIDS, formatDn, parseDn } from "./pki/distinguished-name.js";
export { KEY_USAGE_BITS, keyUsageBitString, keyUsagesOf } from "./pki/key-usage.js";
// Policy engine
export type { RenderedSan, TemplateSite } from "./policy/attribute-template.js";
export { escapeDnValue, renderSan, renderSubject, renderTemplate, userAttribute } from "./policy/attribute-template.js";
export type { ExtendedKeyUsageName } from "./policy/extended-key-usage.js";
export { EKU_OIDS, ekuName, ekuOid, isDottedOid } from "./policy/extended-key-usage.js";
export { generatePin, generatePuk, PIN_CLASSES, PIV_PUK_LENGTH, uniformInt, validatePin } from "./policy/pin-policy.js";
export { audienceMatches, checkDeviceCapabilities, PolicyEngine, selectTemplates } from "./policy/policy-engine.js";
export { KEY_ALGORITHMS, KEY_USAGES, PIV_KEY_SLOTS, validatePolicy } from "./policy/policy-validation.js";
export type * from "./ports/audit-log.js";
export type * from "./ports/certificate-authority.js";
export type * from "./ports/device.js";
export type * from "./ports/directory.js";
export type * from "./ports/notifier.js";
export type * from "./ports/runtime.js";
export type * from "./ports/secret-vault.js";
export type * from "./ports/store.js";
// Runtime defaults
export { systemClock } from "./runtime/clock.js";
export { cryptoRandom } from "./runtime/crypto-random.js";
export type { ConsoleLoggerOptions } from "./runtime/logger.js";
export { consoleLogger, redactSecrets, silentLogger } from "./runtime/logger.js";
export {
  cardLeasedError,
  leaseLostError,
  MAX_LEASE_TTL_MS,
  requireLeaseOwner,
  requireLeaseTtl,
} from "./store/lease-checks.js";
// Store contract: what every Store refuses
export {
  auditEventExistsError,
  auditSeqTakenError,
  recordBody,
  recordExistsError,
  recordJsonText,
  recordMissingError,
  requireAuditEvent,
  requireCertificateRecord,
  requireRecordId,
  requireStoreInstant,
  requireStoreLimit,
} from "./store/record-checks.js";
// Secrets and audit
export type { AesGcmSecretVaultOptions } from "./vault/aes-gcm-vault.js";
export { AesGcmSecretVault } from "./vault/aes-gcm-vault.js";
export { CardLeaseKeeper } from "./workflows/card-lease-keeper.js";
export type {
  CertificateStatusChange,
  CertificateStatusContext,
  CertificateStatusEvent,
  CertificateStatusInput,
  CertificateTarget,
  CertificateTargetInput,
  CertificateTargetsInput,
} from "./workflows/certificate-status-machine.js";
export {
  CERTIFICATE_STATUS_MACHINE_ID,
  CERTIFICATE_STATUS_MACHINE_VERSION,
  CERTIFICATE_STATUS_REST_STATES,
  CERTIFICATE_STATUS_STEPS,
  certificateStatusMachine,
} from "./workflows/certificate-status-machine.js";
export { DeviceSession, MANAGEMENT_KEY_BYTES, secretContext } from "./workflows/device-session.js";
// Workflows
export type {
  CardStepInput,
  IssueContext,
  IssueEvent,
  IssueInput,
  PollOutput,
  ResolvePolicyOutput,
  RollbackOutput,
  SubmitOutput,
  TemplatePlan,
  TemplateStatus,
  TemplateStepInput,
  TemplatesStepInput,
} from "./workflows/issue-machine.js";
export {
  ISSUE_MACHINE_ID,
  ISSUE_MACHINE_VERSION,
  ISSUE_REST_STATES,
  ISSUE_STEPS,
  issueMachine,
  serializeStepError,
} from "./workflows/issue-machine.js";
export type { IssueDependencies } from "./workflows/issue-steps.js";
export { IssueSteps, issueActors } from "./workflows/issue-steps.js";
export type { LifecycleDependencies } from "./workflows/lifecycle-steps.js";
export { certificateStatusActors, LifecycleSteps, retireActors } from "./workflows/lifecycle-steps.js";
export type { ProgressEvent, RunOptions, RunOutcome } from "./workflows/operation-runner.js";
export { runOperation } from "./workflows/operation-runner.js";
export type {
  RetireContext,
  RetireEvent,
  RetireInput,
  RetireStepInput,
  WipeMethod,
} from "./workflows/retire-machine.js";
export {
  RETIRE_MACHINE_ID,
  RETIRE_MACHINE_VERSION,
  RETIRE_REST_STATES,
  RETIRE_STEPS,
  retireMachine,
} from "./workflows/retire-machine.js";
export { type CaRetryOptions, checkCaRetryOptions, DEFAULT_CA_RETRY, retryCa } from "./workflows/retry-ca.js";
