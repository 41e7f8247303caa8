import { describe, expect, it } from "vitest";
import type { Policy, ReplacementRule } from "../domain/policy.js";
import { isCardwrightError } from "../errors.js";
import { validatePolicy } from "../policy/policy-validation.js";
import { examplePivPolicy } from "../testing/example-policy.js";

const examplePolicy = examplePivPolicy();

import {
  DEFAULT_REPLACEMENT_RULES,
  DEFAULT_TEMPORARY_CARD,
  replacementRule,
  temporaryTemplates,
  validateReplacementPolicy,
} from "./replacement-rules.js";

function refusal(policy: Policy): Record<string, unknown> {
  try {
    validatePolicy(policy);
  } catch (err) {
    if (isCardwrightError(err, "POLICY_INVALID")) return err.details;
    throw err;
  }
  throw new Error("expected POLICY_INVALID");
}

const withRule = (reason: string, rule: Partial<ReplacementRule>): Policy => ({
  ...examplePolicy,
  replacement: { reasons: { [reason]: { ...DEFAULT_REPLACEMENT_RULES.lost, ...rule } } },
});

describe("replacement rules", () => {
  it("defaults: stolen keyCompromise, lost superseded, damaged cessationOfOperation, forgotten held with a temporary card", () => {
    expect(replacementRule(examplePolicy, "stolen")).toMatchObject({
      oldCard: "revoke",
      revocationReason: "keyCompromise",
      oldCardState: "lost",
      keyRecovery: true,
    });
    expect(replacementRule(undefined, "lost").revocationReason).toBe("superseded");
    expect(replacementRule(undefined, "damaged")).toMatchObject({
      revocationReason: "cessationOfOperation",
      oldCardState: "damaged",
    });
    expect(replacementRule(undefined, "forgotten")).toMatchObject({
      oldCard: "suspend",
      oldCardState: "suspended",
      newCard: "temporary",
    });
  });

  it("a policy's own rule replaces the default for its reason only", () => {
    const policy = withRule("lost", { revocationReason: "keyCompromise", keyRecovery: false });
    expect(replacementRule(policy, "lost")).toMatchObject({ revocationReason: "keyCompromise", keyRecovery: false });
    expect(replacementRule(policy, "damaged").revocationReason).toBe("cessationOfOperation");
    expect(() => validatePolicy(policy)).not.toThrow();
  });

  it("temporary templates default to the mandatory ones", () => {
    expect(temporaryTemplates(examplePolicy)).toEqual(
      examplePolicy.certificates.filter((t) => t.mandatory).map((t) => t.id),
    );
    expect(DEFAULT_TEMPORARY_CARD.validityDays).toBe(7);
  });

  it("refuses hold codes, a revoke ending in a live state, a suspend without a temporary card, unknown reasons", () => {
    expect(refusal(withRule("lost", { revocationReason: "certificateHold" }))).toMatchObject({
      rule: "replacement",
      reason: "lost",
    });
    expect(refusal(withRule("lost", { oldCardState: "active" }))).toMatchObject({ rule: "replacement" });
    expect(refusal(withRule("lost", { newCard: "temporary" }))).toMatchObject({ rule: "replacement" });
    expect(
      refusal(withRule("forgotten", { oldCard: "suspend", oldCardState: "suspended", newCard: "permanent" })),
    ).toMatchObject({
      rule: "replacement",
      reason: "forgotten",
    });
    expect(refusal(withRule("misplaced", {}))).toMatchObject({ rule: "replacement", reason: "misplaced" });
  });

  it("refuses a temporary card of less than a day or with templates the policy lacks", () => {
    const base = { ...examplePolicy };
    expect(() => validateReplacementPolicy({ ...base, replacement: { temporary: { validityDays: 0 } } })).toThrow(
      /validityDays/,
    );
    expect(refusal({ ...base, replacement: { temporary: { validityDays: 3, templates: ["nope"] } } })).toMatchObject({
      rule: "replacement",
      templateId: "nope",
    });
    expect(() =>
      validatePolicy({
        ...base,
        replacement: { temporary: { validityDays: 3, templates: [base.certificates[0]!.id] } },
      }),
    ).not.toThrow();
  });
});
