/**
 * Issuance modes end to end on virtual YubiKeys with the embedded CA and the PGlite store, every part
 * real: validated issuance (a validation officer approves, another operator issues; the officer may
 * never personalise the card they approved), self-service issue by the user onto a card bound to
 * them, binding, and the policy's limits. Every refusal must leave the card, the CA and the store as
 * they were — nothing generated, nothing issued — and be in the verified audit chain with its actor.
 */
import {
  type ApprovalRecord,
  type CardRecord,
  type Cardwright,
  type CardwrightError,
  DEFAULT_LIFECYCLE_PERMISSIONS,
  type IssueResult,
  type Policy,
} from "@cardwright/core";
import type { RecordingNotifier } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staffPivPolicy } from "../src/index.js";
import { rejection as refusalOf } from "./support/errors.js";
import { verifyCertificate } from "./support/openssl.js";
import {
  addError,
  addNotifications,
  addStoreRows,
  describeFindings,
  Haystack,
  harvestVirtualCard,
  SecretRegistry,
  scanForSecrets,
} from "./support/secret-scan.js";
import { createStack, type Stack, sdkOver } from "./support/stack.js";

/** Every refusal of the run, scanned for secrets at the end. */
const refusals: CardwrightError[] = [];
/** Every virtual card of the run: their PINs, PUKs, management keys and private keys are the secrets. */
const virtualCards: VirtualPivCard[] = [];
/** The random PIN each issue returned, by card id. */
const issuedPins = new Map<string, string>();

/** The CardwrightError `p` is refused with, kept in `refusals` for the secrets scan. */
async function rejection(p: Promise<unknown>): Promise<CardwrightError> {
  const err = await refusalOf(p);
  refusals.push(err);
  return err;
}

/** A fresh virtual YubiKey in its own (in-memory) reader. */
async function newDevice(): Promise<PivDevice> {
  const card = await VirtualPivCard.create();
  virtualCards.push(card);
  return PivDevice.open(new InMemoryTransport(card));
}

/**
 * No PIN, PUK, management key or private key of any card in any store row (approvals and audit
 * included), notification or refusal.
 */
async function expectNoSecrets(stack: Stack, notifications: RecordingNotifier): Promise<void> {
  const registry = new SecretRegistry();
  for (const [i, card] of [stack.card, ...virtualCards].entries()) harvestVirtualCard(card, registry, `card ${i}`);
  for (const [cardId, pin] of issuedPins) registry.add("pin", `PIN of ${cardId}`, pin);
  const haystack = new Haystack();
  await addStoreRows(haystack, stack.store, ["alice", "bob"]);
  const expectedPins = new Map([...issuedPins].map(([cardId, pin]) => [cardId, [pin]]));
  expect(addNotifications(haystack, notifications.sent, expectedPins)).toEqual([]);
  for (const [i, err] of refusals.entries()) addError(haystack, `refusal ${i}`, err.toJSON());
  const findings = scanForSecrets(haystack, registry.all);
  expect(findings, describeFindings(findings)).toEqual([]);
}

const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

/** openssl verifies every certificate of an active issue against the CA chain, and each is on the card. */
async function expectVerifiedOnCard(stack: Stack, result: IssueResult, device: PivDevice): Promise<void> {
  expect(result.status).toBe("active");
  if (result.status !== "active") return;
  if (result.pin !== undefined) issuedPins.set(result.card.id, result.pin);
  const chain = await stack.ca.chain();
  expect(result.certificates).toHaveLength(2);
  for (const record of result.certificates) {
    const v = verifyCertificate(b64(record.certificate!), chain);
    expect(v.output).toContain("cert.pem: OK");
    expect(v.status).toBe(0);
    const onCard = await device.readCertificate(record.slot);
    expect(onCard && Buffer.from(onCard).toString("base64")).toBe(record.certificate);
  }
}

/** What a refusal must leave unchanged: the card, the CA's issued list, the operations, the device's slots. */
async function snapshotOf(stack: Stack, device: PivDevice, cardId?: string) {
  return {
    card: cardId === undefined ? null : await stack.store.cards.get(cardId),
    issuedAtCa: (await stack.ca.listIssued()).length,
    operations: (await stack.store.operations.list()).length,
    slot9a: await device.readCertificate("9a"),
    slot9c: await device.readCertificate("9c"),
  };
}

async function lastRefusal(stack: Stack) {
  return (await stack.store.audit.list()).filter((e) => e.action === "operation.refused").at(-1);
}

const validatedPolicy: Policy = { ...staffPivPolicy, issuance: { mode: "validated" } };

describe("validated issuance: a validation officer approves, another operator issues", () => {
  let stack: Stack;
  let sdk: Cardwright;
  let notifier: RecordingNotifier;
  const devices: PivDevice[] = [];
  const registrar = { id: "registrar-1", kind: "operator" as const };
  const officer = { id: "officer-olga", kind: "operator" as const };
  const issuer = { id: "operator-2", kind: "operator" as const };
  let used: ApprovalRecord;

  beforeAll(async () => {
    stack = await createStack({ policy: validatedPolicy });
    sdk = stack.cardwright;
    notifier = stack.notifier;
  });
  afterAll(async () => {
    for (const d of devices) await d.close().catch(() => undefined);
    await stack?.close();
  });

  it("request → officer approves → operator issues; openssl verifies; the approval is used by the operation", async () => {
    const request = await sdk.requestIssuance({
      userId: "alice",
      deviceSerial: stack.device.identity.serial,
      actor: registrar,
      comment: "new starter, ID checked",
    });
    expect(request).toMatchObject({ kind: "issuance", status: "pending", userId: "alice", requestedBy: "registrar-1" });
    expect(await sdk.listApprovals({ kind: "issuance", status: "pending" })).toEqual([request]);
    expect(notifier.ofKind("issuance-approval-requested")).toEqual([
      {
        kind: "issuance-approval-requested",
        approvalId: request.id,
        userId: "alice",
        requestedBy: "registrar-1",
        policyId: "staff-piv",
        deviceSerial: stack.device.identity.serial,
      },
    ]);

    const approved = await sdk.decideIssuance({
      approvalId: request.id,
      decision: "approve",
      reason: "identity documents verified",
      actor: officer,
    });
    expect(approved).toMatchObject({ status: "approved", decidedBy: "officer-olga" });
    expect(notifier.ofKind("issuance-approved")).toEqual([
      { kind: "issuance-approved", approvalId: request.id, userId: "alice", decidedBy: "officer-olga" },
    ]);

    // Without the approval a validated policy issues nothing.
    const missing = await rejection(sdk.issueCard({ userId: "alice", device: stack.device, actor: issuer }));
    expect(missing.code).toBe("AUTHZ_APPROVAL_REQUIRED");
    expect(missing.details.rule).toBe("issuance.approval.missing");

    const result = await sdk.issueCard({
      userId: "alice",
      device: stack.device,
      actor: issuer,
      approvalId: request.id,
    });
    await expectVerifiedOnCard(stack, result, stack.device);
    if (result.status !== "active") return;
    used = (await stack.store.approvals.get(request.id))!;
    expect(used.cardId).toBe(result.card.id);
    const [operation] = await stack.store.operations.list({ cardId: result.card.id });
    expect(used.operationId).toBe(operation!.id);
    expect(operation).toMatchObject({ kind: "issue", status: "completed", actor: "operator-2" });

    const audit = await stack.store.audit.list();
    expect(audit.find((e) => e.action === "issuance.requested")).toMatchObject({
      actor: "registrar-1",
      userId: "alice",
      details: { approvalId: request.id, actorKind: "operator", comment: "new starter, ID checked" },
    });
    expect(audit.find((e) => e.action === "issuance.approved")).toMatchObject({
      actor: "officer-olga",
      details: { approvalId: request.id, reason: "identity documents verified", requestedBy: "registrar-1" },
    });
    expect(audit.find((e) => e.action === "issuance.cleared")).toMatchObject({
      actor: "operator-2",
      operationId: operation!.id,
      details: { mode: "validated", approvalId: request.id, officer: "officer-olga", actorKind: "operator" },
    });
    expect(await sdk.verifyAudit()).toMatchObject({ ok: true });
  });

  it("refuses the same person as validation officer and issuing operator: nothing generated, nothing issued", async () => {
    const device = await newDevice();
    devices.push(device);
    const request = await sdk.requestIssuance({ userId: "bob", actor: registrar });
    await sdk.decideIssuance({ approvalId: request.id, decision: "approve", reason: "ok", actor: officer });
    const before = await snapshotOf(stack, device);
    const err = await rejection(sdk.issueCard({ userId: "bob", device, actor: officer, approvalId: request.id }));
    expect(err.code).toBe("AUTHZ_SEPARATION_OF_DUTIES");
    expect(err.details).toMatchObject({ rule: "officer-not-issuer", officer: "officer-olga", approvalId: request.id });
    expect(err.message).toContain("another operator must personalise it");
    const [card] = await stack.store.cards.list({ deviceSerial: device.identity.serial });
    const after = await snapshotOf(stack, device, card!.id);
    expect(after).toEqual({ ...before, card: after.card });
    expect(after.card).toMatchObject({ state: "registered" });
    expect(after.card!.pendingOperationId).toBeUndefined();
    // The approval is still unused: a different operator may issue with it.
    expect((await stack.store.approvals.get(request.id))!.operationId).toBeUndefined();
    expect(await lastRefusal(stack)).toMatchObject({
      actor: "officer-olga",
      cardId: card!.id,
      details: { operation: "issue", code: "AUTHZ_SEPARATION_OF_DUTIES", rule: "officer-not-issuer" },
    });
    const ok = await sdk.issueCard({ userId: "bob", device, actor: issuer, approvalId: request.id });
    await expectVerifiedOnCard(stack, ok, device);
  });

  it("refuses the requester approving their own request (four-eyes), leaving it pending", async () => {
    const request = await sdk.requestIssuance({ userId: "bob", actor: registrar });
    const err = await rejection(
      sdk.decideIssuance({ approvalId: request.id, decision: "approve", reason: "trust me", actor: registrar }),
    );
    expect(err.code).toBe("AUTHZ_SEPARATION_OF_DUTIES");
    expect(err.details).toMatchObject({ rule: "officer-not-requester", requestedBy: "registrar-1" });
    expect((await stack.store.approvals.get(request.id))!.status).toBe("pending");
    expect(await lastRefusal(stack)).toMatchObject({
      actor: "registrar-1",
      details: { operation: "approve-issuance", code: "AUTHZ_SEPARATION_OF_DUTIES" },
    });
    // A user has no approve-issuance permission by default.
    const user = await rejection(
      sdk.decideIssuance({
        approvalId: request.id,
        decision: "approve",
        reason: "",
        actor: { id: "alice", kind: "user" },
      }),
    );
    expect(user.code).toBe("AUTHZ_DENIED");
    expect(user.details.permission).toBe("user:approve-issuance:any");
  });

  it("a rejected request cannot be used to issue", async () => {
    const device = await newDevice();
    devices.push(device);
    const request = await sdk.requestIssuance({ userId: "bob", actor: registrar });
    await sdk.decideIssuance({
      approvalId: request.id,
      decision: "reject",
      reason: "employment not confirmed",
      actor: officer,
    });
    expect(notifier.ofKind("issuance-rejected").at(-1)).toEqual({
      kind: "issuance-rejected",
      approvalId: request.id,
      userId: "bob",
      decidedBy: "officer-olga",
      reason: "employment not confirmed",
    });
    const before = await snapshotOf(stack, device);
    const err = await rejection(sdk.issueCard({ userId: "bob", device, actor: issuer, approvalId: request.id }));
    expect(err.code).toBe("AUTHZ_APPROVAL_REQUIRED");
    expect(err.details).toMatchObject({ rule: "issuance.approval.status", approvalStatus: "rejected" });
    const after = await snapshotOf(stack, device);
    expect({ ...after, card: null }).toEqual({ ...before, card: null });
    expect((await stack.store.audit.list()).find((e) => e.action === "issuance.rejected")).toMatchObject({
      actor: "officer-olga",
      details: { reason: "employment not confirmed" },
    });
  });

  it("an approval cannot be used twice — neither after its issue nor by two issues racing for it", async () => {
    const device = await newDevice();
    devices.push(device);
    const again = await rejection(sdk.issueCard({ userId: "alice", device, actor: issuer, approvalId: used.id }));
    expect(again.code).toBe("AUTHZ_APPROVAL_REQUIRED");
    expect(again.details).toMatchObject({ rule: "issuance.approval.used", usedByOperation: used.operationId });

    // Two operators at two readers start issues with one approval at the same moment: one wins.
    const request = await sdk.requestIssuance({ userId: "bob", actor: registrar });
    await sdk.decideIssuance({ approvalId: request.id, decision: "approve", reason: "ok", actor: officer });
    const second = await newDevice();
    devices.push(second);
    const issuedBefore = (await stack.ca.listIssued()).length;
    const outcomes = await Promise.allSettled([
      sdk.issueCard({ userId: "bob", device, actor: issuer, approvalId: request.id }),
      sdk.issueCard({
        userId: "bob",
        device: second,
        actor: { id: "operator-3", kind: "operator" },
        approvalId: request.id,
      }),
    ]);
    const won = outcomes.filter((o): o is PromiseFulfilledResult<IssueResult> => o.status === "fulfilled");
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(["STORE_CONFLICT", "AUTHZ_APPROVAL_REQUIRED"]).toContain((lost[0]!.reason as CardwrightError).code);
    refusals.push(lost[0]!.reason as CardwrightError);
    const winner = won[0]!.value;
    if (winner.status === "active" && winner.pin !== undefined) issuedPins.set(winner.card.id, winner.pin);
    // Only the winner's two certificates were issued; the loser's card is untouched.
    expect((await stack.ca.listIssued()).length).toBe(issuedBefore + 2);
    const loser = outcomes[0]!.status === "rejected" ? device : second;
    expect(await loser.readCertificate("9a")).toBeNull();
    const [loserCard] = await stack.store.cards.list({ deviceSerial: loser.identity.serial });
    expect(loserCard).toMatchObject({ state: "registered" });
    expect((await stack.store.approvals.get(request.id))!.operationId).toBeDefined();
    expect(await sdk.verifyAudit()).toMatchObject({ ok: true });
  });

  it("leaves no PIN, PUK or key in approvals, audit events, other store rows, notifications or refusals", async () => {
    expect((await stack.store.approvals.list()).length).toBeGreaterThan(3);
    await expectNoSecrets(stack, notifier);
  });
});

const selfServicePolicy: Policy = {
  ...staffPivPolicy,
  issuance: { mode: "self-service", requireBinding: true },
  permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "user", operations: ["issue"], scope: "own" }],
};

describe("self-service issue, binding and limits", () => {
  let stack: Stack;
  let sdk: Cardwright;
  let aliceCard: CardRecord;
  const devices: PivDevice[] = [];
  const operator = { id: "operator-1", kind: "operator" as const };
  const alice = { id: "alice", kind: "user" as const };

  beforeAll(async () => {
    stack = await createStack({ policy: selfServicePolicy });
    sdk = stack.cardwright;
  });
  afterAll(async () => {
    for (const d of devices) await d.close().catch(() => undefined);
    await stack?.close();
  });

  it("refuses a user binding a card under the default permissions (bind is the operator's)", async () => {
    const card = await sdk.registerCard(stack.device, { actor: "operator-1" });
    const err = await rejection(sdk.bindCard(card.id, "alice", { actor: alice }));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:bind:own:registered");
    expect((await stack.store.cards.get(card.id))!.state).toBe("registered");
    expect(await lastRefusal(stack)).toMatchObject({
      actor: "alice",
      details: { operation: "bind", code: "AUTHZ_DENIED" },
    });
  });

  it("refuses self-service on a card not bound to the user (requireBinding), before anything is generated", async () => {
    const [card] = await stack.store.cards.list({ deviceSerial: stack.device.identity.serial });
    const before = await snapshotOf(stack, stack.device, card!.id);
    const err = await rejection(sdk.issueCard({ userId: "alice", device: stack.device, actor: alice }));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details).toMatchObject({ rule: "issuance.requireBinding", state: "registered" });
    expect(await snapshotOf(stack, stack.device, card!.id)).toEqual(before);
  });

  it("the user issues their own card once an operator bound it to them; openssl verifies", async () => {
    const [card] = await stack.store.cards.list({ deviceSerial: stack.device.identity.serial });
    const bound = await sdk.bindCard(card!.id, "alice", { actor: operator, comment: "enrolment desk" });
    expect(bound).toMatchObject({ state: "bound", userId: "alice" });
    const result = await sdk.issueCard({ userId: "alice", device: stack.device, actor: alice });
    await expectVerifiedOnCard(stack, result, stack.device);
    aliceCard = result.card;
    const [operation] = await stack.store.operations.list({ cardId: aliceCard.id });
    expect(operation).toMatchObject({ status: "completed", actor: "alice" });
    const events = await stack.store.audit.list({ cardId: aliceCard.id });
    expect(events.find((e) => e.action === "card.state" && e.details?.to === "bound")).toMatchObject({
      actor: "operator-1",
      details: { actorKind: "operator", comment: "enrolment desk" },
    });
    expect(events.find((e) => e.action === "issuance.cleared")).toMatchObject({
      actor: "alice",
      details: { actorKind: "user", mode: "self-service" },
    });
    expect(stack.notifier.ofKind("issued").map((n) => n.cardId)).toEqual([aliceCard.id]);
  });

  it("refuses self-service on another user's bound card, naming the permission", async () => {
    const device = await newDevice();
    devices.push(device);
    const card = await sdk.registerCard(device, { actor: "operator-1" });
    await sdk.bindCard(card.id, "bob", { actor: operator });
    const before = await snapshotOf(stack, device, card.id);
    const err = await rejection(sdk.issueCard({ userId: "alice", device, actor: alice }));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:issue:any:bound");
    // Nor may alice issue bob's card to bob.
    const forBob = await rejection(sdk.issueCard({ userId: "bob", device, actor: alice }));
    expect(forBob.details.permission).toBe("user:issue:any:bound");
    expect(await snapshotOf(stack, device, card.id)).toEqual(before);
  });

  it("refuses self-service without the user's issue permission (details.permission), and a user under operator mode", async () => {
    const device = await newDevice();
    devices.push(device);
    const noGrant = sdkOver(
      { ca: stack.ca, store: stack.store },
      { ...staffPivPolicy, issuance: { mode: "self-service" } },
    ).cardwright;
    const card = await noGrant.registerCard(device, { actor: "operator-1" });
    await noGrant.bindCard(card.id, "bob", { actor: operator });
    const before = await snapshotOf(stack, device, card.id);
    const err = await rejection(noGrant.issueCard({ userId: "bob", device, actor: { id: "bob", kind: "user" } }));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:issue:own:bound");
    const operatorMode = sdkOver(
      { ca: stack.ca, store: stack.store },
      { ...selfServicePolicy, issuance: {} },
    ).cardwright;
    const mode = await rejection(operatorMode.issueCard({ userId: "bob", device, actor: { id: "bob", kind: "user" } }));
    expect(mode.code).toBe("AUTHZ_DENIED");
    expect(mode.details).toMatchObject({ rule: "issuance.mode", mode: "operator" });
    expect(await snapshotOf(stack, device, card.id)).toEqual(before);
  });

  it("lets a user bind a card to themself only when the policy grants bind", async () => {
    const device = await newDevice();
    devices.push(device);
    const granting = sdkOver(
      { ca: stack.ca, store: stack.store },
      {
        ...selfServicePolicy,
        permissions: [...selfServicePolicy.permissions!, { actor: "user", operations: ["bind"] }],
      },
    ).cardwright;
    const card = await granting.registerCard(device, { actor: "operator-1" });
    const forAlice = await rejection(granting.bindCard(card.id, "alice", { actor: { id: "bob", kind: "user" } }));
    expect(forAlice.details.permission).toBe("user:bind:any:registered");
    const bound = await granting.bindCard(card.id, "bob", { actor: { id: "bob", kind: "user" } });
    expect(bound).toMatchObject({ state: "bound", userId: "bob" });
    expect((await stack.store.audit.list({ cardId: card.id })).at(-1)).toMatchObject({
      actor: "bob",
      action: "card.state",
      details: { from: "registered", to: "bound", actorKind: "user" },
    });
  });

  it("refuses an issue beyond maxCardsPerUser or maxCertificatesPerTemplate, before anything is generated", async () => {
    const device = await newDevice();
    devices.push(device);
    const oneCard = sdkOver(
      { ca: stack.ca, store: stack.store },
      { ...selfServicePolicy, limits: { maxCardsPerUser: 1 } },
    ).cardwright;
    const card = await oneCard.registerCard(device, { actor: "operator-1" });
    const before = await snapshotOf(stack, device, card.id);
    const cards = await rejection(oneCard.issueCard({ userId: "alice", device, actor: operator }));
    expect(cards.code).toBe("POLICY_LIMIT");
    expect(cards.details).toMatchObject({ rule: "limits.maxCardsPerUser", limit: 1, current: 1, userId: "alice" });
    const oneCert = sdkOver(
      { ca: stack.ca, store: stack.store },
      { ...selfServicePolicy, limits: { maxCardsPerUser: 2, maxCertificatesPerTemplate: 1 } },
    ).cardwright;
    const certs = await rejection(oneCert.issueCard({ userId: "alice", device, actor: operator }));
    expect(certs.code).toBe("POLICY_LIMIT");
    expect(certs.details).toMatchObject({
      rule: "limits.maxCertificatesPerTemplate",
      limit: 1,
      current: 1,
      templateId: "piv-auth",
    });
    expect(await snapshotOf(stack, device, card.id)).toEqual(before);
    expect(await lastRefusal(stack)).toMatchObject({
      actor: "operator-1",
      cardId: card.id,
      details: { operation: "issue", code: "POLICY_LIMIT", rule: "limits.maxCertificatesPerTemplate" },
    });
    // Within the limits the same card issues (bob holds no card yet).
    const bobs = await oneCard.issueCard({ userId: "bob", device, actor: operator });
    await expectVerifiedOnCard(stack, bobs, device);
  });

  it("keeps the audit chain intact across every issue and refusal", async () => {
    expect(await sdk.verifyAudit()).toMatchObject({ ok: true });
    const audit = await stack.store.audit.list();
    for (const e of audit.filter((x) => x.action === "operation.refused")) {
      expect(e.actor).not.toBe("");
      expect(e.details).toMatchObject({ operation: expect.any(String), code: expect.any(String) });
    }
    await expectNoSecrets(stack, stack.notifier);
  });
});
