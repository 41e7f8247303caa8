/**
 * Policies ("profile templates" in commercial CMSs): which users they apply to, which devices
 * are allowed, which certificates go where, how PINs are set, and what needs approval.
 */

import type { KeyUsage } from "../ports/certificate-authority.js";
import type { DeviceType, KeyAlgorithm, SlotId } from "../ports/device.js";

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
}
