/**
 * The issue workflow through the Cardwright facade, with a real software device
 * (SoftwareKeyDevice), the in-memory store, the AES-GCM vault and a scripted CA double
 * (test/support/scripted-ca.ts; the real CAs are covered end to end in packages/cli/test).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AesGcmSecretVault,
  Cardwright,
  type CardwrightError,
  type Policy,
  type ProgressEvent,
  type Store,
} from "../src/index.js";
import {
  type DeviceOperation,
  examplePivPolicy,
  InMemoryDirectory,
  InMemoryStore,
  PIV_FACTORY_MANAGEMENT_KEY,
  RecordingNotifier,
  SoftwareKeyDevice,
} from "../src/testing/index.js";
import { rejection } from "./support/errors.js";
import { ann } from "./support/fixtures.js";
import { mortalStore } from "./support/mortal-store.js";
import { ScriptedCa } from "./support/scripted-ca.js";

const DYING_LEASE_MS = 250;

/** Kills the dying process, checks its card is still leased to it, and waits for the lease to expire. */
async function killAndWaitForExpiry(w: ReturnType<typeof world>, cardId: string): Promise<void> {
  w.kill();
  const lease = await w.store.leases.get(cardId);
  expect(lease, "the dead process still holds the card").not.toBeNull();
  const wait = Date.parse(lease!.expiresAt) - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait + 10));
}

function world(policy: Policy = examplePivPolicy()) {
  const store = new InMemoryStore();
  const kek = new Uint8Array(randomBytes(32));
  const ca = new ScriptedCa("ca");
  const directory = new InMemoryDirectory([ann]);
  const notifier = new RecordingNotifier();
  /** A new facade over the same store — what a new process would build from configuration. */
  const newProcess = (over: { store?: Store; leaseTtlMs?: number } = {}) =>
    new Cardwright({
      store: over.store ?? store,
      ...(over.leaseTtlMs === undefined ? {} : { leaseTtlMs: over.leaseTtlMs }),
      vault: AesGcmSecretVault.fromKey("kek-1", kek),
      directory,
      certificateAuthorities: [ca],
      policies: [policy],
      notifier,
    });
  // A process that can crash: its lease (short, so tests need not wait long) stops being renewed
  // when it is killed, and expires.
  const mortal = mortalStore(store);
  const dying = newProcess({ store: mortal.store, leaseTtlMs: DYING_LEASE_MS });
  return { store, ca, directory, notifier, newProcess, cw: newProcess(), dying, kill: mortal.kill };
}

/** Everything the store holds, as JSON. */
async function dumpStore(store: InMemoryStore): Promise<string> {
  const operations = await store.operations.list();
  const requests = (await Promise.all(operations.map((o) => store.requests.listByOperation(o.id)))).flat();
  return JSON.stringify({
    cards: await store.cards.list(),
    certificates: await store.certificates.list(),
    operations,
    requests,
    audit: await store.audit.list(),
  });
}

function expectNoSecrets(json: string, secrets: readonly string[]) {
  for (const s of secrets) {
    expect(json).not.toContain(s);
    if (/^[0-9a-f]+$/.test(s) && s.length % 2 === 0)
      expect(json).not.toContain(Buffer.from(s, "hex").toString("base64"));
  }
}

/** The failure rule and "never active without its certificates", over the whole store. */
async function expectConsistent(w: ReturnType<typeof world>, device: SoftwareKeyDevice) {
  for (const card of await w.store.cards.list()) {
    const certs = await w.store.certificates.list({ cardId: card.id });
    if (card.state === "active") {
      expect(certs.length).toBeGreaterThan(0);
      for (const c of certs.filter((x) => x.status !== "revoked")) {
        expect(c.status).toBe("written");
        const onCard = await device.readCertificate(c.slot);
        expect(onCard && Buffer.from(onCard).toString("base64")).toBe(c.certificate);
      }
    } else {
      // Not active: every certificate obtained for it was revoked at the CA and recorded so.
      for (const c of certs) {
        expect(c.status).toBe("revoked");
        expect(w.ca.revoked.get(c.serialHex!)).toBe("cessationOfOperation");
      }
      expect(card.pendingOperationId === undefined || card.state === "pending").toBe(true);
    }
  }
  expect(await w.cw.verifyAudit()).toMatchObject({ ok: true });
}

describe("issueCard — happy path", () => {
  it("issues a card: keys on card, certificates written, random admin key, PIN and PUK, audited", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "1001" });
    const progress: ProgressEvent[] = [];
    const result = await w.cw.issueCard({
      userId: "ann",
      device,
      actor: "operator-1",
      optionalTemplates: ["signature"],
      onProgress: (e) => progress.push(e),
    });
    if (result.status !== "active") throw new Error(`expected active, got ${result.status}`);
    expect(result.card.state).toBe("active");
    expect(result.card.userId).toBe("ann");
    expect(result.card.policyId).toBe("piv-staff");
    expect(result.card.pendingOperationId).toBeUndefined();
    expect(result.card.chuidGuid).toMatch(/^[0-9a-f]{32}$/);
    expect(result.certificates.map((c) => [c.templateId, c.slot, c.status])).toEqual([
      ["piv-auth", "9a", "written"],
      ["signature", "9c", "written"],
    ]);
    for (const c of result.certificates) {
      const onCard = await device.readCertificate(c.slot);
      expect(Buffer.from(onCard!).toString("base64")).toBe(c.certificate);
      expect(c.subject).toMatch(/^CN=Ann Lee/);
    }

    // Random PIN shown once, set on the card; random PUK; admin key replaced by a per-card AES-192 key.
    const { pin, puk } = device.currentPinAndPuk();
    expect(result.pin).toMatch(/^\d{8}$/);
    expect(pin).toBe(result.pin);
    expect(puk).toMatch(/^\d{8}$/);
    expect(puk).not.toBe("12345678");
    expect(device.currentAdminKeyHex()).not.toBe(PIV_FACTORY_MANAGEMENT_KEY);
    expect(result.card.adminCredentialAlgorithm).toBe("AES192");
    // A fresh card: factory PIN verified once for the CSRs, PIN set once with the new PUK; no retry burnt.
    expect(device.calls.filter((c) => c === "verifyPin")).toHaveLength(1);
    expect(device.calls.filter((c) => c === "unblockPin")).toHaveLength(1);
    expect(await device.pinStatus()).toMatchObject({ retriesLeft: 3, blocked: false });
    expect(result.card.adminCredential?.alg).toBe("A256GCM");
    expect(w.notifier.ofKind("pin")).toEqual([{ kind: "pin", cardId: result.card.id, userId: "ann", pin: result.pin }]);
    expect(w.notifier.ofKind("issued")).toHaveLength(1);

    // Progress in CMS order, templates numbered.
    const steps = progress.map((p) => p.step);
    expect(steps).toEqual([
      "resolvePolicy",
      "connectCard",
      "authenticateAdmin",
      "replaceAdminCredential",
      "writeCardIdentifiers",
      "generateKey",
      "buildCsr",
      "submitRequest",
      "generateKey",
      "buildCsr",
      "submitRequest",
      "writeCertificates",
      "setPins",
      "complete",
      "done",
    ]);
    expect(progress.filter((p) => p.step === "generateKey").map((p) => [p.index, p.total, p.templateId])).toEqual([
      [1, 2, "piv-auth"],
      [2, 2, "signature"],
    ]);

    const [op] = await w.cw.listOperations({ cardId: result.card.id });
    expect(op).toMatchObject({ status: "completed", machineId: "issue", machineVersion: "1", actor: "operator-1" });
    expect((op!.snapshot as { value: string }).value).toBe("done");

    const audit = await w.cw.listAudit({ cardId: result.card.id });
    expect(audit.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        "card.registered",
        "card.admin-credential.replaced",
        "certificate.issued",
        "certificate.written",
        "card.pin.set",
        "card.state",
      ]),
    );
    expect(await w.cw.verifyAudit()).toEqual({ ok: true, count: audit.length });

    // Secrets never reach the store: PIN, PUK, management key (hex or base64).
    expectNoSecrets(await dumpStore(w.store), [result.pin!, puk, device.currentAdminKeyHex()]);
    await expectConsistent(w, device);
  });

  it("uses a TDES management key on firmware before 5.7 (read from the device, not assumed)", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "1002", firmware: "5.4.3" });
    const result = await w.cw.issueCard({ userId: "ann", device, actor: "op" });
    expect(result.status).toBe("active");
    expect(result.card.adminCredentialAlgorithm).toBe("TDES");
  });

  it("initialises the card first when the policy says so", async () => {
    const w = world(examplePivPolicy({ initialiseOnIssue: true }));
    const device = new SoftwareKeyDevice({ serial: "1003" });
    const result = await w.cw.issueCard({ userId: "ann", device, actor: "op" });
    expect(result.status).toBe("active");
    expect(device.calls).toContain("reset");
    expect(device.calls.indexOf("reset")).toBeLessThan(device.calls.indexOf("generateKeyPair"));
  });
});

describe("Cardwright configuration and registration", () => {
  it("refuses a policy naming a CA that is not configured, and duplicate CA ids", () => {
    const w = world();
    const base = { store: w.store, vault: AesGcmSecretVault.fromKey("k", new Uint8Array(32)), directory: w.directory };
    expect(() => new Cardwright({ ...base, certificateAuthorities: [], policies: [examplePivPolicy()] })).toThrow(
      /names CA ca/,
    );
    expect(() => new Cardwright({ ...base, certificateAuthorities: [w.ca, w.ca], policies: [] })).toThrow(
      /two certificate authorities/,
    );
  });

  it("registers a card once, binds it to a known user only", async () => {
    const w = world();
    const card = await w.cw.registerCard({ serial: "8001", type: "piv", model: "YubiKey 5" });
    expect(card).toMatchObject({ state: "registered", deviceSerial: "8001", version: 1 });
    expect((await rejection(w.cw.registerCard({ serial: "8001", type: "piv", model: "x" }))).code).toBe(
      "STORE_DUPLICATE",
    );
    expect((await rejection(w.cw.bindCard(card.id, "nobody"))).code).toBe("USER_NOT_FOUND");
    expect((await w.cw.bindCard(card.id, "ann")).state).toBe("bound");
    expect((await rejection(w.cw.bindCard(card.id, "ann"))).code).toBe("CARD_STATE");
    expect(await w.cw.verifyAudit()).toEqual({ ok: true, count: 2 });
  });
});

describe("issueCard — refusals before anything is generated", () => {
  it("refuses a device lacking a key algorithm the policy needs, naming it", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "2001", capabilities: { keyAlgorithms: ["ECCP256"] } });
    const err = await rejection(
      w.cw.issueCard({ userId: "ann", device, actor: "op", optionalTemplates: ["signature"] }),
    );
    expect(err.code).toBe("DEVICE_CAPABILITY");
    expect(err.details).toMatchObject({ capability: "keyAlgorithm", keyAlgorithm: "ECCP384" });
    expect(device.calls).not.toContain("generateKeyPair");
    const [card] = await w.cw.listCards();
    expect(card?.state).toBe("registered");
    expect(card?.pendingOperationId).toBeUndefined();
  });

  it("refuses a user missing a subject attribute, naming template and attribute", async () => {
    const w = world();
    w.directory.put({ ...ann, id: "bob", attributes: {} });
    const device = new SoftwareKeyDevice({ serial: "2002" });
    const err = await rejection(w.cw.issueCard({ userId: "bob", device, actor: "op" }));
    expect(err.code).toBe("POLICY_RULE");
    expect(err.details).toMatchObject({ templateId: "piv-auth", attribute: "attributes.department" });
    expect(device.calls).toEqual([]);
  });

  it("refuses a card in a state that cannot be issued, and a card bound to someone else", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "2003" });
    await w.cw.issueCard({ userId: "ann", device, actor: "op" });
    expect((await rejection(w.cw.issueCard({ userId: "ann", device, actor: "op" }))).code).toBe("CARD_STATE");
    const other = new SoftwareKeyDevice({ serial: "2004" });
    const card = await w.cw.registerCard(other);
    w.directory.put({ ...ann, id: "carol" });
    await w.cw.bindCard(card.id, "carol");
    expect((await rejection(w.cw.issueCard({ userId: "ann", device: other, actor: "op" }))).code).toBe("CARD_STATE");
    expect((await w.cw.issueCard({ userId: "carol", device: other, actor: "op" })).status).toBe("active");
  });

  it("lets only one of two concurrent issues of the same card proceed (stale version)", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "2005" });
    await w.cw.registerCard(device);
    const [a, b] = await Promise.allSettled([
      w.cw.issueCard({ userId: "ann", device, actor: "op-a" }),
      w.newProcess().issueCard({ userId: "ann", device, actor: "op-b" }),
    ]);
    const outcomes = [a, b].map((r) =>
      r.status === "fulfilled" ? r.value.status : (r.reason as CardwrightError).code,
    );
    // The card lease refuses the second operator before anything is read or written (it was
    // STORE_CONFLICT from the card's version before leases; versions still guard every record).
    expect(outcomes.sort()).toEqual(["CARD_LEASED", "active"]);
    await expectConsistent(w, device);
  });
});

describe("issueCard — a card record changed by something that takes no lease", () => {
  it("is read afresh and changed again, not overwritten, when the run's copy turns out stale", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "2006" });
    const card = await w.cw.registerCard(device);
    // Right before the transaction of the step that writes the card identifiers, a change the
    // run did not make lands on the card record: the run's copy of the card is now stale.
    let armed = false;
    const meddling: Store = Object.assign(Object.create(w.store) as Store, {
      transaction: async <T>(fn: (tx: Store) => Promise<T>): Promise<T> => {
        if (armed) {
          armed = false;
          const current = await w.store.cards.get(card.id);
          await w.store.cards.update({ ...current!, deviceModel: "relabelled elsewhere" });
        }
        return w.store.transaction(fn);
      },
    });
    const result = await w.newProcess({ store: meddling }).issueCard({
      userId: "ann",
      device,
      actor: "operator-1",
      onProgress: (e) => {
        if (e.step === "writeCardIdentifiers") armed = true;
      },
    });
    expect(result.status).toBe("active");
    const stored = await w.store.cards.get(card.id);
    expect(stored).toMatchObject({ state: "active", deviceModel: "relabelled elsewhere" });
    expect(stored?.chuidGuid).toMatch(/^[0-9a-f]{32}$/);
    await expectConsistent(w, device);
  });
});

describe("pending approval and resume in a new process", () => {
  it("rests in pending, persists, and a new facade over the same store finishes it", async () => {
    const w = world();
    w.ca.script = "pending";
    const device = new SoftwareKeyDevice({ serial: "3001" });
    const first = await w.cw.issueCard({ userId: "ann", device, actor: "op", optionalTemplates: ["signature"] });
    if (first.status !== "pending") throw new Error("expected pending");
    expect(first.card.state).toBe("pending");
    expect(first.pendingRequests.map((r) => r.templateId)).toEqual(["piv-auth", "signature"]);
    expect(w.notifier.ofKind("approval-requested")).toHaveLength(2);
    const op = await w.store.operations.get(first.operationId);
    expect(op?.status).toBe("pending");
    const snapshotJson = JSON.stringify(op?.snapshot);
    expect((JSON.parse(snapshotJson) as { value: string }).value).toBe("pending");
    expectNoSecrets(await dumpStore(w.store), [device.currentAdminKeyHex()]);

    // The card leaves the reader; the process ends. Later, a new process:
    device.removeCard();
    device.insertCard();
    const later = w.newProcess();
    const polls = w.ca.pollCount;
    const still = await later.resumeOperation(first.operationId, { device, actor: "op-2" });
    expect(still.status).toBe("pending");
    expect(w.ca.pollCount).toBe(polls + 2); // really asked the CA again

    for (const r of first.pendingRequests) await w.ca.approve(r.caRequestId!);
    const submitsBefore = w.ca.submitCount;
    const done = await w.newProcess().resumeOperation(first.operationId, { device, actor: "op-3" });
    if (done.status !== "active") throw new Error("expected active");
    expect(w.ca.submitCount).toBe(submitsBefore); // polled, never resubmitted
    expect(done.card.state).toBe("active");
    expect(done.certificates.map((c) => c.status)).toEqual(["written", "written"]);
    expect(device.currentPinAndPuk().pin).toBe(done.pin);
    expectNoSecrets(await dumpStore(w.store), [done.pin!, device.currentPinAndPuk().puk, device.currentAdminKeyHex()]);
    await expectConsistent(w, device);
    expect((await rejection(w.cw.resumeOperation(first.operationId, { device, actor: "op" }))).code).toBe(
      "WORKFLOW_STATE",
    );
  });

  it("refuses another card in the reader and a snapshot from another machine version", async () => {
    const w = world();
    w.ca.script = "pending";
    const device = new SoftwareKeyDevice({ serial: "3002" });
    const first = await w.cw.issueCard({ userId: "ann", device, actor: "op" });
    if (first.status !== "pending") throw new Error("expected pending");
    const wrong = new SoftwareKeyDevice({ serial: "9999" });
    expect((await rejection(w.cw.resumeOperation(first.operationId, { device: wrong, actor: "op" }))).code).toBe(
      "DEVICE_MISMATCH",
    );
    const op = (await w.store.operations.get(first.operationId))!;
    await w.store.operations.update({ ...op, machineVersion: "0" });
    expect((await rejection(w.cw.resumeOperation(first.operationId, { device, actor: "op" }))).code).toBe(
      "WORKFLOW_VERSION",
    );
  });

  it("a request denied while pending fails typed and leaves the card as it was", async () => {
    const w = world();
    w.ca.script = "pending";
    const device = new SoftwareKeyDevice({ serial: "3003" });
    const first = await w.cw.issueCard({ userId: "ann", device, actor: "op" });
    if (first.status !== "pending") throw new Error("expected pending");
    w.ca.deny(first.pendingRequests[0]!.caRequestId!, "no badge on file");
    const err = await rejection(w.newProcess().resumeOperation(first.operationId, { device, actor: "op" }));
    expect(err.code).toBe("CA_REJECTED");
    expect(err.message).toContain("piv-auth");
    expect(err.message).toContain("no badge on file");
    expect((await w.cw.getCard(first.card.id))?.state).toBe("registered");
    expect(w.notifier.ofKind("rejected")).toHaveLength(1);
    await expectConsistent(w, device);
  });

  it("resumes an operation whose process died mid-step, re-running the step idempotently", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "3004" });
    device.failOn("writeCertificate", { hang: true });
    void w.dying.issueCard({ userId: "ann", device, actor: "op" }); // never settles: the "process" dies here
    let op = (await w.store.operations.list())[0];
    for (let i = 0; i < 200 && (op?.snapshot as { value?: string } | null)?.value !== "writeCertificates"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      op = (await w.store.operations.list())[0];
    }
    expect(op?.status).toBe("running");
    expect((op!.snapshot as { value: string }).value).toBe("writeCertificates");
    const submits = w.ca.submitCount;
    device.insertCard(); // new session: the new process must authenticate again
    // While the dead process's lease runs, nobody else may touch the card.
    const leased = await rejection(w.newProcess().resumeOperation(op!.id, { device, actor: "op-2" }));
    expect(leased.code).toBe("CARD_LEASED");
    expect(leased.details).toMatchObject({ cardId: op!.cardId, leaseOwner: expect.stringMatching(/^cardwright-/) });
    await killAndWaitForExpiry(w, op!.cardId);
    const done = await w.newProcess().resumeOperation(op!.id, { device, actor: "op-2" });
    expect(done.status).toBe("active");
    expect(w.ca.submitCount).toBe(submits);
    await expectConsistent(w, device);
  });
});

describe("CA rejection", () => {
  it("fails with CA_REJECTED naming the template and reason; issued certificates of the operation are revoked", async () => {
    const w = world();
    w.ca.scriptByTemplate.set("signature", "reject");
    const device = new SoftwareKeyDevice({ serial: "4001" });
    const err = await rejection(
      w.cw.issueCard({ userId: "ann", device, actor: "op", optionalTemplates: ["signature"] }),
    );
    expect(err.code).toBe("CA_REJECTED");
    expect(err.details).toMatchObject({ templateId: "signature", reason: "subject not allowed by CA policy" });
    const [card] = await w.cw.listCards();
    expect(card?.state).toBe("registered");
    const certs = await w.cw.listCertificates({ cardId: card!.id });
    expect(certs.map((c) => [c.templateId, c.status])).toEqual([["piv-auth", "revoked"]]);
    expect([...w.ca.revoked.values()]).toEqual(["cessationOfOperation"]);
    const [op] = await w.cw.listOperations();
    expect(op?.status).toBe("failed");
    expect((op!.snapshot as { context: { error: { code: string } } }).context.error.code).toBe("CA_REJECTED");
    await expectConsistent(w, device);
  });
});

describe("card removed mid-way", () => {
  const steps: Array<[DeviceOperation, boolean]> = [
    ["authenticateAdmin", false],
    ["setAdminCredential", false],
    ["setAdminCredential", true],
    ["writeCardIdentifiers", false],
    ["generateKeyPair", false],
    ["verifyPin", false],
    ["sign", false],
    ["writeCertificate", false],
    ["writeCertificate", true],
    ["changePuk", false],
    ["changePuk", true],
    ["unblockPin", false],
    ["unblockPin", true],
  ];
  it.each(steps)("at %s (applied: %s): typed error, consistent store, and a retry succeeds", async (op, applied) => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: `5-${op}-${applied}` });
    device.failOn(op, { applied });
    const err = await rejection(
      w.cw.issueCard({ userId: "ann", device, actor: "op", optionalTemplates: ["signature"] }),
    );
    expect(err.code).toBe("APDU_CARD_REMOVED");
    const [card] = await w.cw.listCards();
    expect(card?.state).toBe("registered");
    expect(card?.pendingOperationId).toBeUndefined();
    const [operation] = await w.cw.listOperations();
    expect(operation?.status).toBe("failed");
    await expectConsistent(w, device);
    expectNoSecrets(
      await dumpStore(w.store),
      [device.currentAdminKeyHex(), device.currentPinAndPuk().puk].filter((s) => s !== "12345678"),
    );

    // The card goes back in; issuing again works (crash-safe admin key and PUK handling).
    device.insertCard();
    const again = await w.cw.issueCard({ userId: "ann", device, actor: "op", optionalTemplates: ["signature"] });
    expect(again.status).toBe("active");
    await expectConsistent(w, device);
  });
});

describe("process dies mid-step, a new process resumes from the store", () => {
  const cases: Array<[DeviceOperation, boolean]> = [
    ["setAdminCredential", false],
    ["setAdminCredential", true],
    ["generateKeyPair", false],
    ["sign", false],
    ["writeCertificate", true],
    ["changePuk", false],
    ["changePuk", true],
    ["unblockPin", false],
    ["unblockPin", true],
  ];
  it.each(cases)(
    "dies in %s (applied: %s): resume re-runs the step idempotently and the card becomes active",
    async (op, applied) => {
      const w = world();
      const device = new SoftwareKeyDevice({ serial: `6-${op}-${applied}` });
      device.failOn(op, { hang: true, applied });
      void w.dying.issueCard({ userId: "ann", device, actor: "op", optionalTemplates: ["signature"] });
      for (let i = 0; i < 300 && !device.calls.includes(op); i++) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20)); // let the dying process's last writes land
      const [operation] = await w.store.operations.list();
      expect(operation?.status).toBe("running");
      const submits = w.ca.submitCount;
      const keysBefore = device.calls.filter((c) => c === "generateKeyPair").length;

      device.insertCard(); // the card was reset by the reader: new session
      await killAndWaitForExpiry(w, operation!.cardId);
      const done = await w.newProcess().resumeOperation(operation!.id, { device, actor: "op-2" });
      if (done.status !== "active") throw new Error("expected active");
      expect(device.currentPinAndPuk().pin).toBe(done.pin);
      expect(done.certificates.map((c) => c.status)).toEqual(["written", "written"]);
      // Never a second certificate for the same request, never a second key once a CSR exists.
      expect(w.ca.submitCount).toBeLessThanOrEqual(2);
      if (op === "writeCertificate" || op === "changePuk" || op === "unblockPin") {
        expect(w.ca.submitCount).toBe(submits);
        expect(device.calls.filter((c) => c === "generateKeyPair").length).toBe(keysBefore);
      }
      // The stored credentials are the ones on the card.
      const card = (await w.cw.getCard(done.card.id))!;
      expect(card.adminCredentialAlgorithm).toBe("AES192");
      expect(device.currentAdminKeyHex()).not.toBe(PIV_FACTORY_MANAGEMENT_KEY);
      expectNoSecrets(await dumpStore(w.store), [
        done.pin!,
        device.currentPinAndPuk().puk,
        device.currentAdminKeyHex(),
      ]);
      await expectConsistent(w, device);
    },
  );
});

describe("secrets never in errors", () => {
  it("a failure after the PIN, PUK and admin key were set carries none of them", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "7001" });
    device.failOn("unblockPin", { applied: true });
    const err = await rejection(w.cw.issueCard({ userId: "ann", device, actor: "op" }));
    const { pin, puk } = device.currentPinAndPuk();
    const json = JSON.stringify(err) + String(err) + JSON.stringify(err.details);
    expectNoSecrets(json, [pin, puk, device.currentAdminKeyHex()]);
    expectNoSecrets(await dumpStore(w.store), [pin, puk, device.currentAdminKeyHex()]);
  });
});
