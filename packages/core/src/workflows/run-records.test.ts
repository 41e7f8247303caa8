import { describe, expect, it } from "vitest";
import type { Store } from "../ports/store.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { RunRecords } from "./run-records.js";

/** The store, counting the request and certificate reads that reach it. */
function counted(store: Store) {
  const reads = { requests: 0, certificates: 0 };
  const get = <K extends "requests" | "certificates">(kind: K) => {
    const inner = store[kind];
    return new Proxy(inner, {
      get: (target, key, receiver) => {
        const value = Reflect.get(target, key, receiver);
        if (key !== "get" || typeof value !== "function") return value;
        return (id: string) => {
          reads[kind]++;
          return value.call(target, id);
        };
      },
    });
  };
  return { reads, store: { ...store, requests: get("requests"), certificates: get("certificates") } as Store };
}

const request = {
  id: "req-1",
  cardId: "card-1",
  operationId: "op-1",
  templateId: "auth",
  caId: "ca",
  status: "created" as const,
};

describe("RunRecords", () => {
  it("answers for ids the run made up without asking the store, and remembers what it wrote once committed", async () => {
    const base = new InMemoryStore({ clock: new FixedClock() });
    const { reads, store } = counted(base);
    const records = new RunRecords();
    records.unborn(["req-1"]);
    expect(await records.request(store, "req-1")).toBeNull();
    expect(await records.certificate(store, "req-1")).toBeNull();
    await records.transaction(base, async (tx) => {
      records.wroteRequest(await tx.requests.create(request));
    });
    expect(await records.request(store, "req-1")).toMatchObject({ id: "req-1", version: 1 });
    expect(reads).toEqual({ requests: 0, certificates: 0 });
  });

  it("forgets what a transaction wrote or read when it rolls back", async () => {
    const base = new InMemoryStore({ clock: new FixedClock() });
    const created = await base.requests.create(request);
    const records = new RunRecords();
    expect(await records.request(base, "req-1")).toEqual(created);
    await expect(
      records.transaction(base, async (tx) => {
        records.wroteRequest(await tx.requests.update({ ...created, status: "issued" }));
        expect((await records.request(tx, "req-1"))?.status).toBe("issued");
        throw new Error("later statement failed");
      }),
    ).rejects.toThrow("later statement failed");
    expect(await records.request(base, "req-1")).toEqual(created);
    expect(await base.requests.get("req-1")).toEqual(created);
  });

  it("reads an unknown record once, then from memory", async () => {
    const base = new InMemoryStore({ clock: new FixedClock() });
    await base.requests.create(request);
    const { reads, store } = counted(base);
    const records = new RunRecords();
    await records.request(store, "req-1");
    expect(reads.requests).toBe(1);
  });
});
