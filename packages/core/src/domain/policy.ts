/**
 * Policies ("profile templates" in commercial CMSs): which users they apply to, which devices
 * are allowed, which certificates go where, how PINs are set, and what needs approval.
 */

import type { KeyUsage, RevocationReason } from "../ports/certificate-authority.js";
import type { DeviceType, KeyAlgorithm, SlotId } from "../ports/device.js";
import type { CardState } from "./card.js";

/** Who a policy applies to; all given conditions must hold. */
export interface PolicyAudience {
  /** The user is in at least one of these groups. */
  groups?: readonly string[];
  /** Each named attribute equals one of the listed values. */
  attributes?: Readonly<Record<string, readonly string[]>>;
}

/** Subject alternative names, as templates over user attributes (`"{upn}"`, `"{email}"`). */
export interface SanTemplate {
  /** Microsoft UPN otherName (1.3.6.1.4.1.311.20.2.3). */
  upn?: string;
  /** rfc822Name. */
  email?: string;
}

/** One certificate a policy puts on a card. */
export interface CertificateTemplate {
  /** Unique within the policy. */
  id: string;
  /** Display name, e.g. "PIV Authentication". */
  name: string;
  /** Mandatory certificates are always issued; optional ones when asked for. */
  mandatory: boolean;
  /** Id of the {@link CertificateAuthority} that issues it. */
  caId: string;
  /** CA-side template/profile name (AD CS template, EJBCA end-entity profile...). */
  caProfile?: string;
  slot: SlotId;
  keyAlgorithm: KeyAlgorithm;
  /**
   * Subject DN as an RFC 4514 string with `{attribute}` placeholders,
   * e.g. `"CN={displayName},OU=Staff,O=Example"`.
   */
  subject: string;
  san?: SanTemplate;
  keyUsage: readonly KeyUsage[];
  /** EKU OIDs or the names `clientAuth`, `smartcardLogon`, `emailProtection`, `documentSigning`, `serverAuth`, `codeSigning`. */
  extendedKeyUsage: readonly string[];
  validityDays: number;
  /** Renew when this many days or fewer remain. */
  renewalWindowDays?: number;
  /** Generate off-card and archive the key (encryption certificates). */
  archiveKey?: boolean;
  /**
   * The key must be proven generated on the device (PIV: the YubiKey slot attestation chain,
   * verified against `CardwrightOptions.attestationRoots` before the request goes to the CA).
   * Cannot be combined with `archiveKey`: an imported key cannot be attested.
   */
  requireAttestation?: boolean;
  /**
   * User attributes (as in subject templates: `displayName`, `email`, `upn`,
   * `attributes.department`...) whose values are recorded with the certificate
   * (`CertificateRecord.trackedAttributes`); a card update renews the certificate when one changed.
   */
  trackedAttributes?: readonly string[];
}

/** Character classes a PIN may be required to contain. */
export type PinCharacterClass = "digits" | "lower" | "upper" | "special";

/** How PINs are chosen and set. */
export interface PinPolicy {
  minLength: number;
  maxLength: number;
  /** Classes a PIN may draw from. */
  allowed: readonly PinCharacterClass[];
  /** Classes every PIN must contain at least once. */
  required?: readonly PinCharacterClass[];
  /** Generate a random PIN at issue (from a CSPRNG) instead of asking for one. */
  random: boolean;
  /** Length of generated PINs (defaults to `minLength`). */
  randomLength?: number;
  /** Set a random PUK at issue and keep it wrapped in the vault. */
  randomPuk?: boolean;
  /**
   * Set the user's PIN at issue (default `true`). `false` keeps the device's PIN as it is, for
   * devices without PIN management (a software store, whose PIN is its password): issue then
   * neither asks for nor sets a PIN, the device need not support `pinChange`, and the policy
   * must not ask for a random PIN or PUK.
   */
  setOnIssue?: boolean;
}

/** Approval requirements. */
export interface ApprovalPolicy {
  /** The CA operator approves each request (the CA answers `pending`). */
  caOperator?: boolean;
}

/** A policy. */
export interface Policy {
  id: string;
  /** Bumped on every change; cards record the version they were issued under. */
  version: number;
  name: string;
  /** Higher wins when several policies match a user. */
  priority: number;
  appliesTo: PolicyAudience;
  deviceTypes: readonly DeviceType[];
  certificates: readonly CertificateTemplate[];
  pin: PinPolicy;
  /** Reset the device to factory state before issuing. */
  initialiseOnIssue: boolean;
  approvals?: ApprovalPolicy;
  /**
   * Allowed card state transitions (like Dogtag TPS's `tokendb.allowedTransitions`); every
   * workflow checks its transition against this table. Defaults to
   * `DEFAULT_CARD_STATE_TRANSITIONS` (see `lifecycle/card-state-transitions.ts`, which gives each
   * row's reason). A table given here replaces the default entirely.
   */
  cardStateTransitions?: readonly CardStateTransition[];
  /**
   * Who may run which lifecycle operation on cards issued under this policy. Defaults to
   * `DEFAULT_LIFECYCLE_PERMISSIONS` (see `lifecycle/lifecycle-permissions.ts`). A list given here
   * replaces the default entirely: whatever it does not grant is refused.
   */
  permissions?: readonly PermissionGrant[];
  /** What a card update does with certificates found on the card that cardwright did not write; default `keep`. */
  foreignCertificates?: ForeignCertificateRule;
  /**
   * How cards are issued under this policy (operator face-to-face by default; validated by a
   * validation officer; self-service by the user), and whether self-enrolment needs a device bound
   * beforehand. See `issuance/issuance-policy.ts`.
   */
  issuance?: IssuancePolicy;
  /** Upper bounds checked before an issue starts; see {@link IssuanceLimits}. */
  limits?: IssuanceLimits;
  /**
   * Signed documents an administrator must approve before an issue writes certificates to the
   * card; the issue waits (persisted, card `pending`) until they are. See `documents/`.
   */
  documents?: DocumentPolicy;
  /**
   * What replacing a lost, stolen, damaged or forgotten card does: to the old card (revoke with an
   * RFC 5280 reason, or hold), to its state, whether the new card is permanent or temporary, and
   * whether archived encryption keys are recovered to it. Defaults to `DEFAULT_REPLACEMENT_RULES`
   * (see `replace/replacement-rules.ts`, which gives each default's reason).
   */
  replacement?: ReplacementPolicy;
}

/** A document a policy requires, e.g. `{ type: "certificate-request-form", name: "Certificate request form" }`. */
export interface RequiredDocument {
  /** Stable id, matched against `DocumentRecord.type`. */
  type: string;
  /** Shown to the user and the reviewer. */
  name: string;
}

/** The document check of a policy. */
export interface DocumentPolicy {
  /** Every listed document must be uploaded and approved (by someone other than its uploader). */
  required: readonly RequiredDocument[];
}

/**
 * Issuance modes, after the issuance settings of commercial card management systems:
 * `operator` — an operator issues face to face (the default); `validated` — a validation officer
 * approves an issuance request before the issuing operator may personalise the card, and the
 * officer is neither the requester nor the issuing operator (four-eyes rule); `self-service` —
 * the user issues their own card (needs the `issue` permission for actor kind `user`).
 */
export type IssuanceMode = "operator" | "validated" | "self-service";

/** How cards are issued under a policy. */
export interface IssuancePolicy {
  /** Defaults to `operator`. */
  mode?: IssuanceMode;
  /**
   * Self-enrolment only onto a device bound to that user beforehand (`bindCard`): a user may then
   * issue only a card in state `bound` whose `userId` is theirs. Default `false`.
   */
  requireBinding?: boolean;
  /**
   * Enroll on behalf (RFC 5272 CMC): the device-signed PKCS#10 goes to the CA wrapped in a CMC
   * Full PKI Request signed by the enrollment agent configured on the facade
   * (`CardwrightOptions.enrollmentAgent`, the CA operator service account). Default `false`.
   */
  enrollOnBehalf?: boolean;
}

/** Upper bounds on what one user may hold, checked before anything is generated. */
export interface IssuanceLimits {
  /** Cards of one user that are active, issuing, pending, updating or suspended, this issue included. */
  maxCardsPerUser?: number;
  /** Unexpired, unrevoked certificates of one template a user may hold, this issue included. */
  maxCertificatesPerTemplate?: number;
}

/**
 * What a card update does with a certificate found on the card that no record lists (written
 * outside cardwright), as OpenXPKI's smartcard policy rules it: `keep` leaves it and lists it,
 * `register` records it as a third-party certificate (tracked for expiry), `remove` deletes it
 * from the card (audited).
 */
export type ForeignCertificateRule = "keep" | "register" | "remove";

/** One allowed card state transition, with the reason it exists (documentation for auditors). */
export interface CardStateTransition {
  from: CardState;
  to: CardState;
  /** Why this transition is allowed. */
  reason?: string;
}

/** Who runs an operation: a CMS operator, the card's user (self-service) or an automated agent. */
export type ActorKind = "operator" | "user" | "agent";

/**
 * Operations guarded by {@link Policy.permissions}, after the self-service and operator settings
 * of commercial card management systems.
 */
export type LifecycleOperation =
  /** Issue a card (for a user: self-service issue). */
  | "issue"
  /** Bind a device serial to a user ("add or assign a card"), so only that device is enrolled for them. */
  | "bind"
  /** Choose optional certificates of the policy on issue or update. */
  | "select-optional"
  /** Update the card to its (new) policy: add, remove and renew certificates. */
  | "update"
  /** Cancel an update in progress, restoring the card and its record. */
  | "cancel-update"
  /** Change the PIN, knowing the current one. */
  | "change-pin"
  /** Set a new PIN by the administrator credential or the vault-kept PUK (helpdesk reset). */
  | "reset-pin"
  /** Unblock a blocked PIN with the PUK. */
  | "unblock-pin"
  /** Answer an offline unblock challenge (helpdesk, after the user's security answers check out). */
  | "offline-unblock"
  /** Disable: put the card's certificates on hold. */
  | "suspend"
  /** Enable: release the hold. */
  | "resume"
  | "revoke"
  /** Replace a lost, stolen, damaged or forgotten card. */
  | "replace"
  /** Clear (wipe) the card and record it retired. */
  | "retire"
  /** Register a third-party certificate found on the card. */
  | "register-certificate"
  /** See the card's administrator credential (PKCS#11 SO PIN); never granted by default. */
  | "view-admin-pin"
  /** As validation officer, approve or reject an issuance request. */
  | "approve-issuance"
  /** Approve or reject the documents a policy requires. */
  | "approve-documents"
  /** Queue an operation for the agent at the card's workstation. */
  | "queue-task";

/**
 * Grants `actor` kind the listed operations. `scope: "own"` (the default for users) limits the
 * grant to the actor's own card (`card.userId === actor.id`); `cardStates`, when given, limits it
 * to cards in those states (e.g. a user may clear only their own revoked card).
 */
export interface PermissionGrant {
  actor: ActorKind;
  operations: readonly LifecycleOperation[];
  scope?: "own" | "any";
  cardStates?: readonly CardState[];
}

/** Why a card is replaced. */
export type ReplacementReason =
  /** Mislaid for good: nobody is known to hold it. */
  | "lost"
  /** Taken: someone holds the card (and its keys, behind the PIN). */
  | "stolen"
  /** Broken: it no longer works, and is handed in or destroyed. */
  | "damaged"
  /** Left at home: the permanent card comes back, a temporary card bridges the gap. */
  | "forgotten";

/** What replacing a card for one {@link ReplacementReason} does. */
export interface ReplacementRule {
  /**
   * `revoke`: the old card's certificates are revoked at their CAs with {@link revocationReason};
   * `suspend`: they are put on hold (RFC 5280 §5.3.1 certificateHold) and released when the card returns.
   */
  oldCard: "revoke" | "suspend";
  /** RFC 5280 §5.3.1 reason for `revoke` (not `certificateHold`/`removeFromCRL`). */
  revocationReason?: RevocationReason;
  /** State the old card ends in; must be reachable from its state through the transition table. */
  oldCardState: CardState;
  /** The new card: `permanent` (the full policy) or `temporary` (see {@link TemporaryCardPolicy}). */
  newCard: "permanent" | "temporary";
  /**
   * Recover the old card's archived encryption keys (templates with `archiveKey`) to the new card
   * instead of issuing new ones; default `true`. With `false` those certificates are revoked (or
   * held) with the rest, and the new card gets new ones.
   */
  keyRecovery?: boolean;
}

/** A temporary card: a short-lived card issued while the permanent one is away (forgotten). */
export interface TemporaryCardPolicy {
  /** Validity of the temporary card's certificates, in days (at most each template's own). */
  validityDays: number;
  /** Template ids the temporary card carries; default: the policy's mandatory templates. */
  templates?: readonly string[];
}

/** Replacement settings of a policy. */
export interface ReplacementPolicy {
  /** Per-reason rules; a reason not given keeps its default rule. */
  reasons?: Partial<Record<ReplacementReason, ReplacementRule>>;
  /** The temporary card; defaults to `DEFAULT_TEMPORARY_CARD`. */
  temporary?: TemporaryCardPolicy;
}
