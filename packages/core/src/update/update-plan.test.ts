import { beforeAll, describe, expect, it } from "vitest";
import { selfSignedCertificate } from "../../test/support/openssl-certificate.js";
import type { CertificateRecord } from "../domain/card.js";
import type { CertificateTemplate, ForeignCertificateRule, Policy } from "../domain/policy.js";
import { isCardwrightError } from "../errors.js";
import type { DeviceObject } from "../ports/device.js";
import type { DirectoryUser } from "../ports/directory.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { planCardUpdate, trackedAttributeValues, type UpdatePlan } from "./update-plan.js";

const NOW = new Date("2026-11-23T12:00:00Z");
const DAY = 86_400_000;

function template(id: string, slot: string, extra: Partial<CertificateTemplate> = {}): CertificateTemplate {
  return {
    id,
    name: id,
    mandatory: true,
    caId: "ca",
    slot,
    keyAlgorithm: "ECCP256",
    subject: "CN={displayName},O=Example",
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: ["clientAuth"],
    validityDays: 365,
    renewalWindowDays: 30,
    ...extra,
  };
}

const A = examplePivPolicy({ id: "A", certificates: [template("auth", "9a"), template("sig", "9c")] });
const B = examplePivPolicy({
  id: "B",
  certificates: [template("auth", "9a"), template("km", "9d"), template("opt", "82", { mandatory: false })],
});
/** A, version 2: auth tracks the department; sig moved to 9d. */
const A2 = examplePivPolicy({
  id: "A",
  version: 2,
  certificates: [template("auth", "9a", { trackedAttributes: ["attributes.department"] }), template("sig", "9d")],
});
/** C reuses 9c for a different template. */
const C = examplePivPolicy({ id: "C", certificates: [template("auth", "9a"), template("enc", "9c")] });

const alice: DirectoryUser = {
  id: "alice",
  displayName: "Alice",
  groups: ["staff"],
  attributes: { department: "Finance" },
};

let foreignDer: Uint8Array;

beforeAll(() => {
  // A real certificate nobody recorded: what a third party wrote to the card.
  foreignDer = selfSignedCertificate({ subject: "/CN=Third Party VPN/O=Elsewhere", days: 30 });
});

interface RecordSpec {
  template?: string;
  slot: string;
  daysLeft?: number;
  status?: CertificateRecord["status"];
  tracked?: Record<string, string>;
  thirdParty?: boolean;
}

function records(specs: readonly RecordSpec[]): CertificateRecord[] {
  return specs.map((s, i) => ({
    id: `cert-${i}`,
    cardId: "card",
    ...(s.template === undefined ? {} : { templateId: s.template }),
    slot: s.slot,
    status: s.status ?? "written",
    caId: "ca",
    serialHex: `0${i + 1}`,
    notAfter: new Date(NOW.getTime() + (s.daysLeft ?? 200) * DAY).toISOString(),
    // Each record's "DER" is unique bytes; the device holds the same bytes.
    certificate: Buffer.from(`der-${i}`).toString("base64"),
    ...(s.tracked === undefined ? {} : { trackedAttributes: s.tracked }),
    ...(s.thirdParty === undefined ? {} : { thirdParty: s.thirdParty }),
    version: 1,
    createdAt: `2026-01-0${i + 1}T00:00:00Z`,
    updatedAt: `2026-01-0${i + 1}T00:00:00Z`,
  }));
}

/** The device holds exactly the live records' certificates, plus `foreignIn` slots with the third-party one. */
function objects(recs: readonly CertificateRecord[], foreignIn: readonly string[] = []): DeviceObject[] {
  const onCard: DeviceObject[] = recs
    .filter((r) => r.status === "written")
    .map((r) => ({ slot: r.slot, certificate: new Uint8Array(Buffer.from(r.certificate!, "base64")) }));
  for (const slot of foreignIn) onCard.push({ slot, certificate: foreignDer });
  return onCard;
}

interface Case {
  name: string;
  target: Policy;
  rule?: ForeignCertificateRule;
  records: RecordSpec[];
  foreignIn?: string[];
  optional?: string[];
  expect: {
    remove: string[];
    add: string[];
    keep: string[];
    renew: string[];
    foreign?: string[];
    renewReasons?: string[];
    replaces?: Record<string, string>;
  };
}

const CASES: Case[] = [
  {
    name: "same policy, certificates far from expiry: keep all",
    target: A,
    records: [
      { template: "auth", slot: "9a" },
      { template: "sig", slot: "9c" },
    ],
    expect: { remove: [], add: [], keep: ["auth", "sig"], renew: [] },
  },
  {
    name: "policy A → B: remove sig, add km, keep auth",
    target: B,
    records: [
      { template: "auth", slot: "9a" },
      { template: "sig", slot: "9c" },
    ],
    expect: { remove: ["sig"], add: ["km"], keep: ["auth"], renew: [] },
  },
  {
    name: "inside the renewal window (10 of 30 days left): renew",
    target: A,
    records: [
      { template: "auth", slot: "9a", daysLeft: 10 },
      { template: "sig", slot: "9c", daysLeft: 31 },
    ],
    expect: { remove: [], add: [], keep: ["sig"], renew: ["auth"], renewReasons: ["renewal-window"] },
  },
  {
    name: "exactly at the window's edge (30 days): renew",
    target: A,
    records: [
      { template: "auth", slot: "9a", daysLeft: 30 },
      { template: "sig", slot: "9c" },
    ],
    expect: { remove: [], add: [], keep: ["sig"], renew: ["auth"] },
  },
  {
    name: "tracked attribute changed (Engineering → Finance): renew; sig moved 9c → 9d: remove + add",
    target: A2,
    records: [
      { template: "auth", slot: "9a", tracked: { "attributes.department": "Engineering" } },
      { template: "sig", slot: "9c" },
    ],
    expect: { remove: ["sig"], add: ["sig"], keep: [], renew: ["auth"], renewReasons: ["tracked-attributes"] },
  },
  {
    name: "tracked attribute unchanged: keep",
    target: A2,
    records: [
      { template: "auth", slot: "9a", tracked: { "attributes.department": "Finance" } },
      { template: "sig", slot: "9d" },
    ],
    expect: { remove: [], add: [], keep: ["auth", "sig"], renew: [] },
  },
  {
    name: "B with the optional template chosen: add km and opt",
    target: B,
    optional: ["opt"],
    records: [{ template: "auth", slot: "9a" }],
    expect: { remove: [], add: ["km", "opt"], keep: ["auth"], renew: [] },
  },
  {
    name: "optional templates omitted: the optional certificate the card holds is kept",
    target: B,
    records: [
      { template: "auth", slot: "9a" },
      { template: "km", slot: "9d" },
      { template: "opt", slot: "82" },
    ],
    expect: { remove: [], add: [], keep: ["auth", "km", "opt"], renew: [] },
  },
  {
    name: "optional templates chosen empty: the optional certificate is removed",
    target: B,
    optional: [],
    records: [
      { template: "auth", slot: "9a" },
      { template: "km", slot: "9d" },
      { template: "opt", slot: "82" },
    ],
    expect: { remove: ["opt"], add: [], keep: ["auth", "km"], renew: [] },
  },
  {
    name: "revoked, removed and registered third-party records take no part",
    target: A,
    records: [
      { template: "auth", slot: "9a" },
      { template: "sig", slot: "9c" },
      { template: "sig", slot: "9c", status: "revoked" },
      { template: "auth", slot: "9a", status: "removed" },
      { slot: "9e", thirdParty: true },
    ],
    expect: { remove: [], add: [], keep: ["auth", "sig"], renew: [], foreign: [] },
  },
  {
    name: "policy A → C: enc reuses the removed sig's slot 9c",
    target: C,
    records: [
      { template: "auth", slot: "9a" },
      { template: "sig", slot: "9c" },
    ],
    expect: { remove: ["sig"], add: ["enc"], keep: ["auth"], renew: [], replaces: { enc: "cert-1" } },
  },
  ...(["keep", "register", "remove"] as const).map(
    (rule): Case => ({
      name: `a certificate written outside cardwright in 9e, rule ${rule}`,
      target: { ...A, foreignCertificates: rule },
      records: [
        { template: "auth", slot: "9a" },
        { template: "sig", slot: "9c" },
      ],
      foreignIn: ["9e"],
      expect: { remove: [], add: [], keep: ["auth", "sig"], renew: [], foreign: [`9e:${rule}`] },
    }),
  ),
  {
    name: "default foreign rule is keep",
    target: A,
    records: [{ template: "auth", slot: "9a" }],
    foreignIn: ["9e"],
    expect: { remove: [], add: ["sig"], keep: ["auth"], renew: [], foreign: ["9e:keep"] },
  },
  {
    name: "a foreign certificate in a slot the policy adds, rule remove: removed and the template added",
    target: { ...B, foreignCertificates: "remove" },
    records: [{ template: "auth", slot: "9a" }],
    foreignIn: ["9d"],
    expect: { remove: [], add: ["km"], keep: ["auth"], renew: [], foreign: ["9d:remove"] },
  },
];

function summary(plan: UpdatePlan) {
  return {
    remove: plan.remove.map((r) => r.templateId ?? "?").sort(),
    add: plan.add.map((a) => a.templateId).sort(),
    keep: plan.keep.map((k) => k.templateId).sort(),
    renew: plan.renew.map((r) => r.templateId).sort(),
  };
}

describe("planCardUpdate over old/new policy pairs", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const recs = records(c.records);
    const plan = planCardUpdate({
      records: recs,
      deviceObjects: objects(recs, c.foreignIn),
      currentPolicy: A,
      targetPolicy: c.target,
      ...(c.optional === undefined ? {} : { optionalTemplates: c.optional }),
      user: alice,
      now: NOW,
    });
    expect(summary(plan)).toEqual({
      remove: [...c.expect.remove].sort(),
      add: [...c.expect.add].sort(),
      keep: [...c.expect.keep].sort(),
      renew: [...c.expect.renew].sort(),
    });
    expect(plan.toPolicy).toEqual({ id: c.target.id, version: c.target.version });
    expect(plan.fromPolicy).toEqual({ id: "A", version: 1 });
    if (c.expect.foreign !== undefined) {
      expect(plan.foreign.map((f) => `${f.slot}:${f.action}`)).toEqual(c.expect.foreign);
    }
    if (c.expect.renewReasons !== undefined) {
      expect(plan.renew.flatMap((r) => r.reasons)).toEqual(c.expect.renewReasons);
    }
    for (const [templateId, certificateId] of Object.entries(c.expect.replaces ?? {})) {
      expect(plan.add.find((a) => a.templateId === templateId)?.replacesCertificateId).toBe(certificateId);
    }
    // Every live record lands in exactly one of remove / keep / renew.
    const live = recs.filter((r) => r.status === "written" && r.thirdParty !== true).map((r) => r.id);
    const placed = [...plan.remove, ...plan.keep, ...plan.renew].map((x) => x.certificateId).sort();
    expect(placed).toEqual(live.sort());
  });

  it("parses a foreign certificate: serial, subject, issuer, validity", () => {
    const recs = records([{ template: "auth", slot: "9a" }]);
    const plan = planCardUpdate({
      records: recs,
      deviceObjects: objects(recs, ["9e"]),
      targetPolicy: A,
      user: alice,
      now: NOW,
    });
    const [f] = plan.foreign;
    expect(f?.subject).toContain("CN=Third Party VPN");
    expect(f?.issuer).toBe(f?.subject);
    expect(f?.serialHex).toMatch(/^[0-9a-f]+$/);
    expect(Date.parse(f!.notAfter) - Date.parse(f!.notBefore)).toBe(30 * DAY);
    expect(f?.certificate).toBe(Buffer.from(foreignDer).toString("base64"));
  });

  it("reports the changed tracked attributes with their old and new values", () => {
    const recs = records([{ template: "auth", slot: "9a", tracked: { "attributes.department": "Engineering" } }]);
    const plan = planCardUpdate({
      records: recs,
      deviceObjects: objects(recs),
      targetPolicy: A2,
      user: alice,
      now: NOW,
    });
    expect(plan.renew[0]?.changedAttributes).toEqual({ "attributes.department": ["Engineering", "Finance"] });
  });

  it("refuses a template whose slot holds a foreign certificate the policy keeps (POLICY_RULE naming the slot)", () => {
    const recs = records([{ template: "auth", slot: "9a" }]);
    try {
      planCardUpdate({ records: recs, deviceObjects: objects(recs, ["9d"]), targetPolicy: B, user: alice, now: NOW });
      expect.unreachable();
    } catch (err) {
      expect(isCardwrightError(err, "POLICY_RULE")).toBe(true);
      expect((err as { details: Record<string, unknown> }).details).toMatchObject({ slot: "9d", templateId: "km" });
    }
  });

  it("refuses an optional template the policy does not have", () => {
    expect(() =>
      planCardUpdate({
        records: [],
        deviceObjects: [],
        targetPolicy: B,
        optionalTemplates: ["auth"],
        user: alice,
        now: NOW,
      }),
    ).toThrow(/no optional certificate template auth/);
  });

  it("records tracked attribute values only for templates that track some", () => {
    expect(trackedAttributeValues(template("x", "9a"), alice)).toBeUndefined();
    expect(
      trackedAttributeValues(
        template("x", "9a", { trackedAttributes: ["displayName", "attributes.department", "email"] }),
        alice,
      ),
    ).toEqual({ displayName: "Alice", "attributes.department": "Finance", email: "" });
  });
});
