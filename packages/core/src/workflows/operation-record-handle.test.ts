import { describe, expect, it } from "vitest";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { OperationRecordHandle } from "./operation-record-handle.js";

async function started() {
  const store = new InMemoryStore({ clock: new FixedClock() });
  const record = await store.operations.create({
    id: "op-1",
    kind: "issue",
    cardId: "card-1",
    machineId: "issue",
    machineVersion: "1",
    status: "running",
    snapshot: null,
    actor: "operator-1",
  });
  return { store, handle: new OperationRecordHandle(record) };
}

const save = (store: InMemoryStore, state: string) => (current: Parameters<typeof store.operations.update>[0]) =>
  store.operations.update({ ...current, snapshot: { value: state } });

describe("OperationRecordHandle", () => {
  it("saves queued snapshots in order, each on the version the one before left", async () => {
    const { store, handle } = await started();
    await Promise.all([handle.queue(save(store, "a")), handle.queue(save(store, "b")), handle.queue(save(store, "c"))]);
    expect(handle.record).toMatchObject({ version: 4, snapshot: { value: "c" } });
    expect(await store.operations.get("op-1")).toMatchObject({ version: 4, snapshot: { value: "c" } });
  });

  it("finishes after a save queued once the finishing step had started, with status and change in one transaction", async () => {
    const { store, handle } = await started();
    // The step starts first; the runner queues the save of the step's own state right after (as xstate notifies it).
    const finishing = handle.finishWith(
      "completed",
      (fn) => store.transaction(fn),
      async (tx) => {
        const card = await tx.cards.create({ id: "card-1", deviceSerial: "1", deviceType: "piv", state: "active" });
        return card.state;
      },
    );
    void handle.queue(save(store, "complete"));
    await expect(finishing).resolves.toBe("active");
    expect(await store.operations.get("op-1")).toMatchObject({
      version: 3,
      status: "completed",
      snapshot: { value: "complete" },
    });
    expect(handle.record.version).toBe(3);
  });

  it("leaves record and store as they were when the change fails", async () => {
    const { store, handle } = await started();
    const failure = new Error("card update refused");
    await expect(
      handle.finishWith(
        "completed",
        (fn) => store.transaction(fn),
        async (tx) => {
          await tx.cards.create({ id: "card-1", deviceSerial: "1", deviceType: "piv", state: "active" });
          throw failure;
        },
      ),
    ).rejects.toBe(failure);
    expect(await store.operations.get("op-1")).toMatchObject({ version: 1, status: "running" });
    expect(await store.cards.get("card-1")).toBeNull();
    await handle.queue(save(store, "rollback"));
    expect(handle.record.version).toBe(2);
  });
});
