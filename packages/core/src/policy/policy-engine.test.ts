import { describe, expect, it } from "vitest";
import type { Policy } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import type { DeviceCapabilities } from "../ports/device.js";
import type { DirectoryUser } from "../ports/directory.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { renderSan, renderSubject } from "./attribute-template.js";
import { EKU_OIDS, ekuName, ekuOid, isDottedOid } from "./extended-key-usage.js";
import { PolicyEngine, selectTemplates } from "./policy-engine.js";
import { validatePolicy } from "./policy-validation.js";

const user: DirectoryUser = {
  id: "u1",
  displayName: "Ann Lee",
  upn: "ann@example.com",
  email: "ann@example.com",
  groups: ["staff"],
  attributes: { department: "R&D", site: "Paris" },
};

function caught(fn: () => unknown): CardwrightError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CardwrightError) return err;
    throw err;
  }
  throw new Error("expected a CardwrightError");
}

const caps: DeviceCapabilities = {
  keyAlgorithms: ["ECCP256", "ECCP384", "RSA2048"],
  slots: ["9a", "9c", "9d", "9e"],
  pinChange: true,
  pinUnblock: true,
  reset: true,
  adminCredentialChange: true,
  attestation: false,
  cardIdentifiers: true,
};

describe("PolicyEngine.resolve", () => {
  const staff = examplePivPolicy();
  const admins = examplePivPolicy({ id: "admins", priority: 20, appliesTo: { groups: ["admins"] } });
  const paris = examplePivPolicy({ id: "paris", priority: 5, appliesTo: { attributes: { site: ["Paris"] } } });

  it("chooses the highest-priority matching policy", () => {
    const engine = new PolicyEngine([paris, staff, admins]);
    expect(engine.resolve(user).id).toBe("piv-staff");
    expect(engine.resolve({ ...user, groups: ["staff", "admins"] }).id).toBe("admins");
    expect(engine.resolve({ ...user, groups: [] }).id).toBe("paris");
  });

  it("requires every audience condition (groups and attributes)", () => {
    const both = examplePivPolicy({ id: "both", appliesTo: { groups: ["staff"], attributes: { site: ["Lyon"] } } });
    const err = caught(() => new PolicyEngine([both]).resolve(user));
    expect(err.code).toBe("POLICY_NO_MATCH");
    expect(err.details.rule).toBe("audience");
  });

  it("refuses a tie at the top priority, naming both policies", () => {
    const other = examplePivPolicy({ id: "other" });
    const err = caught(() => new PolicyEngine([staff, other]).resolve(user));
    expect(err.code).toBe("POLICY_NO_MATCH");
    expect(err.details.rule).toBe("ambiguous");
    expect(err.message).toContain("piv-staff");
    expect(err.message).toContain("other");
  });

  it("refuses a device type the policy does not allow", () => {
    const err = caught(() => new PolicyEngine([staff]).resolve(user, { type: "pkcs11" }));
    expect(err.code).toBe("POLICY_RULE");
    expect(err.details.rule).toBe("deviceTypes");
    expect(new PolicyEngine([staff]).resolve(user, { type: "piv" }).id).toBe("piv-staff");
  });

  it("finds a policy by id and version", () => {
    const engine = new PolicyEngine([staff]);
    expect(engine.get("piv-staff", 1)).toBe(staff);
    expect(caught(() => engine.get("nope")).code).toBe("POLICY_NOT_FOUND");
    expect(caught(() => engine.get("piv-staff", 2)).details.rule).toBe("policyVersion");
  });

  it("refuses duplicate policy ids", () => {
    expect(caught(() => new PolicyEngine([staff, staff])).details.rule).toBe("uniquePolicyIds");
  });
});

describe("validatePolicy", () => {
  const base = examplePivPolicy();
  const t0 = base.certificates[0]!;
  const cases: Array<[string, Partial<Policy>]> = [
    ["version", { version: 0 }],
    ["deviceTypes", { deviceTypes: [] }],
    ["certificates", { certificates: [] }],
    ["uniqueTemplateIds", { certificates: [t0, { ...t0, slot: "9c" }] }],
    ["uniqueSlots", { certificates: [t0, { ...t0, id: "other" }] }],
    ["slot", { certificates: [{ ...t0, slot: "9b" }] }],
    ["slot", { certificates: [{ ...t0, slot: "XY" }] }],
    ["keyAlgorithm", { certificates: [{ ...t0, keyAlgorithm: "ED25519" as never }] }],
    ["keyUsage", { certificates: [{ ...t0, keyUsage: ["signEverything" as never] }] }],
    ["extendedKeyUsage", { certificates: [{ ...t0, extendedKeyUsage: ["teleport"] }] }],
    ["validityDays", { certificates: [{ ...t0, validityDays: 0 }] }],
    ["subject", { certificates: [{ ...t0, subject: "XX={displayName}" }] }],
    ["caId", { certificates: [{ ...t0, caId: "" }] }],
    ["pin.minLength", { deviceTypes: ["software"], pin: { ...base.pin, minLength: 0 } }],
    ["pin.maxLength", { pin: { ...base.pin, minLength: 8, maxLength: 6 } }],
    ["pin.length", { pin: { ...base.pin, minLength: 4, maxLength: 8, randomLength: 6 } }],
    ["pin.allowed", { pin: { ...base.pin, allowed: [] } }],
    ["pin.allowed", { pin: { ...base.pin, allowed: ["emoji" as never] } }],
    ["pin.required", { pin: { ...base.pin, required: ["upper"] } }],
    ["pin.randomLength", { pin: { ...base.pin, randomLength: 9 } }],
    [
      "pin.required",
      {
        deviceTypes: ["software"],
        pin: {
          ...base.pin,
          minLength: 1,
          maxLength: 2,
          randomLength: 2,
          allowed: ["digits", "lower", "upper"],
          required: ["digits", "lower", "upper"],
        },
      },
    ],
  ];
  it.each(cases)("refuses a policy breaking rule %s", (rule, override) => {
    const err = caught(() => validatePolicy({ ...base, ...override }));
    expect(err.code).toBe("POLICY_INVALID");
    expect(err.details.rule).toBe(rule);
  });

  it("accepts the example policy and RSA slot 82 on PIV", () => {
    expect(() => validatePolicy(base)).not.toThrow();
    expect(() =>
      validatePolicy({
        ...base,
        certificates: [{ ...t0, slot: "82", keyAlgorithm: "RSA2048", extendedKeyUsage: ["1.2.3.4"] }],
      }),
    ).not.toThrow();
  });
});

describe("checkDevice", () => {
  const policy = examplePivPolicy();
  const engine = new PolicyEngine([policy]);
  const check = (c: Partial<DeviceCapabilities>, p: Policy = policy) =>
    caught(() => engine.checkDevice(p, { ...caps, ...c }));

  it("names the missing key algorithm, slot, PIN change, PUK and reset", () => {
    expect(check({ keyAlgorithms: ["ECCP256"] }).details).toMatchObject({
      capability: "keyAlgorithm",
      keyAlgorithm: "ECCP384",
      templateId: "signature",
    });
    expect(check({ slots: ["9a"] }).details).toMatchObject({ capability: "slot", slot: "9c" });
    expect(check({ pinChange: false }).details.capability).toBe("pinChange");
    expect(check({ pinUnblock: false }).details.capability).toBe("pinUnblock");
    expect(check({ reset: false }, { ...policy, initialiseOnIssue: true }).details.capability).toBe("reset");
    expect(check({ slots: ["9a"] }).code).toBe("DEVICE_CAPABILITY");
  });

  it("checks only the templates being issued", () => {
    const mandatoryOnly = selectTemplates(policy);
    expect(() => engine.checkDevice(policy, { ...caps, slots: ["9a"] }, mandatoryOnly)).not.toThrow();
    expect(selectTemplates(policy, ["signature"]).map((t) => t.id)).toEqual(["piv-auth", "signature"]);
    expect(caught(() => selectTemplates(policy, ["piv-auth"])).details.rule).toBe("optionalTemplates");
  });
});

describe("subject and SAN templates", () => {
  it("renders attributes and escapes RFC 4514 specials", () => {
    const u = { ...user, displayName: "Lee, Ann+", attributes: { department: " R&D#" } };
    expect(renderSubject("CN={displayName},OU={attributes.department},O=Example", u, { templateId: "t" })).toBe(
      "CN=Lee\\, Ann\\+,OU=\\ R&D#,O=Example",
    );
    expect(renderSan({ upn: "{upn}", email: "{email}" }, user, { templateId: "t" })).toEqual({
      upn: "ann@example.com",
      email: "ann@example.com",
    });
  });

  it("names the template and the missing attribute", () => {
    const err = caught(() => renderSubject("CN={displayName},OU={attributes.team}", user, { templateId: "piv-auth" }));
    expect(err.code).toBe("POLICY_RULE");
    expect(err.details).toMatchObject({ rule: "attribute", templateId: "piv-auth", attribute: "attributes.team" });
    expect(
      caught(() => renderSan({ email: "{email}" }, { ...user, email: undefined }, { templateId: "s" })).details
        .attribute,
    ).toBe("email");
  });
});

describe("ekuOid", () => {
  it("maps names to OIDs and passes dotted OIDs through", () => {
    expect(ekuOid("clientAuth")).toBe("1.3.6.1.5.5.7.3.2");
    expect(ekuOid("smartcardLogon")).toBe("1.3.6.1.4.1.311.20.2.2");
    expect(ekuOid("emailProtection")).toBe("1.3.6.1.5.5.7.3.4");
    expect(ekuOid("documentSigning")).toBe("1.3.6.1.5.5.7.3.36");
    expect(ekuOid("serverAuth")).toBe(EKU_OIDS.serverAuth);
    expect(ekuOid("codeSigning")).toBe("1.3.6.1.5.5.7.3.3");
    expect(ekuOid("1.2.840.113583.1.1.5")).toBe("1.2.840.113583.1.1.5");
    expect(() => ekuOid("toString")).toThrow(/unknown extended key usage/);
  });

  it("knows the Microsoft document-signing purpose beside RFC 9336's", () => {
    expect(ekuOid("msDocumentSigning")).toBe("1.3.6.1.4.1.311.10.3.12");
  });

  it("passes unknown dotted OIDs through and names known ones", () => {
    expect(ekuOid("1.2.3.4.5")).toBe("1.2.3.4.5");
    expect(ekuName(EKU_OIDS.smartcardLogon)).toBe("smartcardLogon");
    expect(ekuName("1.2.3.4.5")).toBeUndefined();
  });

  it("refuses names it does not know and malformed OIDs", () => {
    expect(() => ekuOid("smartCardLogin")).toThrow(/unknown extended key usage/);
    expect(isDottedOid("1.3.6.01")).toBe(false);
    expect(isDottedOid("3.1")).toBe(false);
    expect(isDottedOid("toString")).toBe(false);
  });
});
