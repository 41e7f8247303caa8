import { describe, expect, it } from "vitest";
import type { Policy } from "../domain/policy.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { validateUpdatePolicy } from "./update-policy.js";

function withTracked(names: string[]): Policy {
  const base = examplePivPolicy();
  return { ...base, certificates: base.certificates.map((t, i) => (i === 0 ? { ...t, trackedAttributes: names } : t)) };
}

describe("validateUpdatePolicy", () => {
  it("accepts the three foreign certificate rules and known tracked attributes", () => {
    for (const rule of ["keep", "register", "remove"] as const) {
      expect(() => validateUpdatePolicy({ ...examplePivPolicy(), foreignCertificates: rule })).not.toThrow();
    }
    expect(() => validateUpdatePolicy(withTracked(["displayName", "email", "attributes.department"]))).not.toThrow();
  });

  it("refuses an unknown foreign certificate rule (POLICY_INVALID, rule foreignCertificates)", () => {
    const policy = { ...examplePivPolicy(), foreignCertificates: "ignore" } as unknown as Policy;
    expect(() => validateUpdatePolicy(policy)).toThrow(
      expect.objectContaining({
        code: "POLICY_INVALID",
        details: expect.objectContaining({ rule: "foreignCertificates" }),
      }),
    );
  });

  it.each([["department"], ["attributes."], ["email", "email"]])("refuses tracked attributes %j", (...names) => {
    expect(() => validateUpdatePolicy(withTracked(names))).toThrow(
      expect.objectContaining({
        code: "POLICY_INVALID",
        details: expect.objectContaining({ rule: "trackedAttributes", templateId: "piv-auth" }),
      }),
    );
  });
});
