import { describe, expect, it } from "vitest";
import type { DeviceCapabilities } from "../ports/device.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { checkUpdateTemplates } from "./update-capabilities.js";

const caps: DeviceCapabilities = {
  keyAlgorithms: ["ECCP256", "ECCP384"],
  slots: ["9a", "9c"],
  pinChange: false,
  pinUnblock: false,
  reset: false,
  adminCredentialChange: false,
  attestation: false,
  cardIdentifiers: false,
};

describe("checkUpdateTemplates", () => {
  const policy = examplePivPolicy({ initialiseOnIssue: true });

  it("checks only the templates requested, not the issue-time PIN and reset rules", () => {
    expect(() => checkUpdateTemplates(policy, caps, policy.certificates)).not.toThrow();
  });

  it("refuses a slot or key algorithm the device lacks (DEVICE_CAPABILITY)", () => {
    const t = { ...policy.certificates[0]!, slot: "9d" };
    expect(() => checkUpdateTemplates(policy, caps, [t])).toThrow(
      expect.objectContaining({ code: "DEVICE_CAPABILITY", details: expect.objectContaining({ slot: "9d" }) }),
    );
    const rsa = { ...policy.certificates[0]!, keyAlgorithm: "RSA2048" as const };
    expect(() => checkUpdateTemplates(policy, caps, [rsa])).toThrow(
      expect.objectContaining({ code: "DEVICE_CAPABILITY" }),
    );
  });

  it.each(["archiveKey", "requireAttestation"] as const)(
    "refuses a template with %s (POLICY_RULE naming it)",
    (rule) => {
      const t = { ...policy.certificates[0]!, [rule]: true };
      expect(() => checkUpdateTemplates(policy, caps, [t])).toThrow(
        expect.objectContaining({
          code: "POLICY_RULE",
          details: expect.objectContaining({ rule, templateId: "piv-auth" }),
        }),
      );
    },
  );
});
