/**
 * Policies ("profile templates" in commercial CMSs): which users they apply to, which devices
 * are allowed, which certificates go where, how PINs are set, and what needs approval.
 */

import type { KeyUsage } from "../ports/certificate-authority.js";
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
}

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
