/**
 * Chooses the policy for a user (by audience and priority) and checks, before anything is
 * generated, that the device can do what the policy asks.
 */
import type { CertificateTemplate, Policy, PolicyAudience } from "../domain/policy.js";
import { CardwrightError, PolicyError } from "../errors.js";
import { checkKeyProtectionCapabilities } from "../keys/key-protection-policy.js";
import type { DeviceCapabilities, DeviceIdentity } from "../ports/device.js";
import type { DirectoryUser } from "../ports/directory.js";
import { validatePolicy } from "./policy-validation.js";

/** True when `user` is in the audience (all given conditions hold; an empty audience matches all). */
export function audienceMatches(audience: PolicyAudience, user: DirectoryUser): boolean {
  if (audience.groups !== undefined && !audience.groups.some((g) => user.groups.includes(g))) return false;
  for (const [name, values] of Object.entries(audience.attributes ?? {})) {
    const v = Object.hasOwn(user.attributes, name) ? user.attributes[name] : undefined;
    if (v === undefined || !values.includes(v)) return false;
  }
  return true;
}

/**
 * The template `templateId` of `policy`.
 * @throws PolicyError `POLICY_NOT_FOUND` (rule `templateId`) when the policy has none by that id.
 */
export function requireTemplate(policy: Policy, templateId: string): CertificateTemplate {
  const t = policy.certificates.find((c) => c.id === templateId);
  if (t === undefined) {
    throw new PolicyError(
      policy.id,
      "templateId",
      `policy ${policy.id} has no certificate template ${templateId}`,
      "POLICY_NOT_FOUND",
    );
  }
  return t;
}

/** Which templates of `policy` an issue covers: all mandatory ones plus the optional ones asked for. */
export function selectTemplates(policy: Policy, optionalTemplates: readonly string[] = []): CertificateTemplate[] {
  for (const id of optionalTemplates) {
    const t = policy.certificates.find((c) => c.id === id);
    if (t === undefined || t.mandatory) {
      throw new PolicyError(
        policy.id,
        "optionalTemplates",
        `policy ${policy.id} has no optional certificate template ${id}`,
      );
    }
  }
  return policy.certificates.filter((t) => t.mandatory || optionalTemplates.includes(t.id));
}

function missing(policy: Policy, capability: string, message: string, extra: Record<string, string> = {}): never {
  throw new CardwrightError("DEVICE_CAPABILITY", message, {
    details: { policyId: policy.id, rule: "deviceCapability", capability, ...extra },
  });
}

/**
 * Refuse a device that cannot carry out `policy` (for the given templates): every key algorithm
 * and slot, PIN change, PUK change when a random PUK is set, reset when the policy initialises.
 * @throws CardwrightError `DEVICE_CAPABILITY` naming the missing capability.
 */
export function checkDeviceCapabilities(
  policy: Policy,
  capabilities: DeviceCapabilities,
  templates: readonly CertificateTemplate[] = policy.certificates,
): void {
  for (const t of templates) {
    if (!capabilities.keyAlgorithms.includes(t.keyAlgorithm)) {
      missing(policy, "keyAlgorithm", `device cannot generate ${t.keyAlgorithm} keys that template ${t.id} needs`, {
        templateId: t.id,
        keyAlgorithm: t.keyAlgorithm,
      });
    }
    if (!capabilities.slots.includes(t.slot)) {
      missing(policy, "slot", `device has no slot ${t.slot} that template ${t.id} needs`, {
        templateId: t.id,
        slot: t.slot,
      });
    }
  }
  if (policy.pin.setOnIssue !== false && !capabilities.pinChange) {
    missing(policy, "pinChange", "device cannot change its PIN, which issue requires when the policy sets the PIN");
  }
  if (policy.pin.randomPuk === true && !capabilities.pinUnblock) {
    missing(policy, "pinUnblock", "policy sets a random PUK but the device has no PUK");
  }
  if (policy.pin.randomPuk === true && capabilities.pukChange === false) {
    missing(
      policy,
      "pukChange",
      "policy sets a random PUK but the device unblocks with its administrator credential (which issue already replaces), not a PUK of its own",
    );
  }
  if (policy.initialiseOnIssue && !capabilities.reset) {
    missing(policy, "reset", "policy initialises cards on issue but the device cannot be reset");
  }
  checkKeyProtectionCapabilities(policy, capabilities, templates);
}

/** The policy engine. */
export class PolicyEngine {
  readonly #policies: readonly Policy[];

  /**
   * @throws PolicyError `POLICY_INVALID` when a policy is invalid or two share an id.
   */
  constructor(policies: readonly Policy[]) {
    const ids = new Set<string>();
    for (const p of policies) {
      validatePolicy(p);
      if (ids.has(p.id))
        throw new PolicyError(p.id, "uniquePolicyIds", `two policies have id ${p.id}`, "POLICY_INVALID");
      ids.add(p.id);
    }
    this.#policies = policies;
  }

  /** All configured policies. */
  get policies(): readonly Policy[] {
    return this.#policies;
  }

  /**
   * The policy with id `id` (and `version`, when given).
   * @throws PolicyError `POLICY_NOT_FOUND`.
   */
  get(id: string, version?: number): Policy {
    const p = this.#policies.find((x) => x.id === id);
    if (p === undefined) throw new PolicyError(id, "policyId", `no policy with id ${id}`, "POLICY_NOT_FOUND");
    if (version !== undefined && p.version !== version) {
      const err = new PolicyError(
        id,
        "policyVersion",
        `policy ${id} is at version ${p.version}, the operation was started under version ${version}`,
        "POLICY_NOT_FOUND",
      );
      Object.assign(err.details, { expectedVersion: version, actualVersion: p.version });
      throw err;
    }
    return p;
  }

  /** See {@link validatePolicy}. @throws PolicyError `POLICY_INVALID`. */
  validate(policy: Policy): void {
    validatePolicy(policy);
  }

  /**
   * The policy for `user`: the highest-priority policy whose audience matches; when a device
   * is given, the policy must allow its type.
   * @throws PolicyError `POLICY_NO_MATCH` when none matches or two match at the same top
   * priority (rule `ambiguous`, naming both); `POLICY_RULE` (rule `deviceTypes`) when the chosen
   * policy does not allow the device's type.
   */
  resolve(user: DirectoryUser, device?: Pick<DeviceIdentity, "type">): Policy {
    const matching = this.#policies.filter((p) => audienceMatches(p.appliesTo, user));
    if (matching.length === 0) {
      throw new PolicyError(undefined, "audience", `no policy applies to user ${user.id}`, "POLICY_NO_MATCH");
    }
    const sorted = [...matching].sort((a, b) => b.priority - a.priority);
    const [first, second] = sorted as [Policy, Policy | undefined];
    if (second !== undefined && second.priority === first.priority) {
      const err = new PolicyError(
        undefined,
        "ambiguous",
        `policies ${first.id} and ${second.id} both apply to user ${user.id} at priority ${first.priority}; give one a higher priority`,
        "POLICY_NO_MATCH",
      );
      Object.assign(err.details, { policyIds: [first.id, second.id] as readonly string[] });
      throw err;
    }
    if (device !== undefined && !first.deviceTypes.includes(device.type)) {
      throw new PolicyError(
        first.id,
        "deviceTypes",
        `policy ${first.id} does not allow ${device.type} devices (allowed: ${first.deviceTypes.join(", ")})`,
      );
    }
    return first;
  }

  /** See {@link checkDeviceCapabilities}. @throws CardwrightError `DEVICE_CAPABILITY`. */
  checkDevice(policy: Policy, capabilities: DeviceCapabilities, templates?: readonly CertificateTemplate[]): void {
    checkDeviceCapabilities(policy, capabilities, templates);
  }
}
