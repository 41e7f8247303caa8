/**
 * End-to-end suspend, resume, revoke and retire on a virtual YubiKey with the embedded CA and the
 * PGlite store, every part real: the CA's signed CRL, read back with `openssl crl -text`, must show
 * the hold and the revocation reason; after retire the card itself must be in factory state. The
 * only injected fault is a CA that fails one revocation (a wrapper around the real CA).
 */
import {
  type CardRecord,
  type Cardwright,
  DEFAULT_LIFECYCLE_PERMISSIONS,
  type Device,
  type IssueResult,
  type Policy,
} from "@cardwright/core";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staffPivPolicy } from "../src/index.js";
import { CountingCa } from "./support/counting-ca.js";
import { bare, crlEntries } from "./support/crl.js";
import { rejection } from "./support/errors.js";
import { createStack, type Stack, sdkWith } from "./support/stack.js";

describe("suspend, resume, revoke and retire a virtual YubiKey with the embedded CA", () => {
  let stack: Stack;
  let issued: Extract<IssueResult, { status: "active" }>;
  let card: CardRecord;
  let counting: CountingCa;
  let sdk: Cardwright;
  const secrets: string[] = [];
  const operator = { id: "operator-1", kind: "operator" as const };
  const alice = { id: "alice", kind: "user" as const };
  const bob = { id: "bob", kind: "user" as const };

  beforeAll(async () => {
    stack = await createStack();
    counting = new CountingCa(stack.ca);
    sdk = sdkWith(stack, counting);
    const r = await sdk.issueCard({ userId: "alice", device: stack.device, actor: "operator-1" });
    expect(r.status).toBe("active");
    issued = r as typeof issued;
    card = issued.card;
    const record = (await stack.store.cards.get(card.id))!;
    const key = Buffer.from(
      await stack.vault.unwrap(record.adminCredential!, `cardwright:card:${card.id}:admin-credential`),
    );
    const puk = Buffer.from(await stack.vault.unwrap(record.puk!, `cardwright:card:${card.id}:puk`)).toString("utf8");
    secrets.push(issued.pin!, puk, key.toString("hex"), key.toString("base64"));
  });
  afterAll(async () => stack?.close());

  it("refuses a user suspending someone else's card (AUTHZ_DENIED naming the permission), changing nothing", async () => {
    const operationsBefore = (await stack.store.operations.list({ cardId: card.id })).length;
    const err = await rejection(sdk.suspendCard({ cardId: card.id, actor: bob }));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:suspend:any:active");
    expect((await stack.store.cards.get(card.id))!.state).toBe("active");
    expect(await stack.store.operations.list({ cardId: card.id })).toHaveLength(operationsBefore);
    const refused = (await stack.store.audit.list({ cardId: card.id })).filter((e) => e.action === "operation.refused");
    expect(refused.at(-1)).toMatchObject({ actor: "bob", details: { code: "AUTHZ_DENIED", operation: "suspend" } });
  });

  it("refuses transitions the table does not have: resume an active card, retire an active card", async () => {
    const resume = await rejection(sdk.resumeCard({ cardId: card.id, actor: operator }));
    expect(resume.code).toBe("CARD_TRANSITION");
    expect(resume.details).toMatchObject({ from: "active", to: "active", operation: "resume" });
    expect(resume.details.allowed).toEqual(expect.arrayContaining(["suspended", "revoked", "lost"]));
    const retire = await rejection(sdk.retireCard({ cardId: card.id, device: stack.device, actor: operator }));
    expect(retire.code).toBe("CARD_TRANSITION");
    expect(retire.details).toMatchObject({ from: "active", to: "retired" });
    // A hold is not a revocation reason for revokeCard: that is suspendCard.
    const hold = await rejection(sdk.revokeCard({ cardId: card.id, reason: "certificateHold", actor: operator }));
    expect(hold.code).toBe("CA_INVALID_REQUEST");
    // The card is untouched: still answering to its certificates.
    expect(await stack.device.readCertificate("9a")).not.toBeNull();
  });

  it("suspends: every certificate on hold at the CA (the CRL says Certificate Hold), card suspended", async () => {
    const progress: string[] = [];
    const r = await sdk.suspendCard({
      cardId: card.id,
      actor: operator,
      comment: "card left at home",
      onProgress: (e) => progress.push(`${e.step}:${e.index}/${e.total}`),
    });
    expect(r.status).toBe("completed");
    expect(r.card.state).toBe("suspended");
    expect(r.card.pendingOperationId).toBeUndefined();
    expect(r.certificates.map((c) => c.status)).toEqual(["suspended", "suspended"]);
    expect(progress).toContain("changeCertificate:2/2");
    const crl = crlEntries(await stack.ca.crl());
    for (const c of r.certificates) expect(crl.get(bare(c.serialHex!))).toBe("Certificate Hold");
    const [op] = (await stack.store.operations.list({ cardId: card.id })).filter((o) => o.id === r.operationId);
    expect(op).toMatchObject({ kind: "suspend", status: "completed", actor: "operator-1" });
    const events = (await stack.store.audit.list({ cardId: card.id })).filter((e) => e.operationId === r.operationId);
    expect(events.filter((e) => e.action === "certificate.suspended")).toHaveLength(2);
    expect(events.find((e) => e.action === "card.state")?.details).toMatchObject({ from: "active", to: "suspended" });
    for (const e of events) {
      expect(e.actor).toBe("operator-1");
      expect(e.details).toMatchObject({ actorKind: "operator", comment: "card left at home" });
    }
  });

  it("resumes by the card's own user: holds lifted (gone from the CRL), card active again", async () => {
    const r = await sdk.resumeCard({ cardId: card.id, actor: alice });
    expect(r.card.state).toBe("active");
    expect(r.certificates.map((c) => c.status)).toEqual(["written", "written"]);
    const crl = crlEntries(await stack.ca.crl());
    for (const c of r.certificates) expect(crl.has(bare(c.serialHex!))).toBe(false);
    const audit = await stack.store.audit.list({ cardId: card.id });
    expect(audit.filter((e) => e.action === "certificate.unsuspended" && e.actor === "alice")).toHaveLength(2);
  });

  it("revoke: the CA fails on the 2nd certificate; the operation rests resumable with the first recorded revoked", async () => {
    counting.failRevokeCalls = new Set([2]);
    const err = await rejection(
      sdk.revokeCard({ cardId: card.id, reason: "keyCompromise", actor: operator, comment: "laptop stolen" }),
    );
    expect(err.code).toBe("CA_UNAVAILABLE");
    expect(err.details).toMatchObject({ resumable: true, changed: 1, remaining: 1, operation: "revoke" });
    const operationId = String(err.details.operationId);
    const op = (await stack.store.operations.get(operationId))!;
    expect(op.status).toBe("pending");
    // The persisted snapshot says which certificate is done: that is what the resume goes by.
    const snapshot = op.snapshot as {
      value: string;
      context: { targets: Array<{ serialHex: string; done: boolean }> };
    };
    expect(snapshot.value).toBe("interrupted");
    expect(snapshot.context.targets.map((t) => t.done)).toEqual([true, false]);
    const certs = await stack.store.certificates.list({ cardId: card.id });
    expect(certs.map((c) => c.status).sort()).toEqual(["revoked", "written"]);
    const held = (await stack.store.cards.get(card.id))!;
    expect(held.pendingOperationId).toBe(operationId);
    // The card is held: nothing else runs on it until the revoke finishes.
    expect((await rejection(sdk.suspendCard({ cardId: card.id, actor: operator }))).code).toBe("WORKFLOW_STATE");
    // Only the first is on the CRL so far, with its reason.
    const crl = crlEntries(await stack.ca.crl());
    const revoked = certs.find((c) => c.status === "revoked")!;
    const pending = certs.find((c) => c.status === "written")!;
    expect(crl.get(bare(revoked.serialHex!))).toBe("Key Compromise");
    expect(crl.has(bare(pending.serialHex!))).toBe(false);
    expect((await stack.store.audit.list({ cardId: card.id })).at(-1)).toMatchObject({
      action: "operation.interrupted",
      details: { cause: "CA_UNAVAILABLE", changed: 1, remaining: 1 },
    });
  });

  it("resuming the revoke in another instance finishes it, never revoking a certificate twice", async () => {
    const [operation] = await stack.store.operations.list({ cardId: card.id, status: "pending" });
    const other = sdkWith(stack, counting);
    const r = await other.resumeLifecycleOperation(operation!.id, { actor: operator });
    expect(r.card.state).toBe("revoked");
    expect(r.card.pendingOperationId).toBeUndefined();
    expect(r.certificates.map((c) => c.status)).toEqual(["revoked", "revoked"]);
    const serials = r.certificates.map((c) => c.serialHex!);
    // Call 1 revoked the first; call 2 failed for the second; call 3 (the resume) revoked the second.
    const revoked = counting.revokeCalls.map((c) => c.serialHex);
    expect(revoked).toHaveLength(3);
    for (const s of serials) {
      expect(revoked.filter((x) => x === s).length).toBe(s === revoked[0] ? 1 : 2);
    }
    const crl = crlEntries(await stack.ca.crl());
    for (const s of serials) expect(crl.get(bare(s))).toBe("Key Compromise");
    expect((await stack.store.operations.get(operation!.id))!.status).toBe("completed");
    await expect(other.resumeLifecycleOperation(operation!.id, { actor: operator })).rejects.toMatchObject({
      code: "WORKFLOW_STATE",
    });
  });

  it("refuses the user clearing their own revoked card under the default permissions", async () => {
    const err = await rejection(sdk.retireCard({ cardId: card.id, device: stack.device, actor: alice }));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:retire:own:revoked");
  });

  it("refuses to retire with another card in the reader", async () => {
    const otherCard = await VirtualPivCard.create();
    const otherDevice = await PivDevice.open(new InMemoryTransport(otherCard));
    try {
      const err = await rejection(sdk.retireCard({ cardId: card.id, device: otherDevice, actor: operator }));
      expect(err.code).toBe("DEVICE_MISMATCH");
    } finally {
      await otherDevice.close();
    }
    expect((await stack.store.cards.get(card.id))!.pendingOperationId).toBeUndefined();
  });

  it("retires: the card is wiped to factory state, its record kept as retired", async () => {
    const r = await sdk.retireCard({ cardId: card.id, device: stack.device, actor: operator, comment: "disposal" });
    expect(r.card.state).toBe("retired");
    expect(r.card.adminCredential).toBeUndefined();
    expect(r.card.puk).toBeUndefined();
    expect(r.certificates.map((c) => c.status)).toEqual(["revoked", "revoked"]);
    // The card itself: nothing in any slot, factory management key and PIN work again.
    expect(await stack.device.listObjects()).toEqual([]);
    expect(await stack.device.readCertificate("9a")).toBeNull();
    const factory = await stack.device.factoryCredentials();
    await stack.device.authenticateAdmin(factory.admin);
    await stack.device.verifyPin(factory.pin);
    expect((await stack.store.cards.get(card.id))!.state).toBe("retired");
    const wiped = (await stack.store.audit.list({ cardId: card.id })).find((e) => e.action === "card.wiped");
    expect(wiped?.details).toMatchObject({ method: "reset", actorKind: "operator" });
    // Retired is final under the default table.
    expect((await rejection(sdk.resumeCard({ cardId: card.id, actor: operator }))).code).toBe("CARD_TRANSITION");
  });

  it("audited everything in a hash chain that verifies, with no PIN, PUK or management key anywhere", async () => {
    expect((await sdk.verifyAudit()).ok).toBe(true);
    const operations = await stack.store.operations.list({ cardId: card.id });
    expect(operations.map((o) => o.kind).sort()).toEqual(["issue", "resume", "retire", "revoke", "suspend"]);
    const requests = (await Promise.all(operations.map((o) => stack.store.requests.listByOperation(o.id)))).flat();
    const everything = JSON.stringify([
      await stack.store.cards.list(),
      await stack.store.certificates.list(),
      operations,
      requests,
      await stack.store.audit.list(),
    ]);
    expect(secrets).toHaveLength(4);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

/** The same card, telling the SDK it cannot be reset: retire must then delete certificate by certificate. */
function withoutReset(device: Device): Device {
  const capabilities = { ...device.capabilities, reset: false };
  return new Proxy(device, {
    get(target, prop) {
      if (prop === "capabilities") return capabilities;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("a user clears their own revoked card where the policy allows it, on a card without reset", () => {
  let stack: Stack;
  let cardId: string;
  const bob = { id: "bob", kind: "user" as const };
  const policy: Policy = {
    ...staffPivPolicy,
    permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "user", operations: ["retire"], cardStates: ["revoked"] }],
  };

  beforeAll(async () => {
    stack = await createStack({ policy });
    const r = await stack.cardwright.issueCard({ userId: "bob", device: stack.device, actor: "operator-1" });
    expect(r.status).toBe("active");
    cardId = r.card.id;
  });
  afterAll(async () => stack?.close());

  it("lets bob revoke his own card (affiliationChanged), but not retire it while active", async () => {
    const early = await rejection(stack.cardwright.retireCard({ cardId, device: stack.device, actor: bob }));
    expect(early.code).toBe("AUTHZ_DENIED");
    expect(early.details.permission).toBe("user:retire:own:active");
    const r = await stack.cardwright.revokeCard({ cardId, reason: "affiliationChanged", actor: bob });
    expect(r.card.state).toBe("revoked");
    const crl = crlEntries(await stack.ca.crl());
    for (const c of r.certificates) expect(crl.get(bare(c.serialHex!))).toBe("Affiliation Changed");
  });

  it("lets bob retire his revoked card: each recorded certificate deleted from the card, record kept", async () => {
    const device = withoutReset(stack.device);
    const r = await stack.cardwright.retireCard({ cardId, device, actor: bob, comment: "left the company" });
    expect(r.card.state).toBe("retired");
    // Without a reset the card keeps its per-card management key, which the record keeps too.
    expect(r.card.adminCredential).toBeDefined();
    for (const slot of ["9a", "9c"]) expect(await stack.device.readCertificate(slot)).toBeNull();
    expect((await stack.device.listObjects()).filter((o) => o.certificate !== undefined)).toEqual([]);
    const wiped = (await stack.store.audit.list({ cardId })).find((e) => e.action === "card.wiped");
    expect(wiped).toMatchObject({
      actor: "bob",
      details: { method: "delete", slots: ["9a", "9c"], actorKind: "user" },
    });
    expect((await stack.cardwright.verifyAudit()).ok).toBe(true);
  });
});
