/**
 * A policy's issuance settings ({@link Policy.issuance}, {@link Policy.limits}): the mode cards are
 * issued in — operator face to face, validated by a validation officer, or self-service — and the
 * limits checked before an issue starts. Defaults live here so every check reads them one way.
 */
import type { IssuanceMode, Policy } from "../domain/policy.js";
import { PolicyError } from "../errors.js";

/** Issuance modes, the default first. */
export const ISSUANCE_MODES: readonly IssuanceMode[] = ["operator", "validated", "self-service"];

/** The mode cards are issued in under `policy` (`operator` when it says nothing, or without a policy). */
export function issuanceMode(policy: Pick<Policy, "issuance"> | undefined): IssuanceMode {
  return policy?.issuance?.mode ?? "operator";
}

/** Whether self-enrolment under `policy` needs a device bound to the user beforehand. */
export function requiresBinding(policy: Pick<Policy, "issuance"> | undefined): boolean {
  return policy?.issuance?.requireBinding === true;
}

/**
 * Validate a policy's issuance settings: a known mode, a boolean `requireBinding`, limits that are
 * whole numbers of at least 1.
 * @throws PolicyError `POLICY_INVALID` with `details.rule` `issuance.mode`, `issuance.requireBinding`,
 * `limits.maxCardsPerUser` or `limits.maxCertificatesPerTemplate`.
 */
export function validateIssuancePolicy(policy: Policy): void {
  const issuance = policy.issuance;
  if (issuance !== undefined) {
    if (issuance.mode !== undefined && !ISSUANCE_MODES.includes(issuance.mode)) {
      invalid(
        policy,
        "issuance.mode",
        `issuance mode "${String(issuance.mode)}" is not one of ${ISSUANCE_MODES.join(", ")}`,
      );
    }
    if (issuance.requireBinding !== undefined && typeof issuance.requireBinding !== "boolean") {
      invalid(policy, "issuance.requireBinding", "issuance.requireBinding must be true or false");
    }
  }
  for (const name of ["maxCardsPerUser", "maxCertificatesPerTemplate"] as const) {
    const limit = policy.limits?.[name];
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      invalid(policy, `limits.${name}`, `limits.${name} must be a whole number of at least 1 (got ${String(limit)})`);
    }
  }
}

function invalid(policy: Policy, rule: string, message: string): never {
  throw new PolicyError(policy.id, rule, `policy ${policy.id}: ${message}`, "POLICY_INVALID");
}
