/**
 * End-to-end PIN operations on a virtual YubiKey (VirtualPivCard behind the PIV card edge), with
 * the embedded CA and the PGlite store: change, wrong current PIN, block and unblock with the PUK,
 * helpdesk reset by the vault PUK with a random PIN delivered through the Notifier, the offline
 * challenge–response unblock (answers, codes, redeem, PUK disclosed then rotated), answer lockout,
 * mistyped and tampered codes, and refusals by permission and by device capability. The card's own
 * PIN retry counter (GET METADATA, read by `pinStatus`) is the witness of what reached the card —
 * yubico-piv-tool would need pcscd. Last, the audit chain verifies and no PIN, PUK, management key,
 * response code or security answer appears in any audit event, snapshot, store row or log line.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CardRecord,
  Cardwright,
  createUnblockChallenge,
  DEFAULT_LIFECYCLE_PERMISSIONS,
  type Device,
  decodeCode,
  encodeCode,
  type Logger,
  type Policy,
  redeemUnblockResponse,
} from "@cardwright/core";
import { InMemoryDirectory } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { Pkcs11DeviceProvider } from "@cardwright/pkcs11";
import { createSoftHsm, type SoftHsm } from "@cardwright/pkcs11/testing";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleUsers, staffPivPolicy } from "../src/index.js";
import { rejection } from "./support/errors.js";
import { createStack, openParts, type Stack, sdkOver } from "./support/stack.js";

/** The same card, claiming other capabilities (a device that cannot do what is asked). */
function claiming(device: Device, capabilities: Partial<Device["capabilities"]>): Device {
  const merged = { ...device.capabilities, ...capabilities };
  return new Proxy(device, {
    get(target, prop) {
      if (prop === "capabilities") return merged;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const ANSWERS = [
  { question: "Name of your first school?", answer: "Hillside Primary" },
  { question: "Town where your parents met?", answer: "Ballymena" },
  { question: "Model of your first bicycle?", answer: "Raleigh Chopper" },
];

describe("PIN operations on a virtual YubiKey", () => {
  let stack: Stack;
  let sdk: Cardwright;
  let card: CardRecord;
  let pin: string;
  const logLines: string[] = [];
  /** Every secret used: none may appear in audit, snapshots, store rows or logs. */
  const secrets = new Set<string>();
  const operator = { id: "helpdesk-7", kind: "operator" as const };
  const alice = { id: "alice", kind: "user" as const };
  const bob = { id: "bob", kind: "user" as const };

  const vaultPuk = async () => {
    const record = (await stack.store.cards.get(card.id))!;
    const puk = Buffer.from(await stack.vault.unwrap(record.puk!, `cardwright:card:${card.id}:puk`)).toString("utf8");
    secrets.add(puk);
    return puk;
  };
  const retries = async () => (await stack.device.pinStatus()).retriesLeft;
  const block = async () => {
    while (!(await stack.device.pinStatus()).blocked) await stack.device.verifyPin("00000000").catch(() => undefined);
  };

  beforeAll(async () => {
    stack = await createStack();
    const logger: Logger = {
      log: (level, message, fields) => logLines.push(JSON.stringify({ level, message, fields })),
    };
    sdk = new Cardwright({
      store: stack.store,
      vault: stack.vault,
      directory: new InMemoryDirectory(sampleUsers),
      certificateAuthorities: [stack.ca],
      policies: [staffPivPolicy],
      notifier: stack.notifier,
      logger,
    });
    const r = await sdk.issueCard({ userId: "alice", device: stack.device, actor: "operator-1" });
    if (r.status !== "active") throw new Error("issue did not complete");
    card = r.card;
    pin = r.pin!;
    secrets.add(pin);
    await vaultPuk();
    const record = (await stack.store.cards.get(card.id))!;
    const key = Buffer.from(
      await stack.vault.unwrap(record.adminCredential!, `cardwright:card:${card.id}:admin-credential`),
    );
    secrets.add(key.toString("hex"));
    secrets.add(key.toString("base64"));
    for (const a of ANSWERS) secrets.add(a.answer);
  });
  afterAll(async () => stack?.close());

  it("the user changes their PIN: the card accepts the new one, counter full", async () => {
    const next = "13572468";
    secrets.add(next);
    const r = await sdk.changePin({
      cardId: card.id,
      device: stack.device,
      actor: alice,
      currentPin: pin,
      newPin: next,
    });
    expect(r).toMatchObject({ status: "completed", pukRotated: false });
    expect(r.card).toMatchObject({ state: "active" });
    await stack.device.verifyPin(next);
    expect(await stack.device.pinStatus()).toMatchObject({ retriesLeft: 3, retriesTotal: 3, blocked: false });
    pin = next;
    const op = (await stack.store.operations.get(r.operationId))!;
    expect(op).toMatchObject({ kind: "pin", status: "completed", actor: "alice" });
    expect((op.snapshot as { value: string }).value).toBe("done");
  });

  it("a wrong current PIN fails with the card's tries left; nothing else changes", async () => {
    const before = (await stack.store.cards.get(card.id))!;
    const err = await rejection(
      sdk.changePin({
        cardId: card.id,
        device: stack.device,
        actor: alice,
        currentPin: "99999999",
        newPin: "24682468",
      }),
    );
    expect(err.code).toBe("PIV_WRONG_PIN");
    expect(err.details.retriesLeft).toBe(2);
    expect(await retries()).toBe(2);
    const after = (await stack.store.cards.get(card.id))!;
    expect(after.state).toBe("active");
    expect(after.pendingOperationId).toBeUndefined();
    expect(after.puk).toEqual(before.puk);
    expect((await stack.store.operations.get(String(err.details.operationId)))!.status).toBe("failed");
    await stack.device.verifyPin(pin); // the old PIN still works and resets the counter
    expect(await retries()).toBe(3);
  });

  it("a PIN blocked by wrong tries is unblocked by the holder with the PUK", async () => {
    await block();
    expect(await stack.device.pinStatus()).toMatchObject({ blocked: true, retriesLeft: 0 });
    const next = "80808080";
    secrets.add(next);
    await sdk.unblockPin({ cardId: card.id, device: stack.device, actor: alice, puk: await vaultPuk(), newPin: next });
    expect(await stack.device.pinStatus()).toMatchObject({ blocked: false, retriesLeft: 3 });
    await stack.device.verifyPin(next);
    pin = next;
  });

  it("helpdesk resets by the vault PUK: a random PIN returned once and sent through the Notifier", async () => {
    await block();
    const sentBefore = stack.notifier.ofKind("pin").length;
    const r = await sdk.resetPin({ cardId: card.id, device: stack.device, actor: operator, comment: "ticket 4711" });
    expect(r.pin).toMatch(/^[0-9]{8}$/);
    secrets.add(r.pin!);
    const sent = stack.notifier.ofKind("pin");
    expect(sent).toHaveLength(sentBefore + 1);
    expect(sent.at(-1)).toEqual({ kind: "pin", cardId: card.id, userId: "alice", pin: r.pin });
    await stack.device.verifyPin(r.pin!);
    expect(await retries()).toBe(3);
    pin = r.pin!;
    const event = (await stack.store.audit.list({ cardId: card.id })).find(
      (e) => e.operationId === r.operationId && e.action === "card.pin.reset",
    );
    expect(event).toMatchObject({
      actor: "helpdesk-7",
      details: { method: "vault-puk", random: true, comment: "ticket 4711", actorKind: "operator" },
    });
  });

  it("offline unblock: challenge → answers → response → redeem; the PUK is then disclosed and rotated online", async () => {
    await sdk.enrollSecurityAnswers({ userId: "alice", actor: alice, answers: ANSWERS });
    const stored = await stack.store.securityAnswers.get("alice");
    expect(stored!.answers).toHaveLength(3);
    await block();
    const oldPuk = await vaultPuk();
    // Agent, offline: reads the card, makes the challenge the user reads to the helpdesk.
    const challenge = createUnblockChallenge(stack.device);
    expect(challenge.code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{1,4}){4}$/);
    // Helpdesk, online: the answers as the user says them (case, spacing, punctuation differ).
    const { responseCode } = await sdk.offlineUnblockResponse({
      cardId: card.id,
      actor: operator,
      challenge: challenge.code.toLowerCase(),
      answers: [
        { question: ANSWERS[0]!.question, answer: "hillside  primary" },
        { question: ANSWERS[1]!.question, answer: "BALLYMENA." },
        { question: ANSWERS[2]!.question, answer: "raleigh chopper" },
      ],
      comment: "user on the road, no VPN",
    });
    secrets.add(responseCode);
    secrets.add(responseCode.replaceAll("-", ""));
    expect((await stack.store.cards.get(card.id))!.pukDisclosedAt).toBeDefined();
    // Agent, offline: redeems the response with the PIN the user chooses.
    const next = "36925814";
    secrets.add(next);
    await redeemUnblockResponse({
      device: stack.device,
      challenge,
      responseCode,
      newPin: next,
      pinPolicy: staffPivPolicy.pin,
    });
    await stack.device.verifyPin(next);
    expect(await stack.device.pinStatus()).toMatchObject({ blocked: false, retriesLeft: 3 });
    pin = next;
    const audit = await stack.store.audit.list({ cardId: card.id });
    expect(audit.find((e) => e.action === "security-answers.checked")).toMatchObject({
      actor: "helpdesk-7",
      details: { result: "ok" },
    });
    expect(audit.find((e) => e.action === "offline-unblock.response-issued")).toMatchObject({
      actor: "helpdesk-7",
      details: { actorKind: "operator", comment: "user on the road, no VPN" },
    });
    // Back online: the next PIN operation replaces the disclosed PUK.
    const changed = "14725836";
    secrets.add(changed);
    const r = await sdk.changePin({
      cardId: card.id,
      device: stack.device,
      actor: alice,
      currentPin: pin,
      newPin: changed,
    });
    pin = changed;
    expect(r.pukRotated).toBe(true);
    expect(r.card.pukDisclosedAt).toBeUndefined();
    expect(r.card.pukPrevious).toBeUndefined();
    const newPuk = await vaultPuk();
    expect(newPuk).not.toBe(oldPuk);
    // The card itself: the old PUK is refused (one PUK try), the new one unblocks.
    const stale = await rejection(stack.device.unblockPin(oldPuk, pin));
    expect(stale.code).toBe("PIV_WRONG_PIN");
    await stack.device.unblockPin(newPuk, pin);
    await stack.device.verifyPin(pin);
  });

  it("refuses mistyped, tampered, replayed and other-card codes without touching the card", async () => {
    await block();
    const challenge = createUnblockChallenge(stack.device);
    // A challenge with a typo never reaches the answer check.
    const typoChallenge = challenge.code.replace(/^./, (c) => (c === "7" ? "8" : "7"));
    const typo = await rejection(
      sdk.offlineUnblockResponse({ cardId: card.id, actor: operator, challenge: typoChallenge, answers: ANSWERS }),
    );
    expect(typo).toMatchObject({ code: "OFFLINE_CODE_INVALID", details: { problem: "check" } });
    // A challenge made on another card.
    const otherCard = await VirtualPivCard.create();
    const otherDevice = await PivDevice.open(new InMemoryTransport(otherCard));
    const foreign = createUnblockChallenge(otherDevice);
    await otherDevice.close();
    const wrongCard = await rejection(
      sdk.offlineUnblockResponse({ cardId: card.id, actor: operator, challenge: foreign.code, answers: ANSWERS }),
    );
    expect(wrongCard).toMatchObject({ code: "OFFLINE_CODE_INVALID", details: { problem: "card" } });

    const { responseCode } = await sdk.offlineUnblockResponse({
      cardId: card.id,
      actor: operator,
      challenge: challenge.code,
      answers: ANSWERS,
    });
    secrets.add(responseCode);
    secrets.add(responseCode.replaceAll("-", ""));
    const redeem = (code: string, c = challenge) =>
      rejection(redeemUnblockResponse({ device: stack.device, challenge: c, responseCode: code, newPin: "11112222" }));
    // One character misread.
    const chars = responseCode.split("");
    const i = chars.findIndex((c) => c !== "-");
    chars[i] = chars[i] === "A" ? "B" : "A";
    expect((await redeem(chars.join(""))).details.problem).toBe("check");
    // One bit changed, check character made to fit: the AEAD tag refuses it.
    const bytes = decodeCode(responseCode, 16, "response");
    bytes[5]! ^= 0x10;
    expect((await redeem(encodeCode(bytes))).details.problem).toBe("authentication");
    // The response replayed against a fresh challenge on the same card.
    expect((await redeem(responseCode, createUnblockChallenge(stack.device))).details.problem).toBe("authentication");
    // Nothing reached the card: still blocked, and the genuine response still works (PUK not spent).
    expect(await stack.device.pinStatus()).toMatchObject({ blocked: true });
    const next = "47474747";
    secrets.add(next);
    await redeemUnblockResponse({ device: stack.device, challenge, responseCode, newPin: next });
    await stack.device.verifyPin(next);
    pin = next;
    await sdk.rotatePuk({ cardId: card.id, device: stack.device, actor: operator, comment: "after offline unblock" });
    expect((await stack.store.cards.get(card.id))!.pukDisclosedAt).toBeUndefined();
    await vaultPuk();
  });

  it("wrong answers count and lock further checks; even right answers are then refused", async () => {
    const challenge = createUnblockChallenge(stack.device);
    const wrong = [ANSWERS[0]!, ANSWERS[1]!, { question: ANSWERS[2]!.question, answer: "Raleigh Grifter" }];
    const attempt = (answers: typeof ANSWERS) =>
      rejection(sdk.offlineUnblockResponse({ cardId: card.id, actor: operator, challenge: challenge.code, answers }));
    expect((await attempt(wrong)).details).toMatchObject({ attemptsLeft: 2 });
    expect((await attempt(wrong)).details).toMatchObject({ attemptsLeft: 1 });
    const third = await attempt(wrong);
    expect(third.code).toBe("AUTHZ_ANSWERS_REJECTED");
    expect(Date.parse(String(third.details.lockedUntil))).toBeGreaterThan(Date.now());
    const locked = await attempt(ANSWERS);
    expect(locked.code).toBe("AUTHZ_LOCKED_OUT");
    const record = (await stack.store.securityAnswers.get("alice"))!;
    expect(record.lockedUntil).toBe(third.details.lockedUntil);
    const results = (await stack.store.audit.list({ cardId: card.id }))
      .filter((e) => e.action === "security-answers.checked")
      .map((e) => e.details?.result);
    expect(results.slice(-4)).toEqual(["failed", "failed", "failed", "locked"]);
    // No response was issued: the PUK rotated above is not disclosed.
    expect((await stack.store.cards.get(card.id))!.pukDisclosedAt).toBeUndefined();
  });

  it("refuses by permission, naming it, and audits the refusal", async () => {
    // One at a time: each refusal is audited under the card's lease.
    const cases: Array<[() => Promise<unknown>, string]> = [
      [
        () => sdk.changePin({ cardId: card.id, device: stack.device, actor: bob, currentPin: pin, newPin: "12121212" }),
        "user:change-pin:any:active",
      ],
      [() => sdk.resetPin({ cardId: card.id, device: stack.device, actor: alice }), "user:reset-pin:own:active"],
      [
        () => sdk.offlineUnblockResponse({ cardId: card.id, actor: alice, challenge: "0000", answers: ANSWERS }),
        "user:offline-unblock:own:active",
      ],
      [() => sdk.revealAdminCredential({ cardId: card.id, actor: operator }), "operator:view-admin-pin:any:active"],
    ];
    for (const [attempt, permission] of cases) {
      const err = await rejection(attempt());
      expect(err.code).toBe("AUTHZ_DENIED");
      expect(err.details.permission).toBe(permission);
    }
    const refused = (await stack.store.audit.list({ cardId: card.id })).filter((e) => e.action === "operation.refused");
    expect(refused.slice(-4).map((e) => e.details?.permission)).toEqual(cases.map(([, p]) => p));
    await stack.device.verifyPin(pin);
  });

  it("refuses by device capability before touching the card", async () => {
    const operationsBefore = (await stack.store.operations.list({ cardId: card.id })).length;
    await stack.device.verifyPin("00000000").catch(() => undefined);
    expect(await retries()).toBe(2);
    const noUnblock = claiming(stack.device, { pinUnblock: false });
    const reset = await rejection(sdk.resetPin({ cardId: card.id, device: noUnblock, actor: operator }));
    expect(reset).toMatchObject({ code: "DEVICE_CAPABILITY", details: { capability: "pinUnblock" } });
    const noChange = claiming(stack.device, { pinChange: false });
    const change = await rejection(
      sdk.changePin({ cardId: card.id, device: noChange, actor: alice, currentPin: pin, newPin: "12121212" }),
    );
    expect(change).toMatchObject({ code: "DEVICE_CAPABILITY", details: { capability: "pinChange" } });
    const rotate = await rejection(
      sdk.rotatePuk({ cardId: card.id, device: claiming(stack.device, { pukChange: false }), actor: operator }),
    );
    expect(rotate.code).toBe("DEVICE_CAPABILITY");
    // The card's counter is where the wrong VERIFY left it: no command reached it.
    expect(await retries()).toBe(2);
    expect(await stack.store.operations.list({ cardId: card.id })).toHaveLength(operationsBefore);
    await stack.device.verifyPin(pin);
  });

  it("reveals the admin credential to a view-admin-pin holder only, audited", async () => {
    const policy: Policy = {
      ...staffPivPolicy,
      permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "operator", operations: ["view-admin-pin"] }],
    };
    const granted = sdkOver({ ca: stack.ca, store: stack.store }, policy).cardwright;
    const credential = await granted.revealAdminCredential({ cardId: card.id, actor: operator, comment: "audit" });
    expect(credential.kind).toBe("management-key");
    if (credential.kind !== "management-key") return;
    // The revealed key opens the card.
    await stack.device.authenticateAdmin(credential);
    expect((await stack.store.audit.list({ cardId: card.id })).at(-1)).toMatchObject({
      action: "card.admin-credential.revealed",
      actor: "helpdesk-7",
      details: { algorithm: credential.algorithm, comment: "audit" },
    });
  });

  it("audit chain verifies; no PIN, PUK, key, response code or answer in audit, snapshots, store rows or logs", async () => {
    expect((await sdk.verifyAudit()).ok).toBe(true);
    const operations = await stack.store.operations.list({ cardId: card.id });
    expect(operations.filter((o) => o.kind === "pin").length).toBeGreaterThanOrEqual(6);
    const everything = JSON.stringify([
      await stack.store.cards.list(),
      await stack.store.certificates.list(),
      operations,
      await stack.store.securityAnswers.get("alice"),
      await stack.store.audit.list(),
      logLines,
    ]);
    expect(secrets.size).toBeGreaterThanOrEqual(15);
    for (const secret of secrets) expect(everything, "a secret leaked").not.toContain(secret);
    for (const a of ANSWERS) expect(everything.toLowerCase()).not.toContain(a.answer.toLowerCase());
  });
});

/** A SoftHSM2 token: PKCS#11 has no PUK, the per-card SO PIN (the admin credential) unblocks. */
describe("PIN reset by the admin credential on a SoftHSM2 token (PKCS#11: the SO PIN unblocks)", () => {
  const tokenPolicy: Policy = {
    ...staffPivPolicy,
    id: "staff-pkcs11",
    deviceTypes: ["pkcs11"],
    pin: { minLength: 8, maxLength: 16, allowed: ["digits"], random: true, randomLength: 10 },
    certificates: staffPivPolicy.certificates.map((t, i) => ({
      ...t,
      slot: i === 0 ? "01" : "02",
      keyAlgorithm: i === 0 ? ("ECCP256" as const) : ("RSA2048" as const),
    })),
    permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "operator", operations: ["view-admin-pin"] }],
  };
  const operator = { id: "helpdesk-7", kind: "operator" as const };
  let softhsm: SoftHsm;
  let provider: Pkcs11DeviceProvider;
  let device: Device;
  let parts: Awaited<ReturnType<typeof openParts>>;
  let sdk: Cardwright;
  let cardId: string;
  const secrets = new Set<string>();

  beforeAll(async () => {
    softhsm = await createSoftHsm({ labels: ["cw-e2e-pin"] });
    provider = new Pkcs11DeviceProvider({
      module: softhsm.module,
      initialSoPin: softhsm.soPin,
      initialUserPin: softhsm.userPin,
    });
    device = await provider.open({ label: "cw-e2e-pin" });
    parts = await openParts(mkdtempSync(join(tmpdir(), "cw-e2e-pin-")));
    sdk = sdkOver(parts, tokenPolicy).cardwright;
    const r = await sdk.issueCard({ userId: "alice", device, actor: "operator-1" });
    if (r.status !== "active") throw new Error("issue did not complete");
    cardId = r.card.id;
    secrets.add(r.pin!);
  }, 120_000);
  afterAll(async () => {
    await device?.close().catch(() => undefined);
    await provider?.close().catch(() => undefined);
    await softhsm?.close().catch(() => undefined);
    await parts?.store.close();
  });

  it("resets with the per-card SO PIN from the vault: random PIN, the token logs in with it", async () => {
    expect(device.capabilities).toMatchObject({ pinUnblock: true, pukChange: false });
    const r = await sdk.resetPin({ cardId, device, actor: operator, comment: "token PIN forgotten" });
    expect(r.pin).toMatch(/^[0-9]{10}$/);
    secrets.add(r.pin!);
    await device.verifyPin(r.pin!);
    const reset = (await parts.store.audit.list({ cardId })).find((e) => e.action === "card.pin.reset");
    expect(reset?.details).toMatchObject({ method: "admin-credential", random: true });
  });

  it("reveals the SO PIN to a view-admin-pin holder; it is the token's SO PIN", async () => {
    const credential = await sdk.revealAdminCredential({ cardId, actor: operator });
    expect(credential.kind).toBe("so-pin");
    if (credential.kind !== "so-pin") return;
    secrets.add(credential.pin);
    expect(credential.pin).not.toBe(softhsm.soPin); // issue replaced the factory SO PIN
    await device.authenticateAdmin(credential);
  });

  it("refuses what a token without a PUK cannot do: PUK rotation, offline unblock", async () => {
    const rotate = await rejection(sdk.rotatePuk({ cardId, device, actor: operator }));
    expect(rotate).toMatchObject({ code: "DEVICE_CAPABILITY", details: { capability: "pukChange" } });
    const offline = await rejection(
      sdk.offlineUnblockResponse({
        cardId,
        actor: operator,
        challenge: createUnblockChallenge(device).code,
        answers: ANSWERS,
      }),
    );
    expect(offline).toMatchObject({ code: "CARD_STATE", details: { rule: "randomPuk" } });
  });

  it("audit chain verifies; neither PIN nor SO PIN in the store", async () => {
    expect((await sdk.verifyAudit()).ok).toBe(true);
    const everything = JSON.stringify([
      await parts.store.cards.list(),
      await parts.store.operations.list(),
      await parts.store.audit.list(),
    ]);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
