/**
 * What a card update checks about the templates it requests before it generates anything: the
 * device's capabilities, and the template features update does not support yet.
 */
import type { CertificateTemplate, Policy } from "../domain/policy.js";
import { PolicyError } from "../errors.js";
import { checkDeviceCapabilities } from "../policy/policy-engine.js";
import type { DeviceCapabilities } from "../ports/device.js";

/**
 * Refuse, before anything is generated, templates an update cannot request on `capabilities`: a
 * key algorithm or slot the device lacks (as at issue; an update neither sets PINs nor
 * initialises, so only the templates count), and — until update supports them — templates whose
 * keys are archived (`archiveKey`, generated off-card) or must be attested (`requireAttestation`):
 * an update refuses them rather than generate a key the policy does not allow.
 * @throws CardwrightError `DEVICE_CAPABILITY` (`details.slot`/`keyAlgorithm`, `templateId`);
 * PolicyError `POLICY_RULE` (`details.rule` `archiveKey` or `requireAttestation`).
 */
export function checkUpdateTemplates(
  policy: Policy,
  capabilities: DeviceCapabilities,
  templates: readonly CertificateTemplate[],
): void {
  for (const t of templates) {
    const rule =
      t.archiveKey === true ? "archiveKey" : t.requireAttestation === true ? "requireAttestation" : undefined;
    if (rule === undefined) continue;
    const err = new PolicyError(
      policy.id,
      rule,
      `policy ${policy.id} template ${t.id} ${rule === "archiveKey" ? "archives its key" : "requires key attestation"}, which card update does not do yet; replace the card (or re-issue it) to renew this certificate`,
      "POLICY_RULE",
    );
    Object.assign(err.details, { templateId: t.id });
    throw err;
  }
  checkDeviceCapabilities(
    {
      ...policy,
      initialiseOnIssue: false,
      pin: { ...policy.pin, setOnIssue: false, random: false, randomPuk: false },
    },
    capabilities,
    templates,
  );
}
