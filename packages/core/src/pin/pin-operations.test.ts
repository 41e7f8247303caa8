/**
 * PIN operations over the in-memory store and a software PIV device: what each operation does to
 * the device and the record, what it refuses before touching the device, the audit trail, and the
 * PUK rotation's crash safety. The virtual card end to end is in packages/cli/test.
 */
import { describe, expect, it } from "vitest";
import { rejection } from "../../test/support/errors.js";
import { HashChainAuditLog } from "../audit/hash-chain-audit-log.js";
import type { CardRecord } from "../domain/card.js";
import type { Policy } from "../domain/policy.js";
import { DEFAULT_LIFECYCLE_PERMISSIONS } from "../lifecycle/lifecycle-permissions.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import type { Device } from "../ports/device.js";
import { cryptoRandom } from "../runtime/crypto-random.js";
import { silentLogger } from "../runtime/logger.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { RecordingNotifier } from "../testing/recording-notifier.js";
import { PIV_FACTORY_PIN, PIV_FACTORY_PUK, SoftwareKeyDevice } from "../testing/software-key-device.js";
import { AesGcmSecretVault } from "../vault/aes-gcm-vault.js";
import { secretContext } from "../workflows/device-session.js";
import { createUnblockChallenge, redeemUnblockResponse } from "./offline-unblock.js";
import { PIN_MACHINE_ID, PIN_MACHINE_VERSION } from "./pin-machine.js";
import { PinOperations } from "./pin-operations.js";

const PIN = "11223344";
const PUK = "31415926";
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const operator = { id: "helpdesk-1", kind: "operator" as const };
const ann = { id: "ann", kind: "user" as const };

async function world(options: { policy?: Policy; device?: SoftwareKeyDevice } = {}) {
  const policy = options.policy ?? examplePivPolicy();
  const clock = new FixedClock("2026-11-23T12:00:00.000Z");
  const store = new InMemoryStore();
  const vault = AesGcmSecretVault.fromKey("kek-1", cryptoRandom.bytes(32));
  const auditLog = new HashChainAuditLog(store, { clock });
  const notifier = new RecordingNotifier();
  const ops = new PinOperations({
    store,
    vault,
    policies: new PolicyEngine([policy]),
    auditLog,
    logger: silentLogger,
    random: cryptoRandom,
    clock,
    notifier,
    leaseOwner: "unit",
    leaseTtlMs: 5000,
    answerKdf: { name: "scrypt", n: 1024, r: 8, p: 1, keyLength: 32 },
  });
  const device = options.device ?? new SoftwareKeyDevice({ serial: "4242" });
  await device.changePuk(PIV_FACTORY_PUK, PUK);
  await device.changePin(PIV_FACTORY_PIN, PIN);
  const card = await store.cards.create({
    id: "card-1",
    deviceSerial: device.identity.serial,
    deviceType: "piv",
    userId: "ann",
    policyId: policy.id,
    policyVersion: policy.version,
    state: "active",
    puk: await vault.wrap(enc(PUK), secretContext("card-1", "puk")),
    adminCredential: await vault.wrap(cryptoRandom.bytes(24), secretContext("card-1", "admin-credential")),
    adminCredentialAlgorithm: "AES192",
  });
  const vaultPuk = async () =>
    dec(await vault.unwrap((await store.cards.get(card.id))!.puk!, secretContext(card.id, "puk")));
  return { policy, clock, store, vault, auditLog, notifier, ops, device, card, vaultPuk };
}

/** The device, claiming other capabilities. */
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

describe("PinOperations", () => {
  it("changes the user's own PIN: the new PIN verifies, the operation and audit record it without the PIN", async () => {
    const w = await world();
    const r = await w.ops.changePin({
      cardId: w.card.id,
      device: w.device,
      actor: ann,
      currentPin: PIN,
      newPin: "55667788",
    });
    expect(r).toMatchObject({ status: "completed", pukRotated: false });
    expect(r.card.pendingOperationId).toBeUndefined();
    await w.device.verifyPin("55667788");
    const op = (await w.store.operations.get(r.operationId))!;
    expect(op).toMatchObject({ kind: "pin", status: "completed", machineId: PIN_MACHINE_ID, actor: "ann" });
    const audit = await w.store.audit.list({ cardId: w.card.id });
    expect(audit.map((e) => e.action)).toEqual(["operation.started", "card.pin.changed"]);
    const text = JSON.stringify([op, audit, await w.store.cards.list()]);
    for (const secret of [PIN, "55667788", PUK]) expect(text).not.toContain(secret);
  });

  it("a wrong current PIN fails with the tries left; the card is released and the failure audited", async () => {
    const w = await world();
    const err = await rejection(
      w.ops.changePin({ cardId: w.card.id, device: w.device, actor: ann, currentPin: "99999999", newPin: "55667788" }),
    );
    expect(err.code).toBe("PIV_WRONG_PIN");
    expect(err.details.retriesLeft).toBe(2);
    expect((await w.device.pinStatus()).retriesLeft).toBe(2);
    const card = (await w.store.cards.get(w.card.id))!;
    expect(card.pendingOperationId).toBeUndefined();
    expect(card.state).toBe("active");
    expect((await w.store.operations.get(String(err.details.operationId)))!.status).toBe("failed");
    expect((await w.store.audit.list({ cardId: w.card.id })).at(-1)).toMatchObject({
      action: "operation.failed",
      details: { cause: "PIV_WRONG_PIN", retriesLeft: 2 },
    });
    await w.device.verifyPin(PIN);
  });

  it("refuses a new PIN the policy does not allow before touching the card, audited, no operation created", async () => {
    const w = await world();
    const calls = w.device.calls.length;
    const err = await rejection(
      w.ops.changePin({ cardId: w.card.id, device: w.device, actor: ann, currentPin: PIN, newPin: "12ab" }),
    );
    expect(err).toMatchObject({ code: "POLICY_RULE", details: { rule: "length" } });
    expect(w.device.calls.length).toBe(calls);
    expect(await w.store.operations.list({ cardId: w.card.id })).toEqual([]);
    expect((await w.store.audit.list({ cardId: w.card.id })).at(-1)).toMatchObject({
      action: "operation.refused",
      details: { code: "POLICY_RULE", operation: "change-pin" },
    });
  });

  it("resets with the vault PUK and a random PIN, returned once and sent as a pin notification", async () => {
    const w = await world();
    const r = await w.ops.resetPin({ cardId: w.card.id, device: w.device, actor: operator, comment: "forgot PIN" });
    expect(r.pin).toMatch(/^[0-9]{8}$/);
    await w.device.verifyPin(r.pin!);
    expect(w.notifier.ofKind("pin")).toEqual([{ kind: "pin", cardId: w.card.id, userId: "ann", pin: r.pin }]);
    const reset = (await w.store.audit.list({ cardId: w.card.id })).find((e) => e.action === "card.pin.reset");
    expect(reset).toMatchObject({
      actor: "helpdesk-1",
      details: { method: "vault-puk", random: true, comment: "forgot PIN" },
    });
    expect(JSON.stringify(await w.store.audit.list())).not.toContain(r.pin!);
    // A chosen PIN where the policy generates one is refused.
    const chosen = await rejection(
      w.ops.resetPin({ cardId: w.card.id, device: w.device, actor: operator, newPin: "12345678" }),
    );
    expect(chosen).toMatchObject({ code: "POLICY_RULE", details: { rule: "random" } });
  });

  it("refuses a user resetting their own PIN under the default permissions, naming the permission", async () => {
    const w = await world();
    const err = await rejection(w.ops.resetPin({ cardId: w.card.id, device: w.device, actor: ann }));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:reset-pin:own:active");
  });

  it("resets by the admin credential where it unblocks (PKCS#11 SO PIN: pukChange false)", async () => {
    const w = await world({
      policy: { ...examplePivPolicy(), pin: { ...examplePivPolicy().pin, random: false, randomPuk: false } },
    });
    // The software device unblocks with its PUK; here that value plays the token's SO PIN.
    const { puk: _p, ...rest } = (await w.store.cards.get(w.card.id))!;
    await w.store.cards.update({
      ...rest,
      adminCredential: await w.vault.wrap(enc(PUK), secretContext(w.card.id, "admin-credential")),
      adminCredentialAlgorithm: "so-pin",
    } as CardRecord);
    const token = claiming(w.device, { pukChange: false });
    const r = await w.ops.resetPin({ cardId: w.card.id, device: token, actor: operator, newPin: "97531864" });
    expect(r.pin).toBeUndefined();
    await w.device.verifyPin("97531864");
    expect(
      (await w.store.audit.list({ cardId: w.card.id })).find((e) => e.action === "card.pin.reset")?.details,
    ).toMatchObject({
      method: "admin-credential",
      random: false,
    });
  });

  it("refuses by device capability before touching the card", async () => {
    const w = await world();
    const noUnblock = claiming(w.device, { pinUnblock: false });
    const calls = w.device.calls.length;
    const err = await rejection(w.ops.resetPin({ cardId: w.card.id, device: noUnblock, actor: operator }));
    expect(err).toMatchObject({ code: "DEVICE_CAPABILITY", details: { capability: "pinUnblock" } });
    const unblock = await rejection(
      w.ops.unblockPin({ cardId: w.card.id, device: noUnblock, actor: ann, puk: PUK, newPin: "24681357" }),
    );
    expect(unblock.code).toBe("DEVICE_CAPABILITY");
    expect(w.device.calls.length).toBe(calls);
    expect(await w.store.operations.list({ cardId: w.card.id })).toEqual([]);
  });

  it("unblocks a blocked PIN with the holder's PUK; a wrong PUK reports the PUK tries left", async () => {
    const w = await world();
    for (let i = 0; i < 3; i++) await w.device.verifyPin("00000000").catch(() => undefined);
    expect((await w.device.pinStatus()).blocked).toBe(true);
    const wrong = await rejection(
      w.ops.unblockPin({ cardId: w.card.id, device: w.device, actor: ann, puk: "00000000", newPin: "24681357" }),
    );
    expect(wrong.code).toBe("PIV_WRONG_PIN");
    expect(wrong.details.retriesLeft).toBe(2);
    await w.ops.unblockPin({ cardId: w.card.id, device: w.device, actor: ann, puk: PUK, newPin: "24681357" });
    await w.device.verifyPin("24681357");
    expect((await w.device.pinStatus()).retriesLeft).toBe(3);
  });

  it("takes over a PIN run whose process stopped (its secrets are gone): recorded failed, card released", async () => {
    const w = await world();
    const card = (await w.store.cards.get(w.card.id))!;
    await w.store.cards.update({ ...card, pendingOperationId: "op-dead" });
    await w.store.operations.create({
      id: "op-dead",
      kind: "pin",
      cardId: card.id,
      machineId: PIN_MACHINE_ID,
      machineVersion: PIN_MACHINE_VERSION,
      status: "running",
      snapshot: null,
      actor: "ann",
    });
    await w.ops.changePin({ cardId: w.card.id, device: w.device, actor: ann, currentPin: PIN, newPin: "55667788" });
    expect((await w.store.operations.get("op-dead"))!.status).toBe("failed");
    expect((await w.store.audit.list({ cardId: w.card.id }))[0]).toMatchObject({
      action: "operation.abandoned",
      operationId: "op-dead",
    });
  });

  it("replaces a disclosed PUK during the next PIN operation; the new PUK is on the card", async () => {
    const w = await world();
    const card = (await w.store.cards.get(w.card.id))!;
    await w.store.cards.update({ ...card, pukDisclosedAt: "2026-11-23T11:00:00.000Z" });
    const r = await w.ops.changePin({
      cardId: w.card.id,
      device: w.device,
      actor: ann,
      currentPin: PIN,
      newPin: "55667788",
    });
    expect(r.pukRotated).toBe(true);
    expect(r.card.pukDisclosedAt).toBeUndefined();
    expect(r.card.pukPrevious).toBeUndefined();
    const next = await w.vaultPuk();
    expect(next).not.toBe(PUK);
    expect(next).toMatch(/^[0-9]{8}$/);
    await w.device.unblockPin(next, "55667788"); // the card answers to the new PUK
    expect((await w.store.audit.list({ cardId: w.card.id })).map((e) => e.action)).toContain("card.puk.replaced");
  });

  it("finishes a PUK rotation interrupted after the card changed but before the record did", async () => {
    const w = await world();
    const card = (await w.store.cards.get(w.card.id))!;
    const newPuk = "27182818";
    await w.device.changePuk(PUK, newPuk); // the crashed run got this far
    await w.store.cards.update({
      ...card,
      puk: await w.vault.wrap(enc(newPuk), secretContext(card.id, "puk")),
      pukPrevious: card.puk!,
    });
    const r = await w.ops.rotatePuk({ cardId: card.id, device: w.device, actor: operator });
    expect(r.card.pukPrevious).toBeUndefined();
    expect(await w.vaultPuk()).toBe(newPuk);
    await w.device.unblockPin(newPuk, "55667788");
  });

  it("reveals the admin credential only to a view-admin-pin holder, audited", async () => {
    const w = await world();
    const denied = await rejection(w.ops.revealAdminCredential({ cardId: w.card.id, actor: operator }));
    expect(denied.code).toBe("AUTHZ_DENIED");
    expect(denied.details.permission).toBe("operator:view-admin-pin:any:active");
    const policy: Policy = {
      ...examplePivPolicy(),
      permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "operator", operations: ["view-admin-pin"] }],
    };
    const v = await world({ policy });
    const credential = await v.ops.revealAdminCredential({
      cardId: v.card.id,
      actor: operator,
      comment: "token recovery",
    });
    const stored = await v.vault.unwrap(v.card.adminCredential!, secretContext(v.card.id, "admin-credential"));
    expect(credential).toEqual({ kind: "management-key", algorithm: "AES192", key: stored });
    expect((await v.store.audit.list({ cardId: v.card.id })).at(-1)).toMatchObject({
      action: "card.admin-credential.revealed",
      actor: "helpdesk-1",
      details: { comment: "token recovery" },
    });
  });

  it("offline unblock: answers checked, response issued, PUK marked disclosed; locked after three failures", async () => {
    const w = await world();
    const answers = [
      { question: "First pet?", answer: "Rex" },
      { question: "Birth town?", answer: "Leeds" },
    ];
    const other = await rejection(
      w.ops.enrollSecurityAnswers({ userId: "ann", actor: { id: "bob", kind: "user" }, answers }),
    );
    expect(other.details.permission).toBe("user:enroll-security-answers:any");
    expect(await w.store.securityAnswers.get("ann")).toBeNull();
    await w.ops.enrollSecurityAnswers({ userId: "ann", actor: ann, answers });
    const challenge = createUnblockChallenge(w.device);
    const { responseCode } = await w.ops.offlineUnblockResponse({
      cardId: w.card.id,
      actor: operator,
      challenge: challenge.code,
      answers,
    });
    await redeemUnblockResponse({ device: w.device, challenge, responseCode, newPin: "86420864" });
    await w.device.verifyPin("86420864");
    expect((await w.store.cards.get(w.card.id))!.pukDisclosedAt).toBe("2026-11-23T12:00:00.000Z");
    const wrong = [answers[0]!, { question: "Birth town?", answer: "York" }];
    for (const left of [2, 1]) {
      const err = await rejection(
        w.ops.offlineUnblockResponse({ cardId: w.card.id, actor: operator, challenge: challenge.code, answers: wrong }),
      );
      expect(err).toMatchObject({ code: "AUTHZ_ANSWERS_REJECTED", details: { attemptsLeft: left } });
    }
    const third = await rejection(
      w.ops.offlineUnblockResponse({ cardId: w.card.id, actor: operator, challenge: challenge.code, answers: wrong }),
    );
    expect(third.details).toMatchObject({ attemptsLeft: 0, lockedUntil: "2026-11-23T12:30:00.000Z" });
    const locked = await rejection(
      w.ops.offlineUnblockResponse({ cardId: w.card.id, actor: operator, challenge: challenge.code, answers }),
    );
    expect(locked.code).toBe("AUTHZ_LOCKED_OUT");
    w.clock.advance(31 * 60 * 1000);
    await w.ops.offlineUnblockResponse({ cardId: w.card.id, actor: operator, challenge: challenge.code, answers });
    const results = (await w.store.audit.list())
      .filter((e) => e.action === "security-answers.checked")
      .map((e) => e.details?.result);
    expect(results).toEqual(["ok", "failed", "failed", "failed", "locked", "ok"]);
    expect(JSON.stringify(await w.store.audit.list())).not.toMatch(/Rex|Leeds|York|86420864/i);
  });
});
