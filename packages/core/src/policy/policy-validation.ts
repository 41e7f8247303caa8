/**
 * Static checks of a {@link Policy} before it is used: every refusal is `POLICY_INVALID` with
 * `details.rule` naming the rule, so an administrator can fix the policy.
 */
import { validateDocumentPolicy } from "../documents/document-policy.js";
import type { CertificateTemplate, PinCharacterClass, Policy } from "../domain/policy.js";
import { CardwrightError, PolicyError } from "../errors.js";
import { validateIssuancePolicy } from "../issuance/issuance-policy.js";
import { checkKeyProtection } from "../keys/key-protection-policy.js";
import { validateCardStateTransitions } from "../lifecycle/card-state-transitions.js";
import { validatePermissionGrants } from "../lifecycle/lifecycle-permissions.js";
import { parseDn } from "../pki/distinguished-name.js";
import type { KeyUsage } from "../ports/certificate-authority.js";
import type { KeyAlgorithm } from "../ports/device.js";
import { validateReplacementPolicy } from "../replace/replacement-rules.js";
import { validateUpdatePolicy } from "../update/update-policy.js";
import { renderTemplate, templatePlaceholders } from "./attribute-template.js";
import { ekuOid } from "./extended-key-usage.js";
import { PIN_CLASSES } from "./pin-policy.js";

/** Key algorithms cardwright knows. */
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ["RSA2048", "RSA3072", "ECCP256", "ECCP384"];

/** RFC 5280 §4.2.1.3 key usage names. */
export const KEY_USAGES: readonly KeyUsage[] = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
];

/**
 * PIV key references that hold a key pair and certificate (NIST SP 800-73-4 Part 1 §3.1 and
 * Table 4b): 9A authentication, 9C digital signature, 9D key management, 9E card
 * authentication, 82–95 retired key management.
 */
export const PIV_KEY_SLOTS: readonly string[] = [
  "9a",
  "9c",
  "9d",
  "9e",
  ...Array.from({ length: 0x95 - 0x82 + 1 }, (_, i) => (0x82 + i).toString(16)),
];

/** PIV PIN length bounds (SP 800-73-4 Part 2 §2.4.3: 6 to 8 characters). */
const PIV_PIN_MIN = 6;
const PIV_PIN_MAX = 8;

function fail(policy: Policy, rule: string, message: string, extra: Record<string, string> = {}): never {
  const err = new PolicyError(policy.id, rule, `policy ${policy.id}: ${message}`, "POLICY_INVALID");
  Object.assign(err.details, extra);
  throw err;
}

const SAMPLE_VALUE = "x";

function checkTemplate(policy: Policy, t: CertificateTemplate): void {
  const at = { templateId: t.id };
  if (!KEY_ALGORITHMS.includes(t.keyAlgorithm)) {
    fail(policy, "keyAlgorithm", `template ${t.id} uses unknown key algorithm ${t.keyAlgorithm}`, at);
  }
  if (!/^[0-9a-f]+$/.test(t.slot)) fail(policy, "slot", `template ${t.id} slot "${t.slot}" must be lowercase hex`, at);
  if (policy.deviceTypes.includes("piv") && !PIV_KEY_SLOTS.includes(t.slot)) {
    fail(policy, "slot", `template ${t.id} slot ${t.slot} is not a PIV key slot`, at);
  }
  if (t.caId === "") fail(policy, "caId", `template ${t.id} names no CA`, at);
  for (const ku of t.keyUsage) {
    if (!KEY_USAGES.includes(ku)) fail(policy, "keyUsage", `template ${t.id} has unknown key usage ${ku}`, at);
  }
  for (const eku of t.extendedKeyUsage) {
    try {
      ekuOid(eku);
    } catch {
      fail(policy, "extendedKeyUsage", `template ${t.id} has unknown extended key usage "${eku}"`, at);
    }
  }
  if (!Number.isInteger(t.validityDays) || t.validityDays < 1) {
    fail(policy, "validityDays", `template ${t.id} validityDays must be a positive integer`, at);
  }
  checkKeyProtection(policy, t);
  // The subject must be a valid RFC 4514 DN once its placeholders are filled.
  const sampleUser = { id: "u", displayName: SAMPLE_VALUE, groups: [], attributes: {} };
  try {
    const sample = templatePlaceholders(t.subject).reduce(
      (acc, name) => acc.replace(`{${name}}`, SAMPLE_VALUE),
      t.subject,
    );
    parseDn(renderTemplate(sample, sampleUser, { templateId: t.id, field: "subject" }));
  } catch (err) {
    fail(
      policy,
      "subject",
      `template ${t.id} subject "${t.subject}" is not a valid RFC 4514 DN template: ${
        err instanceof CardwrightError ? err.message : String(err)
      }`,
      at,
    );
  }
}

/**
 * Validate a policy: unique template ids and slots, known slots, algorithms, key usages and
 * EKUs, a parseable subject template per certificate, and a sane PIN policy.
 * @throws PolicyError `POLICY_INVALID` with `details.rule` naming the failed rule.
 */
export function validatePolicy(policy: Policy): void {
  if (policy.id === "") fail(policy, "id", "has no id");
  if (!Number.isInteger(policy.version) || policy.version < 1)
    fail(policy, "version", "version must be an integer ≥ 1");
  if (policy.deviceTypes.length === 0) fail(policy, "deviceTypes", "allows no device type");
  if (policy.certificates.length === 0) fail(policy, "certificates", "has no certificate template");
  const ids = new Set<string>();
  const slots = new Set<string>();
  for (const t of policy.certificates) {
    if (ids.has(t.id)) fail(policy, "uniqueTemplateIds", `template id ${t.id} is used twice`, { templateId: t.id });
    ids.add(t.id);
    if (slots.has(t.slot)) fail(policy, "uniqueSlots", `slot ${t.slot} is used by two templates`, { slot: t.slot });
    slots.add(t.slot);
    checkTemplate(policy, t);
  }
  const pin = policy.pin;
  const classes = Object.keys(PIN_CLASSES) as PinCharacterClass[];
  if (!Number.isInteger(pin.minLength) || pin.minLength < 1) fail(policy, "pin.minLength", "PIN minLength must be ≥ 1");
  if (!Number.isInteger(pin.maxLength) || pin.maxLength < pin.minLength) {
    fail(policy, "pin.maxLength", "PIN maxLength must be ≥ minLength");
  }
  if (policy.deviceTypes.includes("piv") && (pin.minLength < PIV_PIN_MIN || pin.maxLength > PIV_PIN_MAX)) {
    fail(policy, "pin.length", `PIV PINs are ${PIV_PIN_MIN} to ${PIV_PIN_MAX} characters`);
  }
  if (pin.allowed.length === 0) fail(policy, "pin.allowed", "PIN policy allows no character class");
  for (const c of [...pin.allowed, ...(pin.required ?? [])]) {
    if (!classes.includes(c)) fail(policy, "pin.allowed", `unknown PIN character class ${c}`);
  }
  for (const c of pin.required ?? []) {
    if (!pin.allowed.includes(c)) fail(policy, "pin.required", `PIN requires class ${c}, which it does not allow`);
  }
  const length = pin.randomLength ?? pin.minLength;
  if (pin.random && (length < pin.minLength || length > pin.maxLength)) {
    fail(policy, "pin.randomLength", "random PIN length must lie within minLength..maxLength");
  }
  if ((pin.required?.length ?? 0) > pin.maxLength) {
    fail(policy, "pin.required", "PIN requires more classes than its maximum length can hold");
  }
  if (pin.setOnIssue === false && (pin.random || pin.randomPuk === true)) {
    fail(policy, "pin.setOnIssue", "a policy that does not set the PIN at issue cannot generate a random PIN or PUK");
  }
  validateCardStateTransitions(policy);
  validatePermissionGrants(policy);
  validateReplacementPolicy(policy);
  validateIssuancePolicy(policy);
  validateDocumentPolicy(policy);
  validateUpdatePolicy(policy);
}
