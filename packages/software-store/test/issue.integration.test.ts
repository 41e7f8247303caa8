/**
 * The unchanged issue workflow (Cardwright.issueCard) on a software store, with the embedded CA:
 * the PKCS#12 file ends up holding the key and the issued certificate, as `openssl pkcs12` and
 * `openssl verify` see them. Policies asking for more than a store can do are refused before
 * anything is generated.
 */
import { createPublicKey, verify } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import { AesGcmSecretVault, Cardwright, CardwrightError, type Policy, parseCertificate } from "@cardwright/core";
import { InMemoryDirectory, InMemoryStore } from "@cardwright/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIN_ITERATIONS, SoftwareStoreDevice } from "../src/index.js";
import { tempDir } from "./support/fixtures.js";
import { openssl, pem, pemBlocks } from "./support/openssl.js";

const CA_ID = "registry-ca";
const PASSWORD = "store password 1";
const TEST_KEK = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

const users = [
  {
    id: "alice",
    displayName: "Alice Example",
    upn: "alice@corp.example.com",
    email: "alice@example.com",
    groups: ["staff"],
    attributes: { department: "Engineering" },
  },
];

/** RSA only, the store keeps its own PIN (its password): what a software store can do. */
function registryPolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    id: "registry-staff",
    version: 1,
    name: "Registry certificate",
    priority: 10,
    appliesTo: { groups: ["staff"] },
    deviceTypes: ["software"],
    certificates: [
      {
        id: "auth",
        name: "Authentication",
        mandatory: true,
        caId: CA_ID,
        slot: "9a",
        keyAlgorithm: "RSA2048",
        subject: "CN={displayName},OU={attributes.department},O=Example",
        san: { upn: "{upn}" },
        keyUsage: ["digitalSignature", "keyEncipherment"],
        extendedKeyUsage: ["clientAuth"],
        validityDays: 365,
      },
    ],
    pin: {
      minLength: 8,
      maxLength: 128,
      allowed: ["digits", "lower", "upper", "special"],
      random: false,
      setOnIssue: false,
    },
    initialiseOnIssue: false,
    ...overrides,
  };
}

let ca: EmbeddedCa;
const cleanups: Array<() => void> = [];
beforeAll(async () => {
  ca = await EmbeddedCa.create({
    id: CA_ID,
    subject: "CN=Registry Test CA,O=Example",
    keyAlgorithm: "ECCP256",
    validityDays: 30,
  });
});
afterAll(() => {
  for (const c of cleanups) c();
});

function sdk(policy: Policy): { cardwright: Cardwright; store: InMemoryStore } {
  const store = new InMemoryStore();
  const cardwright = new Cardwright({
    store,
    vault: new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" }),
    directory: new InMemoryDirectory(users),
    certificateAuthorities: [ca],
    policies: [policy],
  });
  return { cardwright, store };
}

async function newStore(): Promise<SoftwareStoreDevice> {
  const t = tempDir("cw-sw-issue-");
  cleanups.push(t.cleanup);
  return SoftwareStoreDevice.create(join(t.dir, "user-store"), { password: PASSWORD, iterations: MIN_ITERATIONS });
}

describe("issueCard on a software store", () => {
  it("issues into a PKCS#12 file that openssl opens and whose certificate verifies", async () => {
    const { cardwright, store } = sdk(registryPolicy());
    const device = await newStore();
    const result = await cardwright.issueCard({ userId: "alice", device, actor: "operator" });
    expect(result.status).toBe("active");
    if (result.status !== "active") return;
    expect(result.pin).toBeUndefined();
    expect(result.card.deviceSerial).toBe(device.identity.serial);
    expect(result.certificates).toHaveLength(1);
    const record = result.certificates[0];
    expect(record?.status).toBe("written");
    expect(record?.slot).toBe("9a");

    const out = openssl(["pkcs12", "-in", "9a.p12", "-passin", "env:CW_PASS", "-nodes"], {
      cwd: device.directory,
      password: PASSWORD,
    });
    expect(out.status, out.stderr).toBe(0);
    expect(pemBlocks(out.stdout, "PRIVATE KEY")).toHaveLength(1);
    const certs = pemBlocks(out.stdout, "CERTIFICATE");
    expect(certs).toHaveLength(1);
    expect(Buffer.from(certs[0] ?? []).toString("base64")).toBe(record?.certificate);
    expect(Buffer.from((await device.readCertificate("9a")) ?? []).toString("base64")).toBe(record?.certificate);

    const work = tempDir("cw-sw-verify-");
    cleanups.push(work.cleanup);
    const chain = await ca.chain();
    writeFileSync(join(work.dir, "root.pem"), pem("CERTIFICATE", chain[chain.length - 1] ?? new Uint8Array()));
    writeFileSync(join(work.dir, "leaf.pem"), pem("CERTIFICATE", certs[0] ?? new Uint8Array()));
    const verified = openssl(["verify", "-CAfile", "root.pem", "leaf.pem"], { cwd: work.dir });
    expect(verified.stdout, verified.stderr).toContain("leaf.pem: OK");
    writeFileSync(join(work.dir, "bundle.pem"), out.stdout);
    const fromKey = openssl(["pkey", "-in", "bundle.pem", "-pubout"], { cwd: work.dir }).stdout;
    expect(fromKey).toContain("PUBLIC KEY");
    expect(openssl(["x509", "-in", "bundle.pem", "-noout", "-pubkey"], { cwd: work.dir }).stdout).toBe(fromKey);
    const text = openssl(["x509", "-in", "leaf.pem", "-noout", "-subject"], { cwd: work.dir }).stdout;
    expect(text).toContain("CN = Alice Example");

    const objects = await device.listObjects();
    expect(objects.map((o) => o.slot)).toEqual(["9a"]);
    expect((await cardwright.verifyAudit()).ok).toBe(true);
    expect((await store.cards.get(result.card.id))?.state).toBe("active");
  });

  it("issues two RSA certificates, signs under the store password as PIN, and keeps the password out of the records", async () => {
    const base = registryPolicy();
    const first = base.certificates[0] as Policy["certificates"][number];
    const policy = registryPolicy({
      certificates: [
        first,
        { ...first, id: "sign", name: "Signature", slot: "9c", keyAlgorithm: "RSA3072", san: { email: "{email}" } },
      ],
    });
    const { cardwright, store } = sdk(policy);
    const created = await newStore();
    await created.close();
    const device = await SoftwareStoreDevice.open(created.directory, { password: PASSWORD });
    const result = await cardwright.issueCard({ userId: "alice", device, actor: "operator" });
    expect(result.status).toBe("active");
    if (result.status !== "active") return;
    expect(result.certificates.map((c) => [c.slot, c.status]).sort()).toEqual([
      ["9a", "written"],
      ["9c", "written"],
    ]);
    const message = new TextEncoder().encode("signed after issue");
    for (const [slot, algorithm] of [
      ["9a", "RSA2048"],
      ["9c", "RSA3072"],
    ] as const) {
      await device.verifyPin(PASSWORD);
      const signature = await device.sign(slot, algorithm, "SHA-256", message);
      const record = result.certificates.find((c) => c.slot === slot);
      const spki = parseCertificate(Uint8Array.from(Buffer.from(record?.certificate ?? "", "base64"))).spki;
      const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
      expect(verify("sha256", message, key, signature), slot).toBe(true);
    }
    const everything = JSON.stringify([
      await store.cards.list(),
      await store.certificates.list(),
      await store.operations.list(),
      await cardwright.listAudit(),
    ]);
    expect(everything).not.toContain(PASSWORD);
    expect((await store.cards.get(result.card.id))?.adminCredential).toBeUndefined();
  });

  const refusals: Array<[string, Partial<Policy>, string, string | undefined]> = [
    [
      "an ECC template",
      {
        certificates: [
          { ...registryPolicy().certificates[0], keyAlgorithm: "ECCP256" } as Policy["certificates"][number],
        ],
      },
      "keyAlgorithm",
      undefined,
    ],
    [
      "a random PIN",
      { pin: { minLength: 8, maxLength: 8, allowed: ["digits"], random: true } },
      "pinChange",
      undefined,
    ],
    [
      "a chosen PIN set at issue",
      { pin: { minLength: 8, maxLength: 64, allowed: ["digits"], random: false } },
      "pinChange",
      "12345678",
    ],
    ["initialisation on issue", { initialiseOnIssue: true }, "reset", undefined],
  ];
  for (const [what, overrides, capability, pin] of refusals) {
    it(`refuses a policy with ${what} before generating anything, naming ${capability}`, async () => {
      const { cardwright, store } = sdk(registryPolicy(overrides));
      const device = await newStore();
      let error: unknown;
      try {
        await cardwright.issueCard({
          userId: "alice",
          device,
          actor: "operator",
          ...(pin === undefined ? {} : { pin }),
        });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(CardwrightError);
      const err = error as CardwrightError;
      expect(err.code).toBe("DEVICE_CAPABILITY");
      expect(err.details.capability).toBe(capability);
      expect(readdirSync(device.directory).filter((n) => n.endsWith(".p12"))).toEqual([]);
      expect(await store.certificates.list({})).toEqual([]);
      const actions = (await cardwright.listAudit()).map((e) => e.action);
      expect(actions).not.toContain("key.generated");
      expect(actions).not.toContain("request.created");
    });
  }

  it("rejects a policy that keeps the device PIN yet asks for a random one", () => {
    let error: unknown;
    try {
      sdk(
        registryPolicy({ pin: { minLength: 8, maxLength: 8, allowed: ["digits"], random: true, setOnIssue: false } }),
      );
    } catch (err) {
      error = err;
    }
    expect((error as CardwrightError).code).toBe("POLICY_INVALID");
    expect((error as CardwrightError).details.rule).toBe("pin.setOnIssue");
  });
});
