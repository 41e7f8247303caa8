/**
 * End to end on virtual YubiKeys with the embedded CA and the PGlite store, every part real:
 *
 * - Agent tasks: an operator queues an unblock for a card whose PIN is blocked; an agent at the
 *   card's workstation (an `AgentTaskRunner` from `createAgentRunner`) finds it when the card is
 *   in its reader, claims it, and unblocks the PIN on the card with the PUK the vault holds (the
 *   policy sets a random PUK at issue). Two agents racing for the task: one runs it. A kind with
 *   no handler fails typed; a cancelled task is never run; no secret reaches the store.
 * - Expiry: certificates issued with short validity under a fixed clock (CA and SDK on the same
 *   clock); `listExpiring` matches the notAfter `openssl x509` reads from the card, includes a
 *   third-party certificate, drops revoked ones; `notifyExpiring` sends once per threshold.
 */
import { randomInt } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  type AgentTaskHandlers,
  type CardRecord,
  Cardwright,
  CardwrightError,
  type Device,
  type DeviceIdentity,
  type DeviceProvider,
  isCardwrightError,
  type Policy,
  parseCertificate,
} from "@cardwright/core";
import { FixedClock, InMemoryDirectory, RecordingNotifier } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { PgliteStore } from "@cardwright/store-sql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "../src/index.js";
import { expectConsistent } from "./support/invariants.js";
import { openssl, opensslCertificate } from "./support/openssl.js";
import { certificatePem } from "./support/pem.js";
import { createStack, type Stack, TEST_KEK } from "./support/stack.js";

/**
 * The readers of one workstation over real virtual cards: each `open` selects the PIV application
 * anew through a fresh transport, as a reader would after the card was (re)inserted.
 */
class VirtualReaders implements DeviceProvider {
  readonly cards = new Map<string, VirtualPivCard>();
  readonly #identities = new Map<string, DeviceIdentity>();

  async insert(card: VirtualPivCard): Promise<void> {
    const device = await PivDevice.open(new InMemoryTransport(card));
    this.cards.set(device.identity.serial, card);
    this.#identities.set(device.identity.serial, device.identity);
    await device.close();
  }

  remove(serial: string): void {
    this.cards.delete(serial);
    this.#identities.delete(serial);
  }

  async list(): Promise<DeviceIdentity[]> {
    return [...this.#identities.values()];
  }

  async open(selector: { serial?: string } = {}): Promise<Device> {
    const card = this.cards.get(selector.serial ?? "");
    if (card === undefined) {
      throw new CardwrightError("DEVICE_NOT_FOUND", `no card with serial ${selector.serial} in a reader`, {
        details: { deviceSerial: selector.serial ?? "" },
      });
    }
    return PivDevice.open(new InMemoryTransport(card));
  }
}

async function blockPin(device: Device): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const err = await device.verifyPin("00000000").then(
      () => expect.unreachable("a wrong PIN was accepted"),
      (e: unknown) => e,
    );
    if (isCardwrightError(err, "PIV_PIN_BLOCKED")) return;
    expect(isCardwrightError(err, "PIV_WRONG_PIN")).toBe(true);
  }
  throw new Error("the PIN never blocked");
}

/** Every string a secret could hide in: store rows and audit events, as JSON. */
async function storedText(stack: Stack): Promise<string> {
  return JSON.stringify([
    await stack.store.audit.list(),
    await stack.store.agentTasks.list(),
    await stack.store.operations.list(),
  ]);
}

describe("agent tasks on a virtual YubiKey", () => {
  let stack: Stack;
  let sdk: Cardwright;
  let card: CardRecord;
  let readers: VirtualReaders;
  const secrets: string[] = [];
  const operator = { id: "operator-1", kind: "operator" as const };
  /** PINs the unblock handler set, by task id: the test reads them back from the card. */
  const newPins = new Map<string, string>();

  /** The card's PIN as last set: the update prompt answers with it, as the user at the workstation would. */
  let currentPin = "";
  /**
   * The agent's handlers: the facade's operations (`resetPin` with the vault-kept PUK for an
   * unblock, `updateCard` for an update), with the workstation's prompts answered by the test.
   */
  let handlers: AgentTaskHandlers;

  beforeAll(async () => {
    stack = await createStack();
    sdk = stack.cardwright;
    const issued = await sdk.issueCard({ userId: "alice", device: stack.device, actor: "operator-1" });
    if (issued.status !== "active") throw new Error("issue did not complete");
    card = issued.card;
    expect(staffPivPolicy.pin.randomPuk).toBe(true);
    const puk = Buffer.from(await stack.vault.unwrap(card.puk!, `cardwright:card:${card.id}:puk`)).toString("utf8");
    secrets.push(issued.pin!, puk);
    currentPin = issued.pin!;
    handlers = sdk.agentTaskHandlers({
      pin: async () => currentPin,
      showPin: async (task, pin) => {
        newPins.set(task.id, pin);
        secrets.push(pin);
        currentPin = pin;
      },
    });
    await stack.device.close();
    readers = new VirtualReaders();
    await readers.insert(stack.card);
  });
  afterAll(async () => stack?.close());

  it("unblocks a blocked PIN on the card through a queued task the agent claims and runs", async () => {
    const device = await readers.open({ serial: card.deviceSerial });
    await blockPin(device);
    expect(await device.pinStatus()).toMatchObject({ blocked: true, retriesLeft: 0 });
    await device.close();

    const task = await sdk.queueAgentTask({
      cardId: card.id,
      kind: "unblock-pin",
      actor: operator,
      comment: "user locked out, at workstation 7",
    });
    expect(task).toMatchObject({ status: "queued", deviceSerial: card.deviceSerial, queuedBy: "operator-1" });
    expect(await sdk.listAgentTasks({ deviceSerials: [card.deviceSerial], status: "queued" })).toEqual([task]);

    // An agent at another workstation, without the card, leaves it alone.
    const elsewhere = sdk.createAgentRunner({ devices: new VirtualReaders(), agentName: "ws-3", handlers });
    expect(await elsewhere.runPending()).toEqual([]);

    const agent = sdk.createAgentRunner({ devices: readers, agentName: "ws-7", handlers });
    expect(await agent.runPending()).toEqual([
      { taskId: task.id, kind: "unblock-pin", status: "completed", operationId: expect.any(String) },
    ]);

    // The card itself: unblocked, answering to the new PIN, the old one refused.
    const check = await readers.open({ serial: card.deviceSerial });
    const status = await check.pinStatus();
    expect(status.blocked).toBe(false);
    await check.verifyPin(newPins.get(task.id)!);
    await check.close();

    const done = (await stack.store.agentTasks.get(task.id))!;
    expect(done).toMatchObject({ status: "completed", claimedBy: "ws-7" });
    const trail = (await stack.store.audit.list({ cardId: card.id }))
      .filter((e) => e.details?.taskId === task.id)
      .map((e) => [e.action, e.actor, e.details?.comment]);
    expect(trail).toEqual([
      ["agent-task.queued", "operator-1", "user locked out, at workstation 7"],
      ["agent-task.claimed", "ws-7", undefined],
      ["agent-task.completed", "ws-7", undefined],
    ]);
    // Never twice: another pass, by this agent or another with the card, runs nothing.
    expect(await agent.runPending()).toEqual([]);
    expect(await sdk.createAgentRunner({ devices: readers, agentName: "ws-8", handlers }).runPending()).toEqual([]);
    expect(newPins.size).toBe(1);
  });

  it("lets exactly one of two agents with the card race for the task and run it", async () => {
    const device = await readers.open({ serial: card.deviceSerial });
    await blockPin(device);
    await device.close();
    const task = await sdk.queueAgentTask({ cardId: card.id, kind: "unblock-pin", actor: operator });
    const a = sdk.createAgentRunner({ devices: readers, agentName: "ws-a", handlers });
    const b = sdk.createAgentRunner({ devices: readers, agentName: "ws-b", handlers });
    const outcomes = await Promise.all([a.runTask(task), b.runTask(task)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(["completed", "skipped"]);
    const claims = (await stack.store.audit.list({ cardId: card.id })).filter(
      (e) => e.action === "agent-task.claimed" && e.details?.taskId === task.id,
    );
    expect(claims).toHaveLength(1);
    const check = await readers.open({ serial: card.deviceSerial });
    await check.verifyPin(newPins.get(task.id)!);
    await check.close();
  });

  it("updates the card through a queued task with the PIN the workstation's user enters", async () => {
    const task = await sdk.queueAgentTask({
      cardId: card.id,
      kind: "update",
      actor: operator,
      comment: "policy review",
    });
    const agent = sdk.createAgentRunner({ devices: readers, agentName: "ws-7", handlers });
    const [outcome] = await agent.runPending();
    expect(outcome).toMatchObject({ taskId: task.id, kind: "update", status: "completed" });
    const done = (await stack.store.agentTasks.get(task.id))!;
    const operation = (await stack.store.operations.get(done.operationId!))!;
    expect(operation).toMatchObject({ kind: "update", status: "completed", actor: "ws-7", cardId: card.id });
    expect((await stack.store.cards.get(card.id))?.state).toBe("active");
  });

  it("refuses update parameters of the wrong shape with a typed failure", async () => {
    const task = await sdk.queueAgentTask({
      cardId: card.id,
      kind: "update",
      actor: operator,
      params: { renewal: "sometimes" },
    });
    const [outcome] = await sdk.createAgentRunner({ devices: readers, agentName: "ws-7", handlers }).runPending();
    expect(outcome).toMatchObject({ taskId: task.id, status: "failed", error: { code: "CONFIG_INVALID" } });
    expect((await stack.store.agentTasks.get(task.id))?.error?.details).toMatchObject({ field: "renewal" });
  });

  it("fails a kind the agent has no handler for with a typed error, and never runs a cancelled task", async () => {
    const agent = sdk.createAgentRunner({
      devices: readers,
      agentName: "ws-7",
      handlers: { "unblock-pin": handlers["unblock-pin"] },
    });
    const update = await sdk.queueAgentTask({ cardId: card.id, kind: "update", actor: operator });
    const unblock = await sdk.queueAgentTask({ cardId: card.id, kind: "unblock-pin", actor: operator });
    await sdk.cancelAgentTask({ taskId: unblock.id, actor: operator, comment: "PIN remembered" });
    const outcomes = await agent.runPending();
    expect(outcomes).toMatchObject([
      { taskId: update.id, status: "failed", error: { code: "AGENT_TASK_UNSUPPORTED" } },
    ]);
    expect((await stack.store.agentTasks.get(update.id))?.error).toMatchObject({
      code: "AGENT_TASK_UNSUPPORTED",
      details: { kind: "update" },
    });
    expect((await stack.store.agentTasks.get(unblock.id))?.status).toBe("cancelled");
    expect(newPins.has(unblock.id)).toBe(false);
    const failed = (await stack.store.audit.list({ cardId: card.id })).find(
      (e) => e.action === "agent-task.failed" && e.details?.taskId === update.id,
    );
    expect(failed).toMatchObject({ actor: "ws-7", details: { taskId: update.id, code: "AGENT_TASK_UNSUPPORTED" } });
  });

  it("refuses a user queuing a task for their own card (no queue-task permission), audited", async () => {
    const err = await sdk
      .queueAgentTask({ cardId: card.id, kind: "unblock-pin", actor: { id: "alice", kind: "user" } })
      .catch((e: unknown) => e);
    expect(isCardwrightError(err, "AUTHZ_DENIED")).toBe(true);
    expect((err as CardwrightError).details.permission).toBe("user:queue-task:own:active");
  });

  it("records the card's own refusal as a typed failure when the PUK was changed outside cardwright", async () => {
    const vaultPuk = Buffer.from(await stack.vault.unwrap(card.puk!, `cardwright:card:${card.id}:puk`)).toString(
      "utf8",
    );
    const otherPuk = String(randomInt(10_000_000, 100_000_000));
    secrets.push(otherPuk);
    const device = await readers.open({ serial: card.deviceSerial });
    await device.changePuk(vaultPuk, otherPuk);
    await blockPin(device);
    await device.close();

    const task = await sdk.queueAgentTask({ cardId: card.id, kind: "unblock-pin", actor: operator });
    const agent = sdk.createAgentRunner({ devices: readers, agentName: "ws-7", handlers });
    const [outcome] = await agent.runPending();
    expect(outcome).toMatchObject({ taskId: task.id, status: "failed", error: { code: "PIV_WRONG_PIN" } });
    const failed = (await stack.store.agentTasks.get(task.id))!;
    expect(failed.status).toBe("failed");
    expect(failed.error?.code).toBe("PIV_WRONG_PIN");
    expect(typeof failed.error?.details.retriesLeft).toBe("number");
    expect(newPins.has(task.id)).toBe(false);
    // Failed is final: the agent does not try the card again on its own.
    expect(await agent.runPending()).toEqual([]);
    const check = await readers.open({ serial: card.deviceSerial });
    expect((await check.pinStatus()).blocked).toBe(true);
    await check.close();
  });

  it("keeps the audit chain intact and every PIN and PUK out of the store", async () => {
    expect((await sdk.verifyAudit()).ok).toBe(true);
    const device = await readers.open({ serial: card.deviceSerial });
    await expectConsistent(stack.store, stack.ca, new Map([[card.deviceSerial, device]]));
    await device.close();
    const text = await storedText(stack);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

describe("expiry monitoring of certificates issued with short validity", () => {
  const DAY = 86_400_000;
  // Whole seconds, as certificate times are: a 20-day certificate then has exactly 20 days left.
  const clock = new FixedClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  const shortPolicy: Policy = {
    ...staffPivPolicy,
    id: "short-piv",
    certificates: staffPivPolicy.certificates.map((t) => ({
      ...t,
      validityDays: t.id === "piv-auth" ? 20 : 50,
      renewalWindowDays: 5,
    })),
  };
  let store: PgliteStore;
  let ca: EmbeddedCa;
  let sdk: Cardwright;
  let notifier: RecordingNotifier;
  let cardId: string;
  let onCardNotAfter: Map<string, string>;
  let thirdPartyId: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-expiry-"));
    ca = await EmbeddedCa.create({
      id: DEMO_CA_ID,
      subject: "CN=Cardwright Expiry Test CA,O=Example Corp",
      keyAlgorithm: "ECCP256",
      validityDays: 3650,
      clock,
    });
    store = await PgliteStore.open({ dataDir: join(dir, "store"), clock });
    notifier = new RecordingNotifier();
    sdk = new Cardwright({
      store,
      vault: new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" }),
      directory: new InMemoryDirectory(sampleUsers),
      certificateAuthorities: [ca],
      policies: [shortPolicy],
      notifier,
      clock,
    });
    const virtual = await VirtualPivCard.create();
    const device = await PivDevice.open(new InMemoryTransport(virtual));
    const issued = await sdk.issueCard({ userId: "alice", device, actor: "operator-1" });
    if (issued.status !== "active") throw new Error("issue did not complete");
    cardId = issued.card.id;

    // notAfter as openssl reads it from the certificates on the card.
    onCardNotAfter = new Map();
    for (const slot of ["9a", "9c"]) {
      const r = openssl(["x509", "-in", "c.pem", "-noout", "-enddate"], {
        "c.pem": certificatePem((await device.readCertificate(slot))!),
      });
      expect(r.status, r.output).toBe(0);
      onCardNotAfter.set(slot, new Date(r.output.trim().replace(/^notAfter=/, "")).toISOString());
    }

    // A certificate found on the card that cardwright did not issue, recorded as third-party:
    // self-signed by openssl, valid for 10 days.
    const der = opensslCertificate({ subject: "/CN=Partner VPN/O=Partner Inc", days: 10 });
    await device.writeCertificate("82", der);
    const parsed = parseCertificate(der);
    thirdPartyId = `third-${parsed.serialHex}`;
    await store.certificates.create({
      id: thirdPartyId,
      cardId,
      slot: "82",
      status: "written",
      thirdParty: true,
      serialHex: parsed.serialHex,
      subject: parsed.subject,
      issuer: parsed.issuer,
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
      certificate: Buffer.from(der).toString("base64"),
    });
    await device.close();
  });
  afterAll(async () => {
    await store?.close();
  });

  it("lists the certificates expiring within 30 days — the 20-day one and the third-party one — not the 50-day one", async () => {
    const report = await sdk.listExpiring({ withinDays: 30 });
    const rows = report.certificates.map((c) => [c.certificate.slot, c.notAfter, c.daysLeft, c.certificate.thirdParty]);
    // openssl started its 10 days a few seconds after the fixed clock's now.
    expect(rows).toEqual([
      ["82", expect.any(String), 10, true],
      ["9a", onCardNotAfter.get("9a"), 20, undefined],
    ]);
    expect(Date.parse(onCardNotAfter.get("9a")!) - clock.now().getTime()).toBe(20 * DAY);
    expect(report.cards).toHaveLength(1);
    expect(report.cards[0]).toMatchObject({ cardId, userId: "alice", cardState: "active" });
    expect(report.users.map((u) => u.userId)).toEqual(["alice"]);
    const wide = await sdk.listExpiring({ withinDays: 60 });
    expect(wide.certificates.map((c) => c.certificate.slot)).toEqual(["82", "9a", "9c"]);
    expect(wide.certificates[2]!.notAfter).toBe(onCardNotAfter.get("9c"));
  });

  it("notifies once per certificate and threshold across daily runs", async () => {
    const first = await sdk.notifyExpiring({ withinDays: 30, actor: "expiry-job" });
    expect(first.notified.map((c) => c.certificate.slot)).toEqual(["82", "9a"]);
    const sent = notifier.ofKind("expiring");
    expect(sent.map((n) => [n.cardId, n.userId, n.notAfter])).toEqual([
      [cardId, "alice", expect.any(String)],
      [cardId, "alice", onCardNotAfter.get("9a")],
    ]);
    for (let day = 1; day <= 3; day++) {
      clock.advance(DAY);
      const again = await sdk.notifyExpiring({ withinDays: 30, actor: "expiry-job" });
      expect(again.notified).toEqual([]);
      expect(again.alreadyNotified).toHaveLength(2);
    }
    expect(notifier.ofKind("expiring")).toHaveLength(2);
    // Two weeks on: the 9A certificate enters the 7-day threshold (the third-party one has expired).
    clock.advance(11 * DAY);
    const week = await sdk.notifyExpiring({ withinDays: 7, actor: "expiry-job" });
    expect(week.notified.map((c) => [c.certificate.slot, c.daysLeft])).toEqual([["9a", 6]]);
    expect((await sdk.notifyExpiring({ withinDays: 7 })).notified).toEqual([]);
    expect(notifier.ofKind("expiring")).toHaveLength(3);
    const audited = (await sdk.listAudit({ cardId })).filter((e) => e.action === "certificate.expiry-notified");
    expect(audited.map((e) => [e.actor, e.details?.thresholdDays])).toEqual([
      ["expiry-job", 30],
      ["expiry-job", 30],
      ["expiry-job", 7],
    ]);
    expect(audited.map((e) => e.details?.certificateId)).toContain(thirdPartyId);
  });

  it("drops certificates once the card is revoked", async () => {
    await sdk.revokeCard({ cardId, reason: "cessationOfOperation", actor: { id: "operator-1", kind: "operator" } });
    const report = await sdk.listExpiring({ withinDays: 60 });
    expect(report.certificates.map((c) => c.certificate.slot)).not.toContain("9a");
    expect(report.certificates.map((c) => c.certificate.slot)).not.toContain("9c");
    expect((await sdk.verifyAudit()).ok).toBe(true);
  });
});
