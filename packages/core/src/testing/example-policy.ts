/** An example PIV policy for tests and documentation. */
import type { Policy } from "../domain/policy.js";

/**
 * A PIV policy with a mandatory PIV Authentication certificate (slot 9a, P-256, smart-card
 * logon) and an optional Digital Signature certificate (slot 9c, P-384), random 6–8 digit PIN
 * and random PUK, issued by CA `ca` to members of group `staff`. For tests and examples.
 */
export function examplePivPolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    id: "piv-staff",
    version: 1,
    name: "PIV staff card",
    priority: 10,
    appliesTo: { groups: ["staff"] },
    deviceTypes: ["piv"],
    certificates: [
      {
        id: "piv-auth",
        name: "PIV Authentication",
        mandatory: true,
        caId: "ca",
        slot: "9a",
        keyAlgorithm: "ECCP256",
        subject: "CN={displayName},OU={attributes.department},O=Example",
        san: { upn: "{upn}" },
        keyUsage: ["digitalSignature"],
        extendedKeyUsage: ["clientAuth", "smartcardLogon"],
        validityDays: 365,
      },
      {
        id: "signature",
        name: "Digital Signature",
        mandatory: false,
        caId: "ca",
        slot: "9c",
        keyAlgorithm: "ECCP384",
        subject: "CN={displayName},O=Example",
        san: { email: "{email}" },
        keyUsage: ["digitalSignature", "nonRepudiation"],
        extendedKeyUsage: ["emailProtection", "documentSigning"],
        validityDays: 365,
      },
    ],
    pin: { minLength: 6, maxLength: 8, allowed: ["digits"], random: true, randomLength: 8, randomPuk: true },
    initialiseOnIssue: false,
    ...overrides,
  };
}
