/** Shared fixtures of the core tests: a directory user and an archived key-management template. */
import type { CertificateTemplate } from "../../src/domain/policy.js";
import type { DirectoryUser } from "../../src/ports/directory.js";

/** The one user most core tests issue to. */
export const ann: DirectoryUser = {
  id: "ann",
  displayName: "Ann Lee",
  upn: "ann@example.com",
  email: "ann@example.com",
  groups: ["staff"],
  attributes: { department: "R&D" },
};

/** A key-management (9D, NIST SP 800-73-4 §3.3.2) template whose key is generated off-card and archived. */
export const archivedKeyManagement: CertificateTemplate = {
  id: "key-management",
  name: "Key Management",
  mandatory: true,
  caId: "ca",
  slot: "9d",
  keyAlgorithm: "ECCP256",
  subject: "CN={displayName},O=Example",
  keyUsage: ["keyAgreement"],
  extendedKeyUsage: ["emailProtection"],
  validityDays: 365,
  archiveKey: true,
};
