import { describe, expect, it } from "vitest";
import { archivedKeyManagement } from "../../test/support/fixtures.js";
import type { CertificateTemplate, Policy } from "../domain/policy.js";
import { isCardwrightError } from "../errors.js";
import { checkDeviceCapabilities } from "../policy/policy-engine.js";
import { validatePolicy } from "../policy/policy-validation.js";
import type { DeviceCapabilities } from "../ports/device.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { checkAttestationRoots } from "./key-protection-policy.js";

/** The archived key-management template, named as these tests refer to it. */
const encryption: CertificateTemplate = { ...archivedKeyManagement, id: "encryption" };

function policyWith(t: Partial<CertificateTemplate>): Policy {
  const base = examplePivPolicy();
  return { ...base, certificates: [...base.certificates, { ...encryption, ...t }] };
}

function failure(fn: () => unknown): { code: string; details: Record<string, unknown> } | undefined {
  try {
    fn();
  } catch (err) {
    if (!isCardwrightError(err)) throw err;
    return { code: err.code, details: err.details };
  }
  return undefined;
}

const YUBIKEY: DeviceCapabilities = {
  keyAlgorithms: ["RSA2048", "ECCP256", "ECCP384"],
  slots: ["9a", "9c", "9d", "9e"],
  pinChange: true,
  pinUnblock: true,
  reset: true,
  adminCredentialChange: true,
  attestation: true,
  keyImport: true,
  cardIdentifiers: true,
};

describe("key protection rules of a policy", () => {
  it("accepts archival of key-management keys (keyAgreement, keyEncipherment)", () => {
    expect(failure(() => validatePolicy(policyWith({})))).toBeUndefined();
    expect(
      failure(() => validatePolicy(policyWith({ keyAlgorithm: "RSA2048", keyUsage: ["keyEncipherment"] }))),
    ).toBeUndefined();
  });

  it("refuses archiving a signing-only key and a nonRepudiation key", () => {
    for (const keyUsage of [["digitalSignature"], ["keyEncipherment", "nonRepudiation"]] as const) {
      expect(failure(() => validatePolicy(policyWith({ keyUsage })))).toMatchObject({
        code: "POLICY_INVALID",
        details: { rule: "archiveKey.keyUsage", templateId: "encryption" },
      });
    }
  });

  it("refuses a template that both archives and requires attestation", () => {
    expect(failure(() => validatePolicy(policyWith({ requireAttestation: true })))).toMatchObject({
      code: "POLICY_INVALID",
      details: { rule: "archiveKey.requireAttestation" },
    });
  });

  it("refuses a device without keyImport for an archiving template, before anything is generated", () => {
    const policy = policyWith({});
    expect(failure(() => checkDeviceCapabilities(policy, YUBIKEY))).toBeUndefined();
    expect(failure(() => checkDeviceCapabilities(policy, { ...YUBIKEY, keyImport: false }))).toMatchObject({
      code: "DEVICE_CAPABILITY",
      details: { capability: "keyImport", templateId: "encryption", rule: "deviceCapability" },
    });
    const { keyImport: _absent, ...withoutImport } = YUBIKEY;
    expect(failure(() => checkDeviceCapabilities(policy, withoutImport))?.code).toBe("DEVICE_CAPABILITY");
  });

  it("refuses a device without attestation for an attesting template", () => {
    const policy = policyWith({ archiveKey: false, requireAttestation: true });
    expect(failure(() => checkDeviceCapabilities(policy, YUBIKEY))).toBeUndefined();
    expect(failure(() => checkDeviceCapabilities(policy, { ...YUBIKEY, attestation: false }))).toMatchObject({
      code: "DEVICE_CAPABILITY",
      details: { capability: "attestation" },
    });
  });

  it("an attesting policy needs configured attestation roots", () => {
    const policy = policyWith({ archiveKey: false, requireAttestation: true });
    expect(failure(() => checkAttestationRoots([policy], undefined))).toMatchObject({
      code: "CONFIG_INVALID",
      details: { field: "attestationRoots", templateId: "encryption" },
    });
    expect(failure(() => checkAttestationRoots([policy], [Uint8Array.of(0x30)]))).toBeUndefined();
    expect(failure(() => checkAttestationRoots([examplePivPolicy()], []))).toBeUndefined();
  });
});
