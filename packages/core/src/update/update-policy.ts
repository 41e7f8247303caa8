/**
 * Static checks of the update settings of a {@link Policy}: the foreign certificate rule
 * (OpenXPKI smartcard policy: keep, register or remove) and each template's tracked attributes.
 */
import type { ForeignCertificateRule, Policy } from "../domain/policy.js";
import { PolicyError } from "../errors.js";

/** The rules a policy may set for certificates found on a card that cardwright did not write. */
export const FOREIGN_CERTIFICATE_RULES: readonly ForeignCertificateRule[] = ["keep", "register", "remove"];

/** User fields a template may track besides `attributes.<name>` (as subject templates name them). */
const TRACKABLE_FIELDS = ["id", "displayName", "givenName", "surname", "upn", "email"];

/**
 * Validate `foreignCertificates` and every template's `trackedAttributes`.
 * @throws PolicyError `POLICY_INVALID` with `details.rule` `foreignCertificates` or
 * `trackedAttributes` (and `details.templateId`).
 */
export function validateUpdatePolicy(policy: Policy): void {
  const rule = policy.foreignCertificates;
  if (rule !== undefined && !FOREIGN_CERTIFICATE_RULES.includes(rule)) {
    throw new PolicyError(
      policy.id,
      "foreignCertificates",
      `policy ${policy.id}: foreignCertificates "${String(rule)}" must be one of ${FOREIGN_CERTIFICATE_RULES.join(", ")}`,
      "POLICY_INVALID",
    );
  }
  for (const t of policy.certificates) {
    const seen = new Set<string>();
    for (const name of t.trackedAttributes ?? []) {
      const known = TRACKABLE_FIELDS.includes(name) || /^attributes\.[A-Za-z0-9_.-]+$/.test(name);
      if (!known || seen.has(name)) {
        const err = new PolicyError(
          policy.id,
          "trackedAttributes",
          `policy ${policy.id}: template ${t.id} ${known ? "repeats" : "tracks unknown"} attribute "${name}"; use ${TRACKABLE_FIELDS.join(", ")} or attributes.<name>`,
          "POLICY_INVALID",
        );
        Object.assign(err.details, { templateId: t.id, attribute: name });
        throw err;
      }
      seen.add(name);
    }
  }
}
