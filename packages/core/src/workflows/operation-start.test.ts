import { beforeEach, describe, expect, it } from "vitest";
import { HashChainAuditLog } from "../audit/hash-chain-audit-log.js";
import type { CardRecord } from "../domain/card.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { SeededRandom } from "../testing/seeded-random.js";
import { startOperation } from "./operation-start.js";

describe("startOperation", () => {
  let store: InMemoryStore;
  let audit: HashChainAuditLog;
  let card: CardRecord;

  beforeEach(async () => {
    const clock = new FixedClock();
    store = new InMemoryStore({ clock });
    audit = new HashChainAuditLog(store, { clock, random: new SeededRandom(1) });
    card = await store.cards.create({
      id: "card-1",
      deviceSerial: "1",
      deviceType: "piv",
      state: "active",
      userId: "alice",
    });
  });

  const start = (over: Partial<Parameters<typeof startOperation>[2]> = {}) =>
    startOperation(store, audit, {
      card,
      operationId: "op-1",
      kind: "update",
      machineId: "update",
      machineVersion: "1",
      input: { operationId: "op-1" },
      actor: "operator-1",
      details: { operation: "update", from: "active" },
      ...over,
    });

  it("holds the card, creates the running operation and audits operation.started", async () => {
    const operation = await start({ cardState: "updating" });
    expect(operation).toMatchObject({
      id: "op-1",
      kind: "update",
      cardId: "card-1",
      userId: "alice",
      status: "running",
    });
    expect(operation.snapshot).toBeNull();
    expect(await store.cards.get("card-1")).toMatchObject({ state: "updating", pendingOperationId: "op-1" });
    const events = await store.audit.list({ cardId: "card-1" });
    expect(events.map((e) => [e.action, e.actor, e.userId, e.operationId, e.details])).toEqual([
      ["operation.started", "operator-1", "alice", "op-1", { operation: "update", from: "active" }],
    ]);
  });

  it("keeps the card's state unless told, and records the given user over the card's", async () => {
    await start({ userId: "bob" });
    expect(await store.cards.get("card-1")).toMatchObject({ state: "active", pendingOperationId: "op-1" });
    expect((await store.operations.get("op-1"))?.userId).toBe("bob");
  });

  it("writes nothing when the card changed since it was read", async () => {
    await store.cards.update({ ...card, state: "suspended" });
    await expect(start()).rejects.toMatchObject({ code: "STORE_CONFLICT" });
    expect(await store.operations.get("op-1")).toBeNull();
    expect(await store.audit.list({ cardId: "card-1" })).toEqual([]);
  });
});
