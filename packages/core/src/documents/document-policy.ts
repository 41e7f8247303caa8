/**
 * Validation of the policy settings this area adds: `documents` (the document check) and
 * `issuance.enrollOnBehalf` (CMC requests signed by the enrollment agent, RFC 5272).
 */
import type { Policy } from "../domain/policy.js";
import { PolicyError } from "../errors.js";

function invalid(policy: Policy, rule: string, message: string): never {
  throw new PolicyError(policy.id, rule, `policy ${policy.id}: ${message}`, "POLICY_INVALID");
}

/**
 * Check `policy.documents` (a list of distinct, non-empty document types with names) and
 * `policy.issuance.enrollOnBehalf` (a boolean).
 * @throws PolicyError `POLICY_INVALID` with `details.rule` `documents.required` or `issuance.enrollOnBehalf`.
 */
export function validateDocumentPolicy(policy: Policy): void {
  const onBehalf = policy.issuance?.enrollOnBehalf;
  if (onBehalf !== undefined && typeof onBehalf !== "boolean") {
    invalid(policy, "issuance.enrollOnBehalf", "issuance.enrollOnBehalf must be true or false");
  }
  const documents = policy.documents;
  if (documents === undefined) return;
  if (!Array.isArray(documents.required) || documents.required.length === 0) {
    invalid(
      policy,
      "documents.required",
      "documents.required must list at least one document (or leave documents out)",
    );
  }
  const seen = new Set<string>();
  for (const d of documents.required) {
    if (typeof d?.type !== "string" || d.type.trim() === "" || typeof d.name !== "string" || d.name.trim() === "") {
      invalid(policy, "documents.required", "every required document needs a non-empty type and name");
    }
    if (seen.has(d.type)) invalid(policy, "documents.required", `document type "${d.type}" is listed twice`);
    seen.add(d.type);
  }
}
