/**
 * The end of an update and of a replacement is durable in one transaction: the step that releases
 * the card also saves the operation's final status. A process that dies right after that
 * transaction — before the runner's own, separate save of the final snapshot — must not leave the
 * operation `running` while its card has moved on (no process could resume it: the card no longer
 * names it). Run through the Cardwright facade with a software device, the in-memory store and a
 * scripted CA.
 */
import { describe, expect, it } from "vitest";
import { CardwrightError } from "../src/index.js";
import { SoftwareKeyDevice } from "../src/testing/index.js";
import { dyingRun, expectFree, issued, operationOf, operator, world } from "./support/run-end-world.js";

describe("update: the final status is saved with the release of the card", () => {
  it("completes: a crash right after commit leaves the card free and the update completed", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "3001");
    const error = await dyingRun(w, card.id, (cw) =>
      cw.updateCard({ cardId: card.id, device, actor: operator, optionalTemplates: ["signature"], pin }),
    );
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "active");
    expect((await operationOf(w.store, card.id, "update")).status).toBe("completed");
    expect((await w.store.certificates.list({ cardId: card.id })).map((c) => [c.slot, c.status]).sort()).toEqual([
      ["9a", "written"],
      ["9c", "written"],
    ]);
  });

  it("completes without a crash: completed, card active and free", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "3002");
    const result = await w.cw.updateCard({
      cardId: card.id,
      device,
      actor: operator,
      optionalTemplates: ["signature"],
      pin,
    });
    expect(result.status).toBe("completed");
    expect(result.card.pendingOperationId).toBeUndefined();
    const op = await operationOf(w.store, card.id, "update");
    expect(op).toMatchObject({ status: "completed", snapshot: { value: "done" } });
  });

  it("cancel: a crash right after the cancel released the card leaves the update failed, not running", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "3003");
    w.ca.script = "pending";
    const pending = await w.cw.updateCard({
      cardId: card.id,
      device,
      actor: operator,
      optionalTemplates: ["signature"],
      pin,
    });
    expect(pending.status).toBe("pending");
    expect((await operationOf(w.store, card.id, "update")).status).toBe("pending");
    const error = await dyingRun(w, card.id, (cw) => cw.cancelUpdate({ cardId: card.id, actor: operator }));
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "active");
    expect((await operationOf(w.store, card.id, "update")).status).toBe("failed");
  });

  it("cancel without a crash: the update is failed (cancelled), card active and free", async () => {
    const w = world();
    const { device, card, pin } = await issued(w, "3004");
    w.ca.script = "pending";
    await w.cw.updateCard({ cardId: card.id, device, actor: operator, optionalTemplates: ["signature"], pin });
    const result = await w.cw.cancelUpdate({ cardId: card.id, actor: operator });
    expect(result.status).toBe("cancelled");
    expect(result.card.pendingOperationId).toBeUndefined();
    expect(await operationOf(w.store, card.id, "update")).toMatchObject({
      status: "failed",
      snapshot: { value: "cancelled" },
    });
  });
});

describe("replace: the final status is saved with the release of the old card", () => {
  it("completes: a crash right after the old card was released leaves the replacement completed", async () => {
    const w = world();
    const { card } = await issued(w, "4001");
    const newDevice = new SoftwareKeyDevice({ serial: "4002" });
    const error = await dyingRun(w, card.id, (cw) =>
      cw.replaceCard({ cardId: card.id, reason: "damaged", newDevice, actor: operator }),
    );
    expect(error).toBeInstanceOf(CardwrightError);
    const old = await w.store.cards.get(card.id);
    expect(old?.pendingOperationId).toBeUndefined();
    expect(old?.replacedBy).toBeDefined();
    expect((await operationOf(w.store, card.id, "replace")).status).toBe("completed");
    // The new card's issue ended before the crash, through its own (already fixed) workflow.
    const newCard = await w.store.cards.get(old?.replacedBy ?? "");
    expect(newCard).toMatchObject({ state: "active", deviceSerial: "4002" });
    expect(newCard?.pendingOperationId).toBeUndefined();
  });

  it("completes without a crash: completed, both cards free", async () => {
    const w = world();
    const { card } = await issued(w, "4003");
    const result = await w.cw.replaceCard({
      cardId: card.id,
      reason: "damaged",
      newDevice: new SoftwareKeyDevice({ serial: "4004" }),
      actor: operator,
    });
    expect(result.status).toBe("completed");
    expect(result.oldCard.pendingOperationId).toBeUndefined();
    expect(await operationOf(w.store, card.id, "replace")).toMatchObject({
      status: "completed",
      snapshot: { value: "done" },
    });
  });

  it("released untouched: a crash right after the release leaves the replacement failed, not running", async () => {
    const w = world();
    const { card } = await issued(w, "4005");
    // The CA refuses the first revocation: nothing changed, so the replacement gives the old card back.
    w.ca.revoke = async () => {
      throw new CardwrightError("CA_REJECTED", "the CA refuses to revoke");
    };
    const error = await dyingRun(w, card.id, (cw) =>
      cw.replaceCard({
        cardId: card.id,
        reason: "damaged",
        newDevice: new SoftwareKeyDevice({ serial: "4006" }),
        actor: operator,
      }),
    );
    expect(error).toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "active");
    expect((await operationOf(w.store, card.id, "replace")).status).toBe("failed");
  });

  it("released untouched without a crash: failed, the old card active and free", async () => {
    const w = world();
    const { card } = await issued(w, "4007");
    w.ca.revoke = async () => {
      throw new CardwrightError("CA_REJECTED", "the CA refuses to revoke");
    };
    await expect(
      w.cw.replaceCard({
        cardId: card.id,
        reason: "damaged",
        newDevice: new SoftwareKeyDevice({ serial: "4008" }),
        actor: operator,
      }),
    ).rejects.toBeInstanceOf(CardwrightError);
    await expectFree(w, card.id, "active");
    expect(await operationOf(w.store, card.id, "replace")).toMatchObject({
      status: "failed",
      snapshot: { value: "failed" },
    });
  });
});
