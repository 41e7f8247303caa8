/**
 * The end of suspend/resume/revoke, of retire and of the PIN operations is durable in one
 * transaction: the step that releases the card also saves the operation's final status. A process
 * that dies right after that transaction — before the runner's own, separate save of the final
 * snapshot — must not leave the operation `running` while its card has moved on (no process could
 * resume it: the card no longer names it). Run through the Cardwright facade with a software
 * device, the in-memory store and a scripted CA.
 */
import { describe, expect, it } from "vitest";
import { CardwrightError } from "../src/index.js";
import { dyingRun, expectFree, issued, operationOf, operator, type World, world } from "./support/run-end-world.js";

const holder = { id: "ann", kind: "user" as const };
const NEW_PIN = "58204716";

/** A card of Ann's revoked (ready to be retired: `revoked` → `retired`), in its device. */
async function revoked(w: World, serial: string) {
  const { device, card } = await issued(w, serial);
  await w.cw.revokeCard({ cardId: card.id, actor: operator, reason: "cessationOfOperation" });
  return { device, card };
}

describe("suspend and revoke: the final status is saved with the release of the card", () => {
  it("suspend completes: a crash right after commit leaves the card suspended and the operation completed", async () => {
    const w = world();
    const { card } = await issued(w, "5001");
    const error = await dyingRun(w, card.id, (cw) => cw.suspendCard({ cardId: card.id, actor: operator }));
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "suspended");
    expect((await operationOf(w.store, card.id, "suspend")).status).toBe("completed");
    expect((await w.store.certificates.list({ cardId: card.id })).map((c) => c.status)).toEqual(["suspended"]);
  });

  it("suspend without a crash: completed at `done`, card suspended and free", async () => {
    const w = world();
    const { card } = await issued(w, "5002");
    const result = await w.cw.suspendCard({ cardId: card.id, actor: operator });
    expect(result.status).toBe("completed");
    await expectFree(w, card.id, "suspended");
    expect(await operationOf(w.store, card.id, "suspend")).toMatchObject({
      status: "completed",
      snapshot: { value: "done" },
    });
  });

  it("revoke released untouched: a crash right after the release leaves the revoke failed, not running", async () => {
    const w = world();
    const { card } = await issued(w, "5003");
    // The CA refuses the first revocation: nothing changed, so the card is given back as it was.
    w.ca.revoke = async () => {
      throw new CardwrightError("CA_REJECTED", "the CA refuses to revoke");
    };
    const error = await dyingRun(w, card.id, (cw) =>
      cw.revokeCard({ cardId: card.id, actor: holder, reason: "keyCompromise" }),
    );
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "active");
    expect((await operationOf(w.store, card.id, "revoke")).status).toBe("failed");
  });

  it("revoke released untouched without a crash: failed at `failed`, card active and free", async () => {
    const w = world();
    const { card } = await issued(w, "5004");
    w.ca.revoke = async () => {
      throw new CardwrightError("CA_REJECTED", "the CA refuses to revoke");
    };
    await expect(w.cw.revokeCard({ cardId: card.id, actor: holder, reason: "keyCompromise" })).rejects.toMatchObject({
      code: "CA_REJECTED",
    });
    await expectFree(w, card.id, "active");
    expect(await operationOf(w.store, card.id, "revoke")).toMatchObject({
      status: "failed",
      snapshot: { value: "failed" },
    });
  });

  it("revoke completes: a crash right after commit leaves the card revoked and the operation completed", async () => {
    const w = world();
    const { card } = await issued(w, "5005");
    const error = await dyingRun(w, card.id, (cw) =>
      cw.revokeCard({ cardId: card.id, actor: operator, reason: "superseded" }),
    );
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "revoked");
    expect((await operationOf(w.store, card.id, "revoke")).status).toBe("completed");
  });
});

describe("retire: the final status is saved with the release of the card", () => {
  it("completes: a crash right after commit leaves the card retired and the operation completed", async () => {
    const w = world();
    const { device, card } = await revoked(w, "6001");
    const error = await dyingRun(w, card.id, (cw) => cw.retireCard({ cardId: card.id, device, actor: operator }));
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "retired");
    expect((await operationOf(w.store, card.id, "retire")).status).toBe("completed");
  });

  it("completes without a crash: completed at `done`, card retired and free", async () => {
    const w = world();
    const { device, card } = await revoked(w, "6002");
    const result = await w.cw.retireCard({ cardId: card.id, device, actor: operator });
    expect(result.status).toBe("completed");
    await expectFree(w, card.id, "retired");
    expect(await operationOf(w.store, card.id, "retire")).toMatchObject({
      status: "completed",
      snapshot: { value: "done" },
    });
  });

  it("released before the wipe: a crash right after the release leaves the retire failed, not running", async () => {
    const w = world();
    const { device, card } = await revoked(w, "6003");
    // The card leaves the reader before the administrator authenticates: nothing was wiped.
    device.removeCard();
    const error = await dyingRun(w, card.id, (cw) => cw.retireCard({ cardId: card.id, device, actor: operator }));
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "revoked");
    expect((await operationOf(w.store, card.id, "retire")).status).toBe("failed");
  });

  it("released before the wipe without a crash: failed at `failed`, card revoked and free", async () => {
    const w = world();
    const { device, card } = await revoked(w, "6004");
    device.removeCard();
    await expect(w.cw.retireCard({ cardId: card.id, device, actor: operator })).rejects.toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "revoked");
    expect(await operationOf(w.store, card.id, "retire")).toMatchObject({
      status: "failed",
      snapshot: { value: "failed" },
    });
  });
});

describe("PIN operations: the final status is saved with the release of the card", () => {
  it("change-pin completes: a crash right after commit leaves the operation completed and the new PIN set", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "7001");
    const error = await dyingRun(w, card.id, (cw) =>
      cw.changePin({ cardId: card.id, device, actor: holder, currentPin: pin, newPin: NEW_PIN }),
    );
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "active");
    expect((await operationOf(w.store, card.id, "pin")).status).toBe("completed");
    await device.verifyPin(NEW_PIN);
  });

  it("change-pin without a crash: completed at `done`, card free", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "7002");
    const result = await w.cw.changePin({ cardId: card.id, device, actor: holder, currentPin: pin, newPin: NEW_PIN });
    expect(result.status).toBe("completed");
    await expectFree(w, card.id, "active");
    expect(await operationOf(w.store, card.id, "pin")).toMatchObject({
      status: "completed",
      snapshot: { value: "done" },
    });
  });

  it("a wrong current PIN: a crash right after the release leaves the operation failed, not running", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "7003");
    const wrong = pin === "12093847" ? "12093848" : "12093847";
    const error = await dyingRun(w, card.id, (cw) =>
      cw.changePin({ cardId: card.id, device, actor: holder, currentPin: wrong, newPin: NEW_PIN }),
    );
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "active");
    expect((await operationOf(w.store, card.id, "pin")).status).toBe("failed");
  });

  it("a wrong current PIN without a crash: failed at `failed` with the tries left, card free", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "7004");
    const wrong = pin === "12093847" ? "12093848" : "12093847";
    await expect(
      w.cw.changePin({ cardId: card.id, device, actor: holder, currentPin: wrong, newPin: NEW_PIN }),
    ).rejects.toMatchObject({ code: "PIV_WRONG_PIN" });
    await expectFree(w, card.id, "active");
    expect(await operationOf(w.store, card.id, "pin")).toMatchObject({
      status: "failed",
      snapshot: { value: "failed" },
    });
  });
});
