/**
 * What replacing a card does, per reason, as data a policy may override
 * ({@link Policy.replacement}). The defaults follow the RFC 5280 §5.3.1 reason codes as ITU-T
 * X.509 (§9.5.3.1 of the 2019 edition) defines them:
 *
 * - `stolen` → revoke with `keyCompromise`: someone holds the card and its keys, guarded only by
 *   the PIN; relying parties must treat every signature and logon from it as suspect.
 * - `lost` → revoke with `superseded`: the card is replaced and there is no cause to suspect the
 *   keys were used (the PIN and its retry counter guard them); a policy that treats every lost
 *   card as compromised sets `keyCompromise`.
 * - `damaged` → revoke with `cessationOfOperation`: the keys died with the chip; the certificates
 *   are no longer needed for their purpose and nobody can have used them.
 * - `forgotten` → hold (`certificateHold`), the card `suspended`, a temporary card issued; when
 *   the permanent card returns the hold is released and the temporary card retired.
 *
 * Key recovery rule: a certificate whose key was archived (template `archiveKey`, the PIV key
 * management key in 9D) is recovered — the same certificate and key imported to the new card — and
 * therefore never revoked or held by the replacement, whatever the reason: its key never lived on
 * the old card alone (the vault holds it), old mail encrypted to it must stay readable, and
 * correspondents keep encrypting to the certificate the holder still has. Only the old card's
 * on-card keys (authentication, signature, card authentication), whose one copy is on the old
 * card, are revoked or held. A policy that treats a theft as compromise of the escrowed key too
 * sets `keyRecovery: false` for `stolen`: the encryption certificate is then revoked with the
 * others and the new card gets a new one.
 */
import type { CardState } from "../domain/card.js";
import type { Policy, ReplacementReason, ReplacementRule, TemporaryCardPolicy } from "../domain/policy.js";
import { PolicyError } from "../errors.js";
import type { RevocationReason } from "../ports/certificate-authority.js";

/** Every reason a card may be replaced for. */
export const REPLACEMENT_REASONS: readonly ReplacementReason[] = ["lost", "stolen", "damaged", "forgotten"];

/** The default rule per reason; see the module comment for why. */
export const DEFAULT_REPLACEMENT_RULES: Readonly<Record<ReplacementReason, ReplacementRule>> = {
  lost: { oldCard: "revoke", revocationReason: "superseded", oldCardState: "lost", newCard: "permanent" },
  stolen: { oldCard: "revoke", revocationReason: "keyCompromise", oldCardState: "lost", newCard: "permanent" },
  damaged: {
    oldCard: "revoke",
    revocationReason: "cessationOfOperation",
    oldCardState: "damaged",
    newCard: "permanent",
  },
  forgotten: { oldCard: "suspend", oldCardState: "suspended", newCard: "temporary" },
};

/** The default temporary card: a week, the policy's mandatory templates. */
export const DEFAULT_TEMPORARY_CARD: TemporaryCardPolicy = { validityDays: 7 };

/** RFC 5280 §5.3.1 reasons a replacement may revoke with (the hold codes are `oldCard: "suspend"`). */
const REVOKING_REASONS: readonly RevocationReason[] = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "privilegeWithdrawn",
  "aACompromise",
];

/** States a revoked-for-replacement card may end in. */
const REVOKED_STATES: readonly CardState[] = ["lost", "damaged", "revoked"];

/** A rule with its defaults applied. */
export type ResolvedReplacementRule = ReplacementRule & { keyRecovery: boolean };

/** The rule for `reason` under `policy` (its own, else the default). */
export function replacementRule(policy: Policy | undefined, reason: ReplacementReason): ResolvedReplacementRule {
  const rule = policy?.replacement?.reasons?.[reason] ?? DEFAULT_REPLACEMENT_RULES[reason];
  return { ...rule, keyRecovery: rule.keyRecovery ?? true };
}

/** The temporary card settings under `policy`. */
export function temporaryCardPolicy(policy: Policy | undefined): TemporaryCardPolicy {
  return policy?.replacement?.temporary ?? DEFAULT_TEMPORARY_CARD;
}

/**
 * Template ids a temporary card under `policy` carries.
 * @throws PolicyError `POLICY_INVALID` (rule `replacement`) for a template the policy lacks.
 */
export function temporaryTemplates(policy: Policy): string[] {
  const ids = temporaryCardPolicy(policy).templates;
  if (ids === undefined) return policy.certificates.filter((t) => t.mandatory).map((t) => t.id);
  return [...ids];
}

/**
 * Validate a policy's replacement settings: known reasons; `revoke` with a revocation reason
 * (not a hold code) ending in `lost`, `damaged` or `revoked`; `suspend` ending in `suspended`
 * with a temporary card (the permanent card returns), and a temporary card only with `suspend`; a
 * temporary validity of at least one day and templates the policy has.
 * @throws PolicyError `POLICY_INVALID` with `details.rule` `replacement`.
 */
export function validateReplacementPolicy(policy: Policy): void {
  const settings = policy.replacement;
  if (settings === undefined) return;
  for (const [reason, rule] of Object.entries(settings.reasons ?? {})) {
    if (!REPLACEMENT_REASONS.includes(reason as ReplacementReason)) {
      invalid(policy, `names unknown reason "${reason}"`, { reason });
    }
    if (rule === undefined) continue;
    if (rule.oldCard === "revoke") {
      if (rule.revocationReason === undefined || !REVOKING_REASONS.includes(rule.revocationReason)) {
        invalid(
          policy,
          `rule ${reason} revokes without an RFC 5280 revocation reason (hold codes are oldCard "suspend")`,
          {
            reason,
          },
        );
      }
      if (!REVOKED_STATES.includes(rule.oldCardState)) {
        invalid(
          policy,
          `rule ${reason} revokes but leaves the old card ${rule.oldCardState}, not lost, damaged or revoked`,
          {
            reason,
          },
        );
      }
      if (rule.newCard !== "permanent") {
        invalid(policy, `rule ${reason} revokes the old card, so its replacement must be permanent`, { reason });
      }
    } else if (rule.oldCard === "suspend") {
      if (rule.oldCardState !== "suspended" || rule.newCard !== "temporary") {
        invalid(policy, `rule ${reason} holds the old card: it must end suspended, bridged by a temporary card`, {
          reason,
        });
      }
    } else {
      invalid(policy, `rule ${reason} has unknown oldCard "${String((rule as { oldCard: unknown }).oldCard)}"`, {
        reason,
      });
    }
  }
  const temporary = settings.temporary;
  if (temporary !== undefined) {
    if (!Number.isInteger(temporary.validityDays) || temporary.validityDays < 1) {
      invalid(policy, "temporary.validityDays must be a whole number of days ≥ 1", {});
    }
    if (temporary.templates !== undefined) {
      if (temporary.templates.length === 0) invalid(policy, "temporary.templates is empty", {});
      for (const id of temporary.templates) {
        if (!policy.certificates.some((t) => t.id === id)) {
          invalid(policy, `temporary.templates names template ${id}, which the policy lacks`, { templateId: id });
        }
      }
    }
  }
}

function invalid(policy: Policy, message: string, extra: Record<string, string>): never {
  const err = new PolicyError(
    policy.id,
    "replacement",
    `policy ${policy.id}: replacement ${message}`,
    "POLICY_INVALID",
  );
  Object.assign(err.details, extra);
  throw err;
}
