/**
 * The demo's policy and users: what a small organisation would configure for staff PIV cards —
 * PIV Authentication (smart-card logon) in 9A and Digital Signature in 9C, a random PIN shown once.
 */
import type { DirectoryUser, Policy } from "@cardwright/core";

/** Id of the demo's embedded CA; the policy's templates refer to it. */
export const DEMO_CA_ID = "demo-ca";

/** The staff PIV policy. */
export const staffPivPolicy: Policy = {
  id: "staff-piv",
  version: 1,
  name: "Staff PIV card",
  priority: 10,
  appliesTo: { groups: ["staff"] },
  deviceTypes: ["piv"],
  initialiseOnIssue: true,
  pin: { minLength: 6, maxLength: 8, allowed: ["digits"], random: true, randomLength: 8, randomPuk: true },
  certificates: [
    {
      id: "piv-auth",
      name: "PIV Authentication",
      mandatory: true,
      caId: DEMO_CA_ID,
      slot: "9a",
      keyAlgorithm: "ECCP256",
      subject: "CN={displayName},OU={attributes.department},O=Example Corp",
      san: { upn: "{upn}" },
      keyUsage: ["digitalSignature"],
      extendedKeyUsage: ["clientAuth", "smartcardLogon"],
      validityDays: 365,
      renewalWindowDays: 30,
    },
    {
      id: "digital-signature",
      name: "Digital Signature",
      mandatory: true,
      caId: DEMO_CA_ID,
      slot: "9c",
      keyAlgorithm: "RSA2048",
      subject: "CN={displayName},OU={attributes.department},O=Example Corp",
      san: { email: "{email}" },
      keyUsage: ["digitalSignature", "nonRepudiation"],
      extendedKeyUsage: ["emailProtection", "documentSigning"],
      validityDays: 365,
      renewalWindowDays: 30,
    },
  ],
};

/** Sample users of the demo directory. */
export const sampleUsers: DirectoryUser[] = [
  {
    id: "alice",
    displayName: "Alice Example",
    givenName: "Alice",
    surname: "Example",
    upn: "alice@corp.example.com",
    email: "alice@example.com",
    groups: ["staff"],
    attributes: { department: "Engineering" },
  },
  {
    id: "bob",
    displayName: "Bob Example",
    givenName: "Bob",
    surname: "Example",
    upn: "bob@corp.example.com",
    email: "bob@example.com",
    groups: ["staff"],
    attributes: { department: "Finance" },
  },
];
