/**
 * Policy rules for how a template's key is protected: archived (generated off-card, kept wrapped,
 * imported) or attested (proven generated on the device). Static rules refuse an invalid policy
 * when it is loaded; capability rules refuse a device before anything is generated on it.
 */
import type { CertificateTemplate, Policy } from "../domain/policy.js";
import { CardwrightError, PolicyError } from "../errors.js";
import type { DeviceCapabilities } from "../ports/device.js";

/** Key usages that make a key a key-management (encryption) key, RFC 5280 §4.2.1.3. */
const KEY_MANAGEMENT_USAGES = ["keyEncipherment", "keyAgreement"] as const;

function invalid(policy: Policy, t: CertificateTemplate, rule: string, message: string): never {
  const err = new PolicyError(policy.id, rule, `policy ${policy.id}: template ${t.id} ${message}`, "POLICY_INVALID");
  Object.assign(err.details, { templateId: t.id });
  throw err;
}

/**
 * Static rules of one template:
 * - `archiveKey` only for key-management keys: keyUsage must include keyEncipherment or
 *   keyAgreement and must not include nonRepudiation. An archived copy of a signing key lets
 *   whoever can unwrap it sign as the user, so the user's signatures stop being non-repudiable
 *   (SP 800-57 Part 1 §8.3.1: private signature keys are not archived).
 * - `archiveKey` and `requireAttestation` exclude each other: an imported key cannot be attested.
 * @throws PolicyError `POLICY_INVALID` with `details.rule` `archiveKey.keyUsage` or `archiveKey.requireAttestation`.
 */
export function checkKeyProtection(policy: Policy, t: CertificateTemplate): void {
  if (t.archiveKey !== true) return;
  if (t.requireAttestation === true) {
    invalid(
      policy,
      t,
      "archiveKey.requireAttestation",
      "both archives its key and requires attestation: an imported key cannot be attested",
    );
  }
  if (!KEY_MANAGEMENT_USAGES.some((u) => t.keyUsage.includes(u))) {
    invalid(
      policy,
      t,
      "archiveKey.keyUsage",
      "archives its key but is not a key-management certificate (keyUsage needs keyEncipherment or keyAgreement)",
    );
  }
  if (t.keyUsage.includes("nonRepudiation")) {
    invalid(
      policy,
      t,
      "archiveKey.keyUsage",
      "archives a nonRepudiation key: an archived signing key breaks non-repudiation",
    );
  }
}

/**
 * Refuse a device that cannot protect the templates' keys as their policy asks: `keyImport` for
 * archived keys, `attestation` for attested ones.
 * @throws CardwrightError `DEVICE_CAPABILITY` with `details.capability` naming what is missing.
 */
export function checkKeyProtectionCapabilities(
  policy: Policy,
  capabilities: DeviceCapabilities,
  templates: readonly CertificateTemplate[],
): void {
  for (const t of templates) {
    const capability =
      t.archiveKey === true && capabilities.keyImport !== true
        ? "keyImport"
        : t.requireAttestation === true && !capabilities.attestation
          ? "attestation"
          : undefined;
    if (capability === undefined) continue;
    const why = capability === "keyImport" ? "import the archived key" : "attest the generated key";
    throw new CardwrightError(
      "DEVICE_CAPABILITY",
      `template ${t.id} of policy ${policy.id} needs a device that can ${why}; this one cannot`,
      { details: { policyId: policy.id, rule: "deviceCapability", capability, templateId: t.id } },
    );
  }
}

/**
 * Refuse a configuration whose policies require attestation without any attestation root to check it against.
 * @throws CardwrightError `CONFIG_INVALID`.
 */
export function checkAttestationRoots(policies: readonly Policy[], roots: readonly Uint8Array[] | undefined): void {
  if ((roots?.length ?? 0) > 0) return;
  for (const p of policies) {
    const t = p.certificates.find((c) => c.requireAttestation === true);
    if (t !== undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `policy ${p.id} template ${t.id} requires key attestation: configure attestationRoots`,
        { details: { policyId: p.id, templateId: t.id, field: "attestationRoots" } },
      );
    }
  }
}
