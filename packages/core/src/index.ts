// Public API of @cardwright/core. Explicit named exports only.

export type { AgentTaskClaimContext, AgentTaskEnd } from "./agent/agent-task-claim.js";
export { AgentTaskClaim, isClaimable } from "./agent/agent-task-claim.js";
// Agent tasks: queued by operators, claimed and run by agents at the card's workstation (issue 7)
export type {
  AgentTaskQueueDependencies,
  CancelAgentTaskOptions,
  QueueAgentTaskOptions,
} from "./agent/agent-task-queue.js";
export { AGENT_TASK_KINDS, AgentTaskQueue } from "./agent/agent-task-queue.js";
export type {
  AgentTaskContext,
  AgentTaskHandler,
  AgentTaskHandlerResult,
  AgentTaskHandlers,
  AgentTaskOutcome,
  AgentTaskRunnerOptions,
} from "./agent/agent-task-runner.js";
export { AgentTaskRunner, DEFAULT_AGENT_CLAIM_TTL_MS } from "./agent/agent-task-runner.js";
export type { AgentTaskOperations, AgentWorkstationPrompts } from "./agent/operation-task-handlers.js";
export { operationTaskHandlers } from "./agent/operation-task-handlers.js";
export { canonicalJson } from "./audit/canonical-json.js";
export type { HashChainAuditLogOptions } from "./audit/hash-chain-audit-log.js";
export { auditEventHash, GENESIS_HASH, HashChainAuditLog } from "./audit/hash-chain-audit-log.js";
// Facade
export type {
  CardwrightOptions,
  CreateAgentRunnerOptions,
  DeviceDescription,
  IssueCardOptions,
  IssueResult,
  PendingRequest,
  ResumeOptions,
} from "./cardwright.js";
export { Cardwright, DEFAULT_LEASE_TTL_MS, issueProgress, SERIAL_LEASE_PREFIX } from "./cardwright.js";
// Document check (issue 7)
export {
  checkDocuments,
  type DocumentCheck,
  type DocumentStanding,
  describeDocumentCheck,
} from "./documents/document-check.js";
export {
  type DocumentDecision,
  DocumentOperations,
  type DocumentOperationsDependencies,
  type ListDocumentsOptions,
  MAX_DOCUMENT_BYTES,
  type ReviewDocumentsOptions,
  type ReviewDocumentsResult,
  type UploadDocumentOptions,
} from "./documents/document-operations.js";
export { validateDocumentPolicy } from "./documents/document-policy.js";
export {
  checkIssueDocuments,
  type DocumentCheckDependencies,
  type DocumentCheckInput,
} from "./documents/documents-approval.js";
export type * from "./domain/audit.js";
export type * from "./domain/card.js";
export type * from "./domain/policy.js";
export type * from "./domain/records.js";
export * from "./errors.js";
// Issuance modes (operator, validated, self-service), binding and limits (issue 7)
export type { ApprovalUse, IssuanceApprovalSubject } from "./issuance/approval-checks.js";
export { approvalSubject, assertApprovalClears } from "./issuance/approval-checks.js";
export type { IssuanceActorInput } from "./issuance/issuance-actor.js";
export { issuanceActor } from "./issuance/issuance-actor.js";
export type { LimitCheck } from "./issuance/issuance-limits.js";
export { assertWithinLimits, CARD_STATES_COUNTED, CERTIFICATE_STATUSES_COUNTED } from "./issuance/issuance-limits.js";
export type {
  BindCardOptions,
  DecideIssuanceOptions,
  IssuanceDependencies,
  IssueClearance,
  IssueRequest,
  RequestIssuanceOptions,
} from "./issuance/issuance-operations.js";
export { IssuanceOperations } from "./issuance/issuance-operations.js";
export type { PermissionSubject } from "./issuance/issuance-permission.js";
export { assertSubjectPermitted } from "./issuance/issuance-permission.js";
export { ISSUANCE_MODES, issuanceMode, requiresBinding, validateIssuancePolicy } from "./issuance/issuance-policy.js";
export type {
  AttestationCheck,
  PivAttestation,
  PivAttestationExpectations,
} from "./keys/attestation-verifier.js";
export { verifyPivAttestation, YUBICO_ATTESTATION_OID } from "./keys/attestation-verifier.js";
export type { OffCardKeyPair } from "./keys/key-archival.js";
export {
  archivedKeyContext,
  generateOffCardKeyPair,
  importKeyToDevice,
  publicKeyOfPkcs8,
  unwrapArchivedKey,
  wrapArchivedKey,
  zeroKey,
} from "./keys/key-archival.js";
export {
  checkAttestationRoots,
  checkKeyProtection,
  checkKeyProtectionCapabilities,
} from "./keys/key-protection-policy.js";
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
// Expiry monitoring (issue 7)
export type {
  ExpiringCard,
  ExpiringCertificate,
  ExpiryMonitorDependencies,
  ExpiryReport,
  ListExpiringOptions,
  NotifyExpiringOptions,
  NotifyExpiringResult,
} from "./monitoring/expiry-monitor.js";
export { EXPIRY_NOTIFIED_ACTION, ExpiryMonitor } from "./monitoring/expiry-monitor.js";
// PIN operations: change, reset, unblock, PUK rotation, offline unblock, admin credential (issue 7)
export type { ChallengeFacts, RedeemUnblockOptions, UnblockChallenge } from "./pin/offline-unblock.js";
export {
  CHALLENGE_BYTES,
  createUnblockChallenge,
  makeUnblockResponse,
  openUnblockResponse,
  RESPONSE_BYTES,
  readUnblockChallenge,
  redeemUnblockResponse,
} from "./pin/offline-unblock.js";
export type {
  PinContext,
  PinInput,
  PinOperationKind,
  PinResetMethod,
  PinStepInput,
} from "./pin/pin-machine.js";
export { PIN_MACHINE_ID, PIN_MACHINE_VERSION, PIN_STEPS, pinMachine } from "./pin/pin-machine.js";
export type {
  ChangePinOptions,
  EnrollSecurityAnswersOptions,
  OfflineUnblockResponse,
  OfflineUnblockResponseOptions,
  PinOperationOptions,
  PinOperationsDependencies,
  PinResult,
  ResetPinOptions,
  RevealAdminCredentialOptions,
  UnblockPinOptions,
} from "./pin/pin-operations.js";
export { PIN_CARD_STATES, PinOperations, pinProgress } from "./pin/pin-operations.js";
export type { PinSecrets, PinStepDependencies } from "./pin/pin-steps.js";
export { PinSteps, pinActors } from "./pin/pin-steps.js";
export type { AnswerLockout, ScryptParameters, SecurityAnswerInput } from "./pin/security-answers.js";
export {
  afterFailedCheck,
  afterSuccessfulCheck,
  assertNotLockedOut,
  DEFAULT_ANSWER_KDF,
  DEFAULT_ANSWER_LOCKOUT,
  hashSecurityAnswers,
  MIN_ANSWER_LENGTH,
  MIN_SECURITY_QUESTIONS,
  normaliseAnswer,
  securityAnswersMatch,
} from "./pin/security-answers.js";
export type { CodeProblem } from "./pin/unblock-code.js";
export {
  base32Length,
  CODE_GROUP_LENGTH,
  CROCKFORD_ALPHABET,
  codeCheckValue,
  codeError,
  decodeCode,
  encodeCode,
  MAX_CHECKED_CHARACTERS,
} from "./pin/unblock-code.js";
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
// Enroll on behalf (issue 7)
export { assertEnrollmentAgent, type EnrollmentAgent, signOnBehalf } from "./pki/enrollment-agent.js";
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
export type {
  IssueNewCardOutput,
  KeyRecoveryTarget,
  ReplaceContext,
  ReplaceEvent,
  ReplaceInput,
  ReplaceStepInput,
  ReplaceTarget,
  ReplaceTargetInput,
} from "./replace/replace-machine.js";
export {
  REPLACE_MACHINE_ID,
  REPLACE_MACHINE_VERSION,
  REPLACE_REST_STATES,
  REPLACE_STEPS,
  replaceMachine,
} from "./replace/replace-machine.js";
export type {
  ReplaceCardOptions,
  ReplaceOperationsDependencies,
  ReplaceResult,
  ResumeReplaceOptions,
  ReturnTemporaryCardOptions,
  ReturnTemporaryCardResult,
} from "./replace/replace-operations.js";
export { ReplaceOperations, replaceProgress } from "./replace/replace-operations.js";
export type {
  ReplaceDependencies,
  ReplacementIssueResult,
  ReplacementIssuer,
} from "./replace/replace-steps.js";
export { ReplaceSteps, recoveredCertificateId, replaceActors } from "./replace/replace-steps.js";
export type { ResolvedReplacementRule } from "./replace/replacement-rules.js";
export {
  DEFAULT_REPLACEMENT_RULES,
  DEFAULT_TEMPORARY_CARD,
  REPLACEMENT_REASONS,
  replacementRule,
  temporaryCardPolicy,
  temporaryTemplates,
  validateReplacementPolicy,
} from "./replace/replacement-rules.js";
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
  type AuditHead,
  auditEventExistsError,
  auditEventLinks,
  auditLinkBrokenError,
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
// Card update, cancel update, third-party certificates (issue 7)
export type {
  CancelUpdateOptions,
  CardInspection,
  CardUpdatesDependencies,
  ContinueUpdateOptions,
  InspectCardOptions,
  PendingUpdateRequest,
  RegisterCertificateOptions,
  RenewalMode,
  UpdateCardOptions,
  UpdateResult,
} from "./update/card-updates.js";
export { CardUpdates, updateProgress } from "./update/card-updates.js";
export { checkUpdateTemplates } from "./update/update-capabilities.js";
export type {
  CancelRequest,
  ItemOutput,
  UpdateContext,
  UpdateEvent,
  UpdateInput,
  UpdateItem,
  UpdateItemStatus,
} from "./update/update-machine.js";
export {
  UPDATE_MACHINE_ID,
  UPDATE_MACHINE_VERSION,
  UPDATE_REST_STATES,
  UPDATE_STEPS,
  updateMachine,
} from "./update/update-machine.js";
export type {
  ForeignCertificate,
  PlannedAddition,
  PlannedKeep,
  PlannedRemoval,
  PlannedRenewal,
  RenewalReason,
  UpdatePlan,
  UpdatePlanInput,
} from "./update/update-plan.js";
export { planCardUpdate, trackedAttributeValues } from "./update/update-plan.js";
export { FOREIGN_CERTIFICATE_RULES, validateUpdatePolicy } from "./update/update-policy.js";
export type { UpdateDependencies } from "./update/update-steps.js";
export { registerForeign, UpdateSession, UpdateSteps, updateActors } from "./update/update-steps.js";
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
// Replace: lost, stolen, damaged or forgotten cards, temporary cards, key recovery (issue 7)
export type {
  CardStepInput,
  IssueContext,
  IssueEvent,
  IssueInput,
  IssueTemplateSelection,
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
