import { beforeEach, describe, expect, it } from "vitest";
import type { OperationRecord } from "../domain/card.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { requireResumableOperation, requireSavedOperation } from "./resumable-operation.js";

const replaceOnly = { versions: { replace: "1" }, otherMachine: ", not a replacement" };

describe("resumable operations", () => {
  let store: InMemoryStore;

  async function saved(id: string, machineId: string, machineVersion: string, status: OperationRecord["status"]) {
    await store.operations.create({
      id,
      kind: "replace",
      cardId: "card-1",
      machineId,
      machineVersion,
      status,
      snapshot: null,
      actor: "operator-1",
    });
  }

  beforeEach(() => {
    store = new InMemoryStore({ clock: new FixedClock() });
  });

  it("returns an unfinished operation of a known machine at this version", async () => {
    await saved("op-1", "replace", "1", "pending");
    expect((await requireResumableOperation(store, "op-1", replaceOnly)).id).toBe("op-1");
  });

  it("refuses an unknown operation with STORE_NOT_FOUND", async () => {
    await expect(requireSavedOperation(store, "nope", replaceOnly)).rejects.toMatchObject({
      code: "STORE_NOT_FOUND",
      details: { recordKind: "operation", recordId: "nope" },
    });
  });

  it("refuses another machine's operation with WORKFLOW_STATE, even one named like an Object property", async () => {
    await saved("op-2", "issue", "1", "running");
    await saved("op-3", "constructor", "1", "running");
    await expect(requireSavedOperation(store, "op-2", replaceOnly)).rejects.toMatchObject({
      code: "WORKFLOW_STATE",
      message: "operation op-2 is a issue operation, not a replacement",
      details: { operationId: "op-2", machineId: "issue" },
    });
    await expect(requireSavedOperation(store, "op-3", replaceOnly)).rejects.toMatchObject({ code: "WORKFLOW_STATE" });
  });

  it("refuses another version of the machine with WORKFLOW_VERSION", async () => {
    await saved("op-4", "replace", "0", "running");
    await expect(requireSavedOperation(store, "op-4", replaceOnly)).rejects.toMatchObject({
      code: "WORKFLOW_VERSION",
      message: "operation op-4 was saved by replace machine version 0; this SDK runs version 1",
      details: { operationId: "op-4", savedVersion: "0", machineVersion: "1" },
    });
  });

  it("refuses a finished operation with WORKFLOW_STATE but still returns it as saved", async () => {
    for (const status of ["completed", "failed"] as const) {
      await saved(`op-${status}`, "replace", "1", status);
      await expect(requireResumableOperation(store, `op-${status}`, replaceOnly)).rejects.toMatchObject({
        code: "WORKFLOW_STATE",
        message: `operation op-${status} is ${status}; there is nothing to resume`,
        details: { operationId: `op-${status}`, status },
      });
      expect((await requireSavedOperation(store, `op-${status}`, replaceOnly)).status).toBe(status);
    }
  });
});
