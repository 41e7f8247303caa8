import { describe, expect, it } from "vitest";
import type { Policy } from "../domain/policy.js";
import { isCardwrightError } from "../errors.js";
import { validatePolicy } from "../policy/policy-validation.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { issuanceMode, requiresBinding, validateIssuancePolicy } from "./issuance-policy.js";

function ruleOf(policy: Policy): string | undefined {
  try {
    validatePolicy(policy);
    return undefined;
  } catch (err) {
    if (!isCardwrightError(err, "POLICY_INVALID")) throw err;
    return String(err.details.rule);
  }
}

describe("issuance policy", () => {
  it("defaults to operator mode without binding", () => {
    expect(issuanceMode(undefined)).toBe("operator");
    expect(issuanceMode(examplePivPolicy())).toBe("operator");
    expect(requiresBinding(examplePivPolicy())).toBe(false);
    expect(issuanceMode(examplePivPolicy({ issuance: { mode: "validated" } }))).toBe("validated");
    expect(requiresBinding(examplePivPolicy({ issuance: { mode: "self-service", requireBinding: true } }))).toBe(true);
  });

  it("accepts every known mode and positive whole limits", () => {
    for (const mode of ["operator", "validated", "self-service"] as const) {
      expect(() => validateIssuancePolicy(examplePivPolicy({ issuance: { mode } }))).not.toThrow();
    }
    expect(ruleOf(examplePivPolicy({ limits: { maxCardsPerUser: 1, maxCertificatesPerTemplate: 3 } }))).toBeUndefined();
  });

  it("refuses (through validatePolicy) an unknown mode, a non-boolean requireBinding and bad limits, naming the rule", () => {
    expect(ruleOf(examplePivPolicy({ issuance: { mode: "kiosk" as never } }))).toBe("issuance.mode");
    expect(ruleOf(examplePivPolicy({ issuance: { requireBinding: "yes" as never } }))).toBe("issuance.requireBinding");
    expect(ruleOf(examplePivPolicy({ limits: { maxCardsPerUser: 0 } }))).toBe("limits.maxCardsPerUser");
    expect(ruleOf(examplePivPolicy({ limits: { maxCertificatesPerTemplate: 1.5 } }))).toBe(
      "limits.maxCertificatesPerTemplate",
    );
  });
});
