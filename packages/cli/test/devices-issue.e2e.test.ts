/**
 * The same issue workflow (Cardwright.issueCard, embedded CA, PGlite store, AES-GCM vault) on
 * every kind of device cardwright drives: the virtual PIV card over APDUs, a SoftHSM2 token and a
 * TPM virtual smart card (tpm2-pkcs11 over swtpm) over PKCS#11, and the software certificate
 * store (PKCS#12 files). Each device gets a policy its capabilities allow; each result is checked
 * by tools we did not write: `openssl verify` against the CA, `pkcs11-tool --list-objects` logged
 * in with the PIN the workflow delivered, and `openssl pkcs12` on the store's files.
 *
 * The table below is the extension point: a new device kind is one more {@link DeviceCase}.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CertificateTemplate,
  type Device,
  type DeviceType,
  type IssueResult,
  type KeyAlgorithm,
  type Policy,
  parseCertificate,
} from "@cardwright/core";
import { PivDevice } from "@cardwright/pcsc";
import { Pkcs11DeviceProvider } from "@cardwright/pkcs11";
import { createSoftHsm, startTpmVsc } from "@cardwright/pkcs11/testing";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { SoftwareStoreDevice } from "@cardwright/software-store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staffPivPolicy } from "../src/index.js";
import { expectSlotSignaturesVerify } from "./support/card-checks.js";
import { verifyCertificate } from "./support/openssl.js";
import { pkcs11Tool } from "./support/pkcs11-tool.js";
import { openParts, sdkOver } from "./support/stack.js";
import { describeRun, tool } from "./support/tools.js";

/** A device under test, opened and ready, and how tools outside this process reach it. */
interface OpenedDevice {
  device: Device;
  /** For PKCS#11 devices: the module, token label and environment pkcs11-tool needs. */
  pkcs11?: { module: string; label: string; env: NodeJS.ProcessEnv };
  /** For the software store: its directory and password, which is also its PIN. */
  softwareStore?: { directory: string; password: string };
  close(): Promise<void>;
}

/** One row of the table: a device kind, the policy it is issued under, and how to make one. */
interface DeviceCase {
  name: string;
  type: DeviceType;
  /** Slot and key algorithm of each of the policy's two certificates. */
  slots: readonly [readonly [string, KeyAlgorithm], readonly [string, KeyAlgorithm]];
  initialiseOnIssue: boolean;
  /** Random PIN length and whether a random PUK is set (PKCS#11 tokens have none). */
  pin: Policy["pin"];
  open(): Promise<OpenedDevice>;
}

const pivPin = staffPivPolicy.pin;
/** PKCS#11 PINs: SoftHSM2 takes 4–255 characters, tpm2-pkcs11 any; 10 random digits, no PUK (the SO PIN unblocks). */
const tokenPin: Policy["pin"] = { minLength: 8, maxLength: 16, allowed: ["digits"], random: true, randomLength: 10 };

/** The software store keeps its own password as PIN: the policy sets no PIN (and there is no PUK). */
const storePin: Policy["pin"] = {
  minLength: 8,
  maxLength: 128,
  allowed: ["digits", "lower", "upper", "special"],
  random: false,
  setOnIssue: false,
};
const STORE_PASSWORD = "e2e store password";

const DEVICES: readonly DeviceCase[] = [
  {
    name: "virtual PIV card (in memory, APDUs)",
    type: "piv",
    slots: [
      ["9a", "ECCP256"],
      ["9c", "RSA2048"],
    ],
    initialiseOnIssue: true,
    pin: pivPin,
    open: async () => {
      const card = await VirtualPivCard.create();
      const device = await PivDevice.open(new InMemoryTransport(card));
      return { device, close: () => device.close() };
    },
  },
  {
    name: "SoftHSM2 token (PKCS#11)",
    type: "pkcs11",
    slots: [
      ["01", "ECCP384"],
      ["02", "RSA3072"],
    ],
    initialiseOnIssue: true,
    pin: tokenPin,
    open: async () => {
      const softhsm = await createSoftHsm({ labels: ["cw-e2e-softhsm"] });
      const provider = new Pkcs11DeviceProvider({
        module: softhsm.module,
        initialSoPin: softhsm.soPin,
        initialUserPin: softhsm.userPin,
      });
      const device = await provider.open({ label: "cw-e2e-softhsm" });
      return {
        device,
        pkcs11: { module: softhsm.module, label: "cw-e2e-softhsm", env: softhsm.env },
        close: async () => {
          await device.close();
          await provider.close();
          await softhsm.close();
        },
      };
    },
  },
  {
    name: "TPM virtual smart card (tpm2-pkcs11 over swtpm)",
    type: "tpm-vsc",
    slots: [
      ["01", "ECCP256"],
      ["02", "RSA2048"],
    ],
    // tpm2-pkcs11 cannot re-initialise a token (capabilities.reset is false).
    initialiseOnIssue: false,
    pin: tokenPin,
    open: async () => {
      const vsc = await startTpmVsc({ labels: ["cw-e2e-vsc"] });
      const provider = new Pkcs11DeviceProvider({
        module: vsc.module,
        profile: "tpm-vsc",
        initialSoPin: vsc.soPin,
        initialUserPin: vsc.userPin,
      });
      const device = await provider.open({ label: "cw-e2e-vsc" });
      return {
        device,
        pkcs11: { module: vsc.module, label: "cw-e2e-vsc", env: vsc.env },
        close: async () => {
          await device.close();
          await provider.close();
          await vsc.close();
        },
      };
    },
  },
  {
    name: "software certificate store (PKCS#12 files)",
    type: "software",
    // RSA only, like the registry cards of commercial systems.
    slots: [
      ["9a", "RSA2048"],
      ["9c", "RSA3072"],
    ],
    initialiseOnIssue: false,
    pin: storePin,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "cw-e2e-softstore-"));
      const directory = join(dir, "user-store");
      await (
        await SoftwareStoreDevice.create(directory, { password: STORE_PASSWORD, scope: "user", iterations: 2048 })
      ).close();
      const device = await SoftwareStoreDevice.open(directory, { password: STORE_PASSWORD });
      return {
        device,
        softwareStore: { directory, password: STORE_PASSWORD },
        close: async () => {
          await device.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

/** The staff policy, re-targeted at one device kind: same templates, the device's slots and algorithms. */
function policyFor(c: DeviceCase): Policy {
  const certificates = staffPivPolicy.certificates.map(
    (t, i): CertificateTemplate => ({
      ...t,
      slot: c.slots[i]?.[0] as string,
      keyAlgorithm: c.slots[i]?.[1] as KeyAlgorithm,
    }),
  );
  return {
    ...staffPivPolicy,
    id: `staff-${c.type}`,
    deviceTypes: [c.type],
    initialiseOnIssue: c.initialiseOnIssue,
    pin: c.pin,
    certificates,
  };
}

const b64 = (s: string) => Uint8Array.from(Buffer.from(s, "base64"));

describe.each(DEVICES)("issue on a $name", (c) => {
  let opened: OpenedDevice;
  let parts: Awaited<ReturnType<typeof openParts>>;
  let sdk: ReturnType<typeof sdkOver>;
  let result: Extract<IssueResult, { status: "active" }>;

  beforeAll(async () => {
    opened = await c.open();
    parts = await openParts(mkdtempSync(join(tmpdir(), `cw-devices-${c.type}-`)));
    sdk = sdkOver(parts, policyFor(c));
    const r = await sdk.cardwright.issueCard({ userId: "alice", device: opened.device, actor: "operator-1" });
    expect(r.status).toBe("active");
    result = r as typeof result;
  }, 180_000);
  afterAll(async () => {
    await opened?.close();
    await parts?.store.close();
  });

  it("records an active card of the device's type with both certificates written", () => {
    expect(result.card.state).toBe("active");
    expect(result.card.deviceSerial).toBe(opened.device.identity.serial);
    expect(opened.device.identity.type).toBe(c.type);
    expect(result.certificates.map((r) => [r.slot, r.status]).sort()).toEqual(
      c.slots.map(([slot]) => [slot, "written"]).sort(),
    );
  });

  it("issued certificates that openssl verify accepts against the embedded CA, for the device's keys", async () => {
    const chain = await parts.ca.chain();
    for (const record of result.certificates) {
      const der = b64(record.certificate as string);
      const v = verifyCertificate(der, chain);
      expect(v.output).toContain("cert.pem: OK");
      expect(v.status).toBe(0);
      const onDevice = await opened.device.readCertificate(record.slot);
      expect(Buffer.from(onDevice as Uint8Array).equals(Buffer.from(der))).toBe(true);
      const listed = (await opened.device.listObjects()).find((o) => o.slot === record.slot);
      expect(Buffer.from(listed?.publicKey?.spki ?? []).equals(Buffer.from(parseCertificate(der).spki))).toBe(true);
    }
  });

  it("signs with each key under the store's password, which is its PIN (software store)", async (ctx) => {
    if (opened.softwareStore === undefined) {
      ctx.skip();
      return;
    }
    expect(result.pin).toBeUndefined();
    await expectSlotSignaturesVerify(opened.device, result.certificates, opened.softwareStore.password, c.slots);
  });

  it("signs with each key under the random PIN delivered through the notifier", async (ctx) => {
    if (!c.pin.random) {
      ctx.skip();
      return;
    }
    expect(result.pin).toMatch(c.type === "piv" ? /^\d{8}$/ : /^\d{10}$/);
    expect(sdk.notifier.ofKind("pin").some((n) => n.pin === result.pin)).toBe(true);
    await expectSlotSignaturesVerify(opened.device, result.certificates, result.pin as string, c.slots);
  });

  it("replaced the factory admin credential with a vault-wrapped per-card one", async (ctx) => {
    if (!opened.device.capabilities.adminCredentialChange) {
      ctx.skip();
      return;
    }
    const card = await parts.store.cards.get(result.card.id);
    expect(card?.adminCredential?.alg).toBe("A256GCM");
    const factory = await opened.device.factoryCredentials();
    await expect(opened.device.authenticateAdmin(factory.admin)).rejects.toMatchObject({
      code: c.type === "piv" ? "PIV_AUTH_FAILED" : "PKCS11_PIN_INCORRECT",
    });
    const secret = await sdk.vault.unwrap(
      card?.adminCredential as NonNullable<typeof card>["adminCredential"] & object,
      `cardwright:card:${result.card.id}:admin-credential`,
    );
    const stored =
      factory.admin.kind === "so-pin"
        ? { kind: "so-pin" as const, pin: new TextDecoder().decode(secret) }
        : { ...factory.admin, key: secret };
    await opened.device.authenticateAdmin(stored);
    // Neither the PIN nor the admin secret is anywhere in the store.
    const everything = JSON.stringify([
      await parts.store.cards.list(),
      await parts.store.certificates.list(),
      await parts.store.operations.list(),
      await parts.store.audit.list(),
    ]);
    expect(everything).not.toContain(result.pin as string);
    if (stored.kind === "so-pin") expect(everything).not.toContain(stored.pin);
  });

  it("shows pkcs11-tool the certificates and private keys under their CKA_IDs (PKCS#11 devices)", async (ctx) => {
    const p11 = opened.pkcs11;
    if (p11 === undefined) {
      ctx.skip();
      return;
    }
    const run = await pkcs11Tool(
      p11.module,
      ["--token-label", p11.label, "--login", "--pin", result.pin as string, "--list-objects"],
      p11.env,
    );
    expect(run.status, describeRun(run)).toBe(0);
    for (const [slot] of c.slots) {
      const certificates = run.stdout.split(/(?=Certificate Object|Private Key Object|Public Key Object)/);
      expect(
        certificates.some(
          (block) => block.startsWith("Certificate Object") && new RegExp(`ID:\\s+${slot}\\b`).test(block),
        ),
        describeRun(run),
      ).toBe(true);
      expect(
        certificates.some(
          (block) => block.startsWith("Private Key Object") && new RegExp(`ID:\\s+${slot}\\b`).test(block),
        ),
        describeRun(run),
      ).toBe(true);
    }
    expect(run.stdout).toContain("Alice Example");
  });

  it("left files openssl pkcs12 reads: each slot's certificate with its key (software store)", async (ctx) => {
    const store = opened.softwareStore;
    if (store === undefined) {
      ctx.skip();
      return;
    }
    for (const record of result.certificates) {
      const run = await tool("openssl", [
        "pkcs12",
        "-in",
        join(store.directory, `${record.slot}.p12`),
        "-passin",
        `pass:${store.password}`,
        "-nodes",
      ]);
      expect(run.status, describeRun(run)).toBe(0);
      expect(run.stdout).toContain("-----BEGIN PRIVATE KEY-----");
      const pem = run.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0] ?? "";
      const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
      expect(der.equals(Buffer.from(b64(record.certificate as string)))).toBe(true);
    }
  });
});

describe("refusals before anything is generated", () => {
  it("refuses a random PUK on a PKCS#11 token, whose SO PIN is the unblocking credential", async () => {
    const softhsm = await createSoftHsm({ labels: ["cw-e2e-puk"] });
    const provider = new Pkcs11DeviceProvider({
      module: softhsm.module,
      initialSoPin: softhsm.soPin,
      initialUserPin: softhsm.userPin,
    });
    const parts = await openParts(mkdtempSync(join(tmpdir(), "cw-devices-puk-")));
    try {
      const device = await provider.open({ label: "cw-e2e-puk" });
      const c = DEVICES.find((d) => d.type === "pkcs11") as DeviceCase;
      const sdk = sdkOver(parts, { ...policyFor(c), pin: { ...tokenPin, randomPuk: true } });
      await expect(sdk.cardwright.issueCard({ userId: "alice", device, actor: "operator-1" })).rejects.toMatchObject({
        code: "DEVICE_CAPABILITY",
        details: { capability: "pukChange" },
      });
      expect((await device.listObjects()).length).toBe(0);
      expect(await parts.ca.listIssued()).toEqual([]);
      await device.close();
    } finally {
      await provider.close();
      await softhsm.close();
      await parts.store.close();
    }
  });
});
