/**
 * End-to-end card update on a virtual YubiKey with the embedded CA and the PGlite store, every part
 * real: issue under policy A, update to policy B (remove + add + keep), renew inside the window
 * (same key and rekey) and on a changed tracked attribute, a CA holding a renewal (`pending`, then
 * "continue card update" in another SDK instance), cancel update at every step (card objects and
 * store rows as before), a certificate written to the card outside cardwright found, registered,
 * and removed by policy; refusals by permission and by device capability. Certificates are checked
 * with `openssl verify`, revocation reasons in the CA's CRL with `openssl crl`. The only injected
 * faults are wrappers around the real device and CA that fail one chosen call.
 */
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  type CardRecord,
  type Cardwright,
  CardwrightError,
  type CertificateAuthority,
  type CertificateRecord,
  type CertificateTemplate,
  type Device,
  type DirectoryUser,
  type Policy,
  type UpdateResult,
} from "@cardwright/core";
import { InMemoryDirectory, RecordingNotifier } from "@cardwright/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "../src/index.js";
import { bare, crlEntries } from "./support/crl.js";
import { rejection } from "./support/errors.js";
import { openssl, opensslCertificate, verifyCertificate } from "./support/openssl.js";
import { pem } from "./support/pem.js";
import { createStack, type Stack, sdkWith } from "./support/stack.js";

const pivAuth = staffPivPolicy.certificates.find((t) => t.id === "piv-auth")!;
const keyManagement: CertificateTemplate = {
  id: "key-management",
  name: "Key Management",
  mandatory: true,
  caId: DEMO_CA_ID,
  slot: "9d",
  keyAlgorithm: "ECCP256",
  subject: "CN={displayName},O=Example Corp",
  san: { email: "{email}" },
  keyUsage: ["keyAgreement"],
  extendedKeyUsage: ["emailProtection"],
  validityDays: 365,
  renewalWindowDays: 30,
  trackedAttributes: ["attributes.department"],
};
/** Policy A is the demo's staff policy: PIV Authentication (9a) and Digital Signature (9c). */
const POLICY_A = staffPivPolicy;
/** Policy B drops Digital Signature and adds Key Management (9d). Matches nobody at issue. */
const POLICY_B: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-b",
  priority: 1,
  appliesTo: { groups: ["nobody"] },
  certificates: [pivAuth, keyManagement],
};
/** Policy C is B with a renewal window longer than the validity: PIV Authentication is always due. */
const POLICY_C: Policy = {
  ...POLICY_B,
  id: "staff-piv-c",
  certificates: [{ ...pivAuth, renewalWindowDays: 400 }, keyManagement],
};
/** Policy F is B, removing certificates written outside cardwright. */
const POLICY_F: Policy = { ...POLICY_B, id: "staff-piv-f", foreignCertificates: "remove" };
const POLICIES = [POLICY_A, POLICY_B, POLICY_C, POLICY_F];

const operator = { id: "operator-1", kind: "operator" as const };
const b64 = (der: Uint8Array) => Buffer.from(der).toString("base64");

/** The real CA, failing the next call of a chosen method once. */
class FaultyCa implements CertificateAuthority {
  fail: { method: "submit" | "renew" | "revoke" | "poll"; call: number } | undefined;
  readonly #calls = new Map<string, number>();
  constructor(readonly ca: EmbeddedCa) {}
  get id() {
    return this.ca.id;
  }
  get renewal() {
    return this.ca.renewal;
  }
  #check(method: "submit" | "renew" | "revoke" | "poll") {
    const n = (this.#calls.get(method) ?? 0) + 1;
    this.#calls.set(method, n);
    if (this.fail?.method === method && this.fail.call === n) {
      this.fail = undefined;
      throw new CardwrightError("CA_BAD_RESPONSE", `injected: the CA answered garbage to ${method}`, { details: {} });
    }
  }
  reset(fail?: FaultyCa["fail"]) {
    this.#calls.clear();
    this.fail = fail;
  }
  submit: CertificateAuthority["submit"] = async (r) => {
    this.#check("submit");
    return this.ca.submit(r);
  };
  renew: CertificateAuthority["renew"] = async (r) => {
    this.#check("renew");
    return this.ca.renew(r);
  };
  poll: CertificateAuthority["poll"] = async (id) => {
    this.#check("poll");
    return this.ca.poll(id);
  };
  revoke: CertificateAuthority["revoke"] = async (s, reason) => {
    this.#check("revoke");
    return this.ca.revoke(s, reason);
  };
  suspend: CertificateAuthority["suspend"] = (s) => this.ca.suspend(s);
  unsuspend: CertificateAuthority["unsuspend"] = (s) => this.ca.unsuspend(s);
  chain: CertificateAuthority["chain"] = () => this.ca.chain();
}

type DeviceMethod = "authenticateAdmin" | "generateKeyPair" | "sign" | "writeCertificate" | "deleteCertificate";

/** The real card, failing the `call`-th call of `method` once (as if the card was pulled). */
function faultyDevice(device: Device, fail: { method: DeviceMethod; call: number }): Device {
  let calls = 0;
  return new Proxy(device, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop !== fail.method) return value.bind(target);
      return async (...args: unknown[]) => {
        calls++;
        if (calls === fail.call) {
          throw new CardwrightError("APDU_CARD_REMOVED", `injected: card removed during ${String(prop)}`, {
            details: {},
          });
        }
        return value.apply(target, args);
      };
    },
  });
}

/** The same card telling the SDK it has no slot 9d. */
function withoutSlot9d(device: Device): Device {
  const capabilities = { ...device.capabilities, slots: device.capabilities.slots.filter((s) => s !== "9d") };
  return new Proxy(device, {
    get(target, prop) {
      if (prop === "capabilities") return capabilities;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The SDK over the stack's store with `ca`, the policies above and a single CA attempt (faults surface at once). */
function updateSdk(
  stack: Stack,
  ca: CertificateAuthority,
  directory: InMemoryDirectory,
  notifier?: RecordingNotifier,
): Cardwright {
  return sdkWith(stack, ca, {
    directory,
    policies: POLICIES,
    caRetry: { attempts: 1 },
    ...(notifier === undefined ? {} : { notifier }),
  });
}

/** What must come back after a cancel: the card row, the certificate rows, and what the card holds. */
interface Picture {
  card: Pick<CardRecord, "state" | "policyId" | "policyVersion" | "pendingOperationId" | "adminCredential" | "puk">;
  certificates: Array<Pick<CertificateRecord, "id" | "status" | "serialHex" | "slot" | "certificate">>;
  /** Slot → certificate DER (base64), for every slot holding one. */
  onCard: Record<string, string>;
  /** Slot → public key (base64 SPKI) of the slots that held a key before. */
  keys: Record<string, string>;
}

async function picture(stack: Stack, cardId: string): Promise<Picture> {
  const c = (await stack.store.cards.get(cardId))!;
  const objects = await stack.device.listObjects();
  return {
    card: {
      state: c.state,
      policyId: c.policyId,
      policyVersion: c.policyVersion,
      pendingOperationId: c.pendingOperationId,
      adminCredential: c.adminCredential,
      puk: c.puk,
    },
    certificates: (await stack.store.certificates.list({ cardId }))
      .map(({ id, status, serialHex, slot, certificate }) => ({ id, status, serialHex, slot, certificate }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    onCard: Object.fromEntries(objects.filter((o) => o.certificate).map((o) => [o.slot, b64(o.certificate!)])),
    keys: Object.fromEntries(
      objects.filter((o) => o.publicKey && ["9a", "9c"].includes(o.slot)).map((o) => [o.slot, b64(o.publicKey!.spki)]),
    ),
  };
}

describe("card update on a virtual YubiKey with the embedded CA", () => {
  let stack: Stack;
  let faulty: FaultyCa;
  let directory: InMemoryDirectory;
  let sdk: Cardwright;
  let cardId: string;
  let pin: string;
  const secrets: string[] = [];
  const users: DirectoryUser[] = structuredClone(sampleUsers);

  beforeAll(async () => {
    stack = await createStack();
    faulty = new FaultyCa(stack.ca);
    directory = new InMemoryDirectory(users);
    sdk = updateSdk(stack, faulty, directory);
    const r = await sdk.issueCard({ userId: "alice", device: stack.device, actor: "operator-1" });
    if (r.status !== "active") throw new Error("issue did not complete");
    cardId = r.card.id;
    pin = r.pin!;
    expect(r.card.policyId).toBe(POLICY_A.id);
    const record = (await stack.store.cards.get(cardId))!;
    const key = Buffer.from(
      await stack.vault.unwrap(record.adminCredential!, `cardwright:card:${cardId}:admin-credential`),
    );
    const puk = Buffer.from(await stack.vault.unwrap(record.puk!, `cardwright:card:${cardId}:puk`)).toString("utf8");
    secrets.push(pin, puk, key.toString("hex"), key.toString("base64"));
  });
  afterAll(async () => stack?.close());

  it("refuses by permission (AUTHZ_DENIED naming it) and by device capability, changing nothing", async () => {
    const before = await picture(stack, cardId);
    const opsBefore = (await stack.store.operations.list({ cardId })).length;
    const bob = { id: "bob", kind: "user" as const };
    const denied = await rejection(sdk.updateCard({ cardId, device: stack.device, actor: bob, pin }));
    expect(denied.code).toBe("AUTHZ_DENIED");
    expect(denied.details.permission).toBe("user:update:any:active");
    const alice = { id: "alice", kind: "user" as const };
    const register = await rejection(
      sdk.registerCertificate({ cardId, device: stack.device, slot: "9e", actor: alice }),
    );
    expect(register.details.permission).toBe("user:register-certificate:own:active");
    const capability = await rejection(
      sdk.updateCard({ cardId, device: withoutSlot9d(stack.device), actor: operator, policyId: POLICY_B.id, pin }),
    );
    expect(capability.code).toBe("DEVICE_CAPABILITY");
    expect(capability.details).toMatchObject({ slot: "9d", templateId: "key-management" });
    const noPin = await rejection(
      sdk.updateCard({ cardId, device: stack.device, actor: operator, policyId: POLICY_B.id }),
    );
    expect(noPin.code).toBe("PIV_SECURITY_STATUS");
    expect(await picture(stack, cardId)).toEqual(before);
    expect(await stack.store.operations.list({ cardId })).toHaveLength(opsBefore);
    const refused = (await stack.store.audit.list({ cardId })).filter((e) => e.action === "operation.refused");
    expect(refused.map((e) => [e.actor, e.details?.code])).toEqual([
      ["bob", "AUTHZ_DENIED"],
      ["alice", "AUTHZ_DENIED"],
      ["operator-1", "DEVICE_CAPABILITY"],
      ["operator-1", "PIV_SECURITY_STATUS"],
    ]);
  });

  /**
   * A → C removes Digital Signature (9c), adds Key Management (9d) and renews PIV Authentication
   * (9a, same key): each scenario stops the update at one step, then cancels it.
   */
  const scenarios: Array<{
    step: string;
    device?: { method: DeviceMethod; call: number };
    ca?: FaultyCa["fail"];
    /** Certificates the CA issued for the update before it stopped. */
    issued: number;
  }> = [
    { step: "authenticateAdmin", device: { method: "authenticateAdmin", call: 1 }, issued: 0 },
    { step: "generateKey", device: { method: "generateKeyPair", call: 1 }, issued: 1 },
    { step: "buildCsr", device: { method: "sign", call: 1 }, issued: 0 },
    { step: "submitRequest (renewal)", ca: { method: "renew", call: 1 }, issued: 0 },
    { step: "submitRequest (add)", ca: { method: "submit", call: 1 }, issued: 1 },
    { step: "writeCertificates (first)", device: { method: "writeCertificate", call: 1 }, issued: 2 },
    { step: "writeCertificates (second)", device: { method: "writeCertificate", call: 2 }, issued: 2 },
  ];

  for (const s of scenarios) {
    it(`cancel after a failure in ${s.step} restores card and record; what was issued is revoked`, async () => {
      const before = await picture(stack, cardId);
      faulty.reset(s.ca);
      const device = s.device === undefined ? stack.device : faultyDevice(stack.device, s.device);
      const err = await rejection(
        sdk.updateCard({ cardId, device, actor: operator, policyId: POLICY_C.id, pin, comment: `try ${s.step}` }),
      );
      expect(err.details).toMatchObject({ resumable: true, cancellable: true });
      const operationId = String(err.details.operationId);
      expect((await stack.store.operations.get(operationId))!.status).toBe("pending");
      expect((await stack.store.cards.get(cardId))!.state).toBe("updating");
      // The old certificates are untouched while the update is open.
      expect((await picture(stack, cardId)).onCard["9c"]).toBe(before.onCard["9c"]);

      const r = await sdk.cancelUpdate({ cardId, device: stack.device, actor: operator, comment: "changed my mind" });
      expect(r.status).toBe("cancelled");
      const after = await picture(stack, cardId);
      expect(after.card).toEqual(before.card);
      expect(after.onCard).toEqual(before.onCard);
      expect(after.keys).toEqual(before.keys);
      // Rows that existed are as they were; rows the update added are revoked certificates.
      const old = new Set(before.certificates.map((c) => c.id));
      expect(after.certificates.filter((c) => old.has(c.id))).toEqual(before.certificates);
      const added = after.certificates.filter((c) => !old.has(c.id));
      expect(added).toHaveLength(s.issued);
      const crl = crlEntries(await stack.ca.crl());
      for (const c of added) {
        expect(c.status).toBe("revoked");
        expect(crl.get(bare(c.serialHex!))).toBe("Cessation Of Operation");
      }
      expect((await stack.store.operations.get(operationId))!.status).toBe("failed");
      const cancelled = (await stack.store.audit.list({ cardId })).find(
        (e) => e.operationId === operationId && e.action === "update.cancelled",
      );
      expect(cancelled).toMatchObject({
        actor: "operator-1",
        details: { from: "updating", to: "active", comment: "changed my mind", actorKind: "operator" },
      });
    });
  }

  it("a CA holding the request: the update rests pending; cancel without the card revokes nothing it did not issue", async () => {
    const before = await picture(stack, cardId);
    const manual = await EmbeddedCa.open({ directory: join(stack.dir, "ca"), approvalMode: "manual" });
    const held = updateSdk(stack, manual, directory);
    const r = await held.updateCard({ cardId, device: stack.device, actor: operator, policyId: POLICY_C.id, pin });
    expect(r.status).toBe("pending");
    const pending = r as Extract<UpdateResult, { status: "pending" }>;
    expect(pending.pendingRequests.map((p) => p.templateId).sort()).toEqual(["key-management", "piv-auth"]);
    expect(pending.card.state).toBe("updating");
    // The user may not cancel under the default permissions.
    const alice = { id: "alice", kind: "user" as const };
    const denied = await rejection(held.cancelUpdate({ cardId, actor: alice }));
    expect(denied.details.permission).toBe("user:cancel-update:own:updating");
    // One request is approved meanwhile: cancel must revoke that certificate; the other is abandoned.
    await manual.approve(pending.pendingRequests[0]!.caRequestId!);
    const c = await held.cancelUpdate({ operationId: pending.operationId, actor: operator, comment: "not now" });
    expect(c.status).toBe("cancelled");
    const after = await picture(stack, cardId);
    expect(after.card).toEqual(before.card);
    expect(after.onCard).toEqual(before.onCard);
    const added = after.certificates.filter((x) => !before.certificates.some((b) => b.id === x.id));
    expect(added.map((x) => x.status)).toEqual(["revoked"]);
    const actions = (await stack.store.audit.list({ cardId }))
      .filter((e) => e.operationId === pending.operationId)
      .map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["request.pending", "request.abandoned", "update.cancelled"]));
    const pendingAtCa = await manual.listPending();
    expect(pendingAtCa.map((p) => p.caRequestId)).toContain(pending.pendingRequests[1]!.caRequestId);
    await manual.reject(pending.pendingRequests[1]!.caRequestId!, "cancelled at the CMS");
  });

  it("a CA rejecting the held requests cancels the update on continue and tells the holder", async () => {
    const before = await picture(stack, cardId);
    const manual = await EmbeddedCa.open({ directory: join(stack.dir, "ca"), approvalMode: "manual" });
    const notifier = new RecordingNotifier();
    const held = updateSdk(stack, manual, directory, notifier);
    const r = await held.updateCard({ cardId, device: stack.device, actor: operator, policyId: POLICY_C.id, pin });
    expect(r.status).toBe("pending");
    const pending = r as Extract<UpdateResult, { status: "pending" }>;
    for (const p of pending.pendingRequests) await manual.reject(p.caRequestId!, "not entitled");
    const err = await rejection(
      held.continueUpdate(pending.operationId, { actor: operator, device: stack.device, pin }),
    );
    expect(err.code).toBe("CA_REJECTED");
    expect(err.message).toContain("the update was cancelled");
    const after = await picture(stack, cardId);
    expect(after.card).toEqual(before.card);
    expect(after.onCard).toEqual(before.onCard);
    const rejected = notifier.sent.filter((n) => n.kind === "update-rejected");
    expect(rejected).toEqual([
      expect.objectContaining({
        cardId,
        operationId: pending.operationId,
        reason: expect.stringContaining("not entitled"),
      }),
    ]);
    expect(notifier.sent.some((n) => n.kind === "updated")).toBe(false);
  });

  it("a failure in commit cannot be cancelled; continuing finishes the update to the new policy", async () => {
    const before = await picture(stack, cardId);
    faulty.reset({ method: "revoke", call: 1 });
    const err = await rejection(
      sdk.updateCard({ cardId, device: stack.device, actor: operator, policyId: POLICY_C.id, pin }),
    );
    expect(err.details).toMatchObject({ resumable: true, cancellable: false });
    const operationId = String(err.details.operationId);
    const refused = await rejection(sdk.cancelUpdate({ operationId, device: stack.device, actor: operator }));
    expect(refused.code).toBe("WORKFLOW_STATE");
    expect(refused.details.commitStarted).toBe(true);
    const other = updateSdk(stack, faulty, directory);
    const r = await other.continueUpdate(operationId, { device: stack.device, actor: operator });
    expect(r.status).toBe("completed");
    expect(r.card).toMatchObject({ state: "active", policyId: POLICY_C.id, policyVersion: POLICY_C.version });
    expect(r.card.pendingOperationId).toBeUndefined();
    const after = await picture(stack, cardId);
    // 9c removed from the card; 9d added; 9a renewed for the same key.
    expect(after.onCard["9c"]).toBeUndefined();
    expect(after.onCard["9d"]).toBeDefined();
    expect(after.onCard["9a"]).not.toBe(before.onCard["9a"]);
    expect(after.keys["9a"]).toBe(before.keys["9a"]);
    const chain = await stack.ca.chain();
    for (const slot of ["9a", "9d"]) {
      const v = verifyCertificate(new Uint8Array(Buffer.from(after.onCard[slot]!, "base64")), chain);
      expect(v.status, v.output).toBe(0);
    }
    const crl = crlEntries(await stack.ca.crl());
    const oldSig = before.certificates.find((c) => c.slot === "9c" && c.status === "written")!;
    const oldAuth = before.certificates.find((c) => c.slot === "9a" && c.status === "written")!;
    expect(crl.get(bare(oldSig.serialHex!))).toBe("Cessation Of Operation");
    expect(crl.get(bare(oldAuth.serialHex!))).toBe("Superseded");
    const rows = await stack.store.certificates.list({ cardId });
    expect(rows.find((c) => c.id === oldSig.id)?.status).toBe("removed");
    expect(rows.find((c) => c.id === oldAuth.id)?.status).toBe("revoked");
    const km = rows.find((c) => c.templateId === "key-management" && c.status === "written")!;
    expect(km.trackedAttributes).toEqual({ "attributes.department": "Engineering" });
  });

  it("renews on a changed tracked attribute, with a new key on request (rekey), under policy B", async () => {
    const before = await picture(stack, cardId);
    directory.put({ ...users[0]!, attributes: { department: "Legal" } });
    const preview = await sdk.inspectCard({ cardId, device: stack.device, policyId: POLICY_B.id });
    expect(preview.plan.renew.map((r) => [r.templateId, r.reasons])).toEqual([
      ["key-management", ["tracked-attributes"]],
    ]);
    expect(preview.plan.keep.map((k) => k.templateId)).toEqual(["piv-auth"]);
    const r = await sdk.updateCard({
      cardId,
      device: stack.device,
      actor: operator,
      policyId: POLICY_B.id,
      pin,
      renewal: "rekey",
      comment: "moved to Legal",
    });
    expect(r.status).toBe("completed");
    const after = await picture(stack, cardId);
    expect(after.onCard["9a"]).toBe(before.onCard["9a"]);
    expect(after.onCard["9d"]).not.toBe(before.onCard["9d"]);
    const rows = await stack.store.certificates.list({ cardId });
    const km = rows.find((c) => c.templateId === "key-management" && c.status === "written")!;
    expect(km.trackedAttributes).toEqual({ "attributes.department": "Legal" });
    const v = verifyCertificate(new Uint8Array(Buffer.from(after.onCard["9d"]!, "base64")), await stack.ca.chain());
    expect(v.status, v.output).toBe(0);
    // The new key: the certificate's public key differs from the one it renewed.
    const oldKm = before.certificates.find((c) => c.slot === "9d" && c.status === "written")!;
    const spki = (der: string) =>
      openssl(["x509", "-noout", "-pubkey", "-in", "c.pem"], {
        "c.pem": pem("CERTIFICATE", Buffer.from(der, "base64")),
      }).output;
    expect(spki(after.onCard["9d"]!)).not.toBe(spki(oldKm.certificate!));
    expect(crlEntries(await stack.ca.crl()).get(bare(oldKm.serialHex!))).toBe("Superseded");
    const started = (await stack.store.audit.list({ cardId })).find(
      (e) => e.operationId === r.operationId && e.action === "operation.started",
    );
    expect(started).toMatchObject({
      actor: "operator-1",
      details: { comment: "moved to Legal", renew: ["key-management:tracked-attributes"], keep: ["piv-auth"] },
    });
  });

  it("renewal held by the CA: pending, persisted; continue card update in another instance after approval", async () => {
    const manual = await EmbeddedCa.open({ directory: join(stack.dir, "ca"), approvalMode: "manual" });
    const first = updateSdk(stack, manual, directory);
    const r = await first.updateCard({ cardId, device: stack.device, actor: operator, policyId: POLICY_C.id, pin });
    expect(r.status).toBe("pending");
    const { operationId, pendingRequests } = r as Extract<UpdateResult, { status: "pending" }>;
    expect(pendingRequests.map((p) => p.templateId)).toEqual(["piv-auth"]);
    // Still held: continuing only polls, without the card.
    const second = updateSdk(stack, manual, directory);
    expect((await second.continueUpdate(operationId, { actor: operator })).status).toBe("pending");
    await manual.approve(pendingRequests[0]!.caRequestId!);
    const third = updateSdk(stack, faulty, directory);
    const done = await third.continueUpdate(operationId, { device: stack.device, actor: operator });
    expect(done.status).toBe("completed");
    expect(done.card).toMatchObject({ state: "active", policyId: POLICY_C.id });
    const auth = (await stack.store.certificates.list({ cardId })).find(
      (c) => c.templateId === "piv-auth" && c.status === "written",
    )!;
    expect(b64((await stack.device.readCertificate("9a"))!)).toBe(auth.certificate);
    const resumed = (await stack.store.audit.list({ cardId })).filter(
      (e) => e.operationId === operationId && e.action === "operation.resumed",
    );
    expect(resumed).toHaveLength(2);
  });

  it("finds a certificate written to the card outside cardwright, registers it on choice, removes another by policy", async () => {
    // A third party writes a key and an openssl-made certificate to 9e and 82, with the card's management key.
    const record = (await stack.store.cards.get(cardId))!;
    const key = await stack.vault.unwrap(record.adminCredential!, `cardwright:card:${cardId}:admin-credential`);
    await stack.device.authenticateAdmin({
      kind: "management-key",
      algorithm: record.adminCredentialAlgorithm as "AES192",
      key,
    });
    const foreignDer: Record<string, Uint8Array> = {};
    for (const [slot, cn] of [
      ["9e", "Door Access"],
      ["82", "Old VPN"],
    ] as const) {
      const publicKey = await stack.device.generateKeyPair(slot, "ECCP256");
      foreignDer[slot] = opensslCertificate({ subject: `/CN=${cn}`, days: 90, publicKey: publicKey.spki });
      await stack.device.writeCertificate(slot, foreignDer[slot]!);
    }
    const inspected = await sdk.inspectCard({ cardId, device: stack.device });
    expect(inspected.foreign.map((f) => [f.slot, f.subject, f.action])).toEqual([
      ["82", "CN=Old VPN", "keep"],
      ["9e", "CN=Door Access", "keep"],
    ]);
    const registered = await sdk.registerCertificate({
      cardId,
      device: stack.device,
      slot: "9e",
      actor: operator,
      comment: "building badge",
    });
    expect(registered).toMatchObject({ thirdParty: true, status: "written", slot: "9e", subject: "CN=Door Access" });
    expect(Date.parse(registered.notAfter!) - Date.parse(registered.notBefore!)).toBe(90 * 86_400_000);
    // Tracked for expiry like any certificate.
    const expiring = await sdk.listCertificates({
      cardId,
      expiringBefore: new Date(Date.now() + 100 * 86_400_000).toISOString(),
    });
    expect(expiring.map((c) => c.id)).toContain(registered.id);
    expect(
      (await rejection(sdk.registerCertificate({ cardId, device: stack.device, slot: "9e", actor: operator }))).code,
    ).toBe("STORE_DUPLICATE");
    // Policy F removes what is still foreign (82); the registered 9e stays.
    const r = await sdk.updateCard({ cardId, device: stack.device, actor: operator, policyId: POLICY_F.id, pin });
    expect(r.status).toBe("completed");
    expect(await stack.device.readCertificate("82")).toBeNull();
    expect(b64((await stack.device.readCertificate("9e"))!)).toBe(b64(foreignDer["9e"]!));
    const removed = (await stack.store.audit.list({ cardId })).find(
      (e) => e.operationId === r.operationId && e.action === "certificate.foreign.removed",
    );
    expect(removed?.details).toMatchObject({ slot: "82", subject: "CN=Old VPN", actorKind: "operator" });
    expect((await sdk.inspectCard({ cardId, device: stack.device })).foreign).toEqual([]);
  });

  it("audit chain verifies and lists every update with actor and reason; no PIN, PUK or key anywhere", async () => {
    expect((await sdk.verifyAudit()).ok).toBe(true);
    const operations = await stack.store.operations.list({ cardId });
    const updates = operations.filter((o) => o.kind === "update");
    expect(updates.filter((o) => o.status === "completed")).toHaveLength(4);
    const audit = await stack.store.audit.list({ cardId });
    for (const op of updates) {
      const started = audit.find((e) => e.operationId === op.id && e.action === "operation.started");
      expect(started?.actor).toBe("operator-1");
      expect(started?.details).toMatchObject({ operation: "update", actorKind: "operator" });
    }
    const requests = (await Promise.all(operations.map((o) => stack.store.requests.listByOperation(o.id)))).flat();
    const everything = JSON.stringify([
      await stack.store.cards.list(),
      await stack.store.certificates.list(),
      operations,
      requests,
      audit,
    ]);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe("update from policy A to policy B on a fresh card: remove, add, keep; a rekey is no longer cancellable", () => {
  let stack: Stack;
  let sdk: Cardwright;
  let cardId: string;
  let pin: string;

  beforeAll(async () => {
    stack = await createStack();
    sdk = updateSdk(stack, stack.ca, new InMemoryDirectory(sampleUsers), stack.notifier);
    const r = await sdk.issueCard({ userId: "bob", device: stack.device, actor: "operator-1" });
    if (r.status !== "active") throw new Error("issue did not complete");
    cardId = r.card.id;
    pin = r.pin!;
  });
  afterAll(async () => stack?.close());

  it("removes Digital Signature (9c), adds Key Management (9d), keeps PIV Authentication (9a) byte for byte", async () => {
    const before = await picture(stack, cardId);
    const progress: string[] = [];
    const r = await sdk.updateCard({
      cardId,
      device: stack.device,
      actor: operator,
      policyId: POLICY_B.id,
      pin,
      comment: "role change",
      onProgress: (e) => progress.push(e.step),
    });
    expect(r.status).toBe("completed");
    const done = r as Extract<UpdateResult, { status: "completed" }>;
    expect(done.plan.remove.map((x) => x.templateId)).toEqual(["digital-signature"]);
    expect(done.plan.add.map((x) => x.templateId)).toEqual(["key-management"]);
    expect(done.plan.keep.map((x) => x.templateId)).toEqual(["piv-auth"]);
    expect(done.plan.renew).toEqual([]);
    expect(done.card).toMatchObject({ state: "active", policyId: POLICY_B.id, policyVersion: POLICY_B.version });
    expect(progress).toEqual(
      expect.arrayContaining([
        "connectCard",
        "generateKey",
        "buildCsr",
        "submitRequest",
        "writeCertificates",
        "commit",
        "done",
      ]),
    );
    const after = await picture(stack, cardId);
    expect(after.onCard["9a"]).toBe(before.onCard["9a"]);
    expect(after.onCard["9c"]).toBeUndefined();
    const km = new Uint8Array(Buffer.from(after.onCard["9d"]!, "base64"));
    const v = verifyCertificate(km, await stack.ca.chain());
    expect(v.status, v.output).toBe(0);
    const text = openssl(["x509", "-noout", "-text", "-in", "c.pem"], { "c.pem": pem("CERTIFICATE", km) }).output;
    expect(text).toContain("Key Agreement");
    expect(text).toContain("bob@example.com");
    const rows = await stack.store.certificates.list({ cardId });
    const sig = before.certificates.find((c) => c.slot === "9c")!;
    expect(rows.find((c) => c.id === sig.id)?.status).toBe("removed");
    expect(crlEntries(await stack.ca.crl()).get(bare(sig.serialHex!))).toBe("Cessation Of Operation");
    const events = (await stack.store.audit.list({ cardId })).filter((e) => e.operationId === r.operationId);
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        "operation.started",
        "key.generated",
        "certificate.issued",
        "certificate.written",
        "certificate.removed",
        "card.state",
      ]),
    );
    for (const e of events) expect(e.actor).toBe("operator-1");
    expect(events.find((e) => e.action === "card.state")?.details).toMatchObject({
      from: "updating",
      to: "active",
      policyId: POLICY_B.id,
      previousPolicyId: POLICY_A.id,
      comment: "role change",
    });
    expect(stack.notifier.sent).toContainEqual({
      kind: "updated",
      cardId,
      userId: done.card.userId,
      operationId: r.operationId,
    });
    expect((await sdk.verifyAudit()).ok).toBe(true);
  });

  it("a rekey renewal interrupted after its key was generated refuses cancel (the old key is gone) and is continued", async () => {
    const err = await rejection(
      sdk.updateCard({
        cardId,
        device: faultyDevice(stack.device, { method: "writeCertificate", call: 1 }),
        actor: operator,
        policyId: POLICY_C.id,
        pin,
        renewal: "rekey",
      }),
    );
    expect(err.details).toMatchObject({ resumable: true, cancellable: false });
    const operationId = String(err.details.operationId);
    const refused = await rejection(sdk.cancelUpdate({ operationId, device: stack.device, actor: operator }));
    expect(refused.code).toBe("WORKFLOW_STATE");
    expect(refused.details.slots).toEqual(["9a"]);
    const r = await sdk.continueUpdate(operationId, { device: stack.device, actor: operator, pin });
    expect(r.status).toBe("completed");
    const auth = (await stack.store.certificates.list({ cardId })).find(
      (c) => c.templateId === "piv-auth" && c.status === "written",
    )!;
    expect(b64((await stack.device.readCertificate("9a"))!)).toBe(auth.certificate);
    // The card signs with the new key: a fresh update renews again and its CSR verifies on the card's key.
    const again = await sdk.updateCard({ cardId, device: stack.device, actor: operator, pin });
    expect(again.status).toBe("completed");
  });

  it("refuses continuing or cancelling a finished update", async () => {
    const [op] = (await stack.store.operations.list({ cardId, status: "completed" })).filter(
      (o) => o.kind === "update",
    );
    expect((await rejection(sdk.continueUpdate(op!.id, { actor: operator }))).code).toBe("WORKFLOW_STATE");
    expect((await rejection(sdk.cancelUpdate({ operationId: op!.id, actor: operator }))).code).toBe("WORKFLOW_STATE");
    expect((await rejection(sdk.cancelUpdate({ cardId, actor: operator }))).code).toBe("WORKFLOW_STATE");
  });
});

/** A key generated in `slot` and an openssl-made certificate for it, written with the card's factory management key. */
async function writeForeignCertificate(stack: Stack, slot: string, cn: string): Promise<Uint8Array> {
  const factory = await stack.device.factoryCredentials();
  await stack.device.authenticateAdmin(factory.admin);
  const publicKey = await stack.device.generateKeyPair(slot, "ECCP256");
  const der = opensslCertificate({ subject: `/CN=${cn}`, days: 60, publicKey: publicKey.spki });
  await stack.device.writeCertificate(slot, der);
  return der;
}

describe("third-party certificates found on a card before its first issue", () => {
  for (const initialiseOnIssue of [false, true]) {
    it(`are listed and registered before issue; issue ${initialiseOnIssue ? "erases them and records that" : "keeps them"}`, async () => {
      const policy: Policy = { ...POLICY_A, initialiseOnIssue };
      const stack = await createStack({ policy });
      try {
        const sdk = sdkWith(stack, stack.ca, { policies: [policy] });
        const card = await sdk.registerCard(stack.device, { actor: "operator-1" });
        const foreign = await writeForeignCertificate(stack, "82", "Old VPN");
        expect((await rejection(sdk.inspectCard({ cardId: card.id, device: stack.device }))).code).toBe(
          "POLICY_NOT_FOUND",
        );
        const anonymous = await rejection(
          sdk.inspectCard({ cardId: card.id, device: stack.device, policyId: policy.id }),
        );
        expect(anonymous.code).toBe("USER_NOT_FOUND");
        expect(anonymous.message).toContain("name the user it is for");
        const inspected = await sdk.inspectCard({
          cardId: card.id,
          device: stack.device,
          policyId: policy.id,
          userId: "alice",
        });
        expect(inspected.foreign.map((f) => [f.slot, f.subject])).toEqual([["82", "CN=Old VPN"]]);
        const registered = await sdk.registerCertificate({
          cardId: card.id,
          device: stack.device,
          slot: "82",
          actor: operator,
          comment: "kept from the previous owner",
        });
        expect(registered).toMatchObject({ thirdParty: true, status: "written", slot: "82" });

        const issued = await sdk.issueCard({ userId: "alice", device: stack.device, actor: "operator-1" });
        expect(issued.status).toBe("active");
        const record = (await stack.store.certificates.get(registered.id))!;
        const onCard = await stack.device.readCertificate("82");
        if (initialiseOnIssue) {
          expect(onCard).toBeNull();
          expect(record.status).toBe("removed");
          const removed = (await stack.store.audit.list({ cardId: card.id })).find(
            (e) => e.action === "certificate.removed" && e.details?.slot === "82",
          );
          expect(removed?.details).toMatchObject({ thirdParty: true, cause: "card initialised on issue" });
        } else {
          expect(b64(onCard!)).toBe(b64(foreign));
          expect(record.status).toBe("written");
          // Still tracked for expiry beside the certificates the issue wrote.
          const expiring = await sdk.listCertificates({
            cardId: card.id,
            expiringBefore: new Date(Date.now() + 61 * 86_400_000).toISOString(),
          });
          expect(expiring.map((c) => c.id)).toContain(registered.id);
        }
        expect((await sdk.verifyAudit()).ok).toBe(true);
      } finally {
        await stack.close();
      }
    });
  }
});
