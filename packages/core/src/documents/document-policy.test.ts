import { describe, expect, it } from "vitest";
import type { Policy } from "../domain/policy.js";
import { isCardwrightError } from "../errors.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { validateDocumentPolicy } from "./document-policy.js";

function ruleOf(policy: Policy): string | undefined {
  try {
    validateDocumentPolicy(policy);
    return undefined;
  } catch (err) {
    if (isCardwrightError(err, "POLICY_INVALID")) return String(err.details.rule);
    throw err;
  }
}

describe("validateDocumentPolicy", () => {
  it("accepts no documents, and a list of distinct named types", () => {
    expect(ruleOf(examplePivPolicy())).toBeUndefined();
    expect(
      ruleOf(examplePivPolicy({ documents: { required: [{ type: "request-form", name: "Request form" }] } })),
    ).toBeUndefined();
  });

  it("refuses an empty list, a nameless or duplicate type, and a non-boolean enrollOnBehalf", () => {
    expect(ruleOf(examplePivPolicy({ documents: { required: [] } }))).toBe("documents.required");
    expect(ruleOf(examplePivPolicy({ documents: { required: [{ type: "a", name: " " }] } }))).toBe(
      "documents.required",
    );
    const twice = [
      { type: "a", name: "A" },
      { type: "a", name: "A again" },
    ];
    expect(ruleOf(examplePivPolicy({ documents: { required: twice } }))).toBe("documents.required");
    expect(ruleOf(examplePivPolicy({ issuance: { enrollOnBehalf: "yes" as never } }))).toBe("issuance.enrollOnBehalf");
  });

  it("runs as part of policy validation", () => {
    expect(() => new PolicyEngine([examplePivPolicy({ documents: { required: [] } })])).toThrow(
      expect.objectContaining({ code: "POLICY_INVALID" }),
    );
  });
});
