import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../domain/audit.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import type { AuditRepository, Store } from "../ports/store.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { SeededRandom } from "../testing/seeded-random.js";
import { auditEventHash, GENESIS_HASH, HashChainAuditLog } from "./hash-chain-audit-log.js";

/** A store whose audit repository lets a test rewrite history, as an attacker with database access could. */
function tamperableStore(): { store: Store; events: Map<number, AuditEvent> } {
  const inner = new InMemoryStore();
  const events = new Map<number, AuditEvent>();
  const audit: AuditRepository = {
    async append(e) {
      await inner.audit.append(e);
      events.set(e.seq, structuredClone(e));
    },
    async last() {
      return [...events.values()].sort((a, b) => b.seq - a.seq)[0] ?? null;
    },
    async list(q = {}) {
      return [...events.values()]
        .filter((e) => e.seq >= (q.fromSeq ?? 1))
        .sort((a, b) => a.seq - b.seq)
        .slice(0, q.limit ?? Number.MAX_SAFE_INTEGER);
    },
  };
  // Its transactions are the store itself: the test rewrites history, atomicity is not its subject.
  const store: Store = Object.assign(Object.create(inner) as Store, {
    audit,
    transaction: <T>(fn: (tx: Store) => Promise<T>) => fn(store),
  });
  return { store, events };
}

describe("auditEventHash", () => {
  it("keeps the bytes it hashed before the one-round-trip append (existing chains must verify)", () => {
    // Pinned from the implementation that JSON-round-tripped the input before hashing: integer-like
    // keys, -0, 1e21, non-ASCII, U+2028, escapes, nesting and empty arrays all hash as they did.
    const event: Omit<AuditEvent, "hash"> = {
      seq: 7,
      id: "0b8e3f4c-9d1a-4c2e-8f6b-2a7d5e1c9b30",
      at: "2030-01-02T03:04:05.678Z",
      actor: "operator:ålice",
      action: "certificate.issued",
      cardId: "card-1",
      userId: "u-1",
      operationId: "op-9",
      details: {
        slot: "9a",
        "10": "ten",
        "2": "two",
        b: [1, -0, 2.5, true, null, { z: 'é\u2028"\\', a: [] }],
        a: { nested: { k: 1e21 } },
        emoji: "🔑",
      },
      prevHash: "ab".repeat(32),
    };
    expect(auditEventHash(event)).toBe("19850c2cf5a35221cb927bcb7925d2baf6ec6b8cc8669559d2d5ad958bf98c21");
  });
});

/** The store, with a count of the audit repository calls made through it or its transactions. */
function countingStore(inner: Store = new InMemoryStore()): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const counted = (audit: AuditRepository): AuditRepository => ({
    append: (e) => {
      calls.push("append");
      return audit.append(e);
    },
    last: () => {
      calls.push("last");
      return audit.last();
    },
    list: (q) => {
      calls.push("list");
      return audit.list(q);
    },
  });
  const wrap = (s: Store): Store =>
    Object.assign(Object.create(s) as Store, {
      audit: counted(s.audit),
      transaction: <T>(fn: (tx: Store) => Promise<T>) => s.transaction((tx) => fn(wrap(tx))),
    });
  return { store: wrap(inner), calls };
}

describe("HashChainAuditLog", () => {
  it("appends with one store call once it knows the head (two for the first append of an instance)", async () => {
    const { store, calls } = countingStore();
    const log = new HashChainAuditLog(store);
    await log.append({ actor: "op", action: "a" });
    expect(calls).toEqual(["last", "append"]);
    calls.length = 0;
    for (let i = 0; i < 12; i++) await log.append({ actor: "op", action: "b", details: { i } });
    expect(calls).toEqual(Array(12).fill("append"));
    calls.length = 0;
    // Inside a transaction too: the head it appended there is the head it starts from.
    await store.transaction(async (tx) => {
      await log.append({ actor: "op", action: "c" }, tx);
      await log.append({ actor: "op", action: "d" }, tx);
    });
    expect(calls).toEqual(["append", "append"]);
    expect(await log.verify()).toEqual({ ok: true, count: 15 });
  });

  it("recovers from a head hint left by a rolled-back transaction: refused once, retried after the head the store named", async () => {
    const { store, calls } = countingStore();
    const log = new HashChainAuditLog(store);
    const first = await log.append({ actor: "op", action: "kept" });
    await expect(
      store.transaction(async (tx) => {
        await log.append({ actor: "op", action: "rolled-back" }, tx);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    calls.length = 0;
    const next = await log.append({ actor: "op", action: "after" });
    // The append naming the vanished event is refused; the refusal names event 1 as the head.
    expect(calls).toEqual(["append", "append"]);
    expect(next).toMatchObject({ seq: 2, prevHash: first.hash });
    calls.length = 0;
    await log.append({ actor: "op", action: "then" });
    expect(calls).toEqual(["append"]);
    expect((await store.audit.list()).map((e) => e.action)).toEqual(["kept", "after", "then"]);
    expect(await log.verify()).toEqual({ ok: true, count: 3 });
  });

  it("re-reads the head when the store's refusal does not name it", async () => {
    const inner = new InMemoryStore();
    // A store of another make that reports the conflict but not the head it saw.
    const terse: Store = Object.assign(Object.create(inner) as Store, {
      audit: {
        ...inner.audit,
        append: (e: AuditEvent) =>
          inner.audit.append(e).catch((err: unknown) => {
            throw isCardwrightError(err, "STORE_CONFLICT") ? new CardwrightError("STORE_CONFLICT", err.message) : err;
          }),
        last: () => inner.audit.last(),
        list: (q?: Parameters<AuditRepository["list"]>[0]) => inner.audit.list(q),
      },
      transaction: <T>(fn: (tx: Store) => Promise<T>) => inner.transaction(fn),
    });
    const { store, calls } = countingStore(terse);
    const a = new HashChainAuditLog(store);
    const b = new HashChainAuditLog(store);
    await a.append({ actor: "a", action: "x" });
    await b.append({ actor: "b", action: "x" });
    calls.length = 0;
    await a.append({ actor: "a", action: "y" });
    expect(calls).toEqual(["append", "last", "append"]);
    expect(await a.verify()).toEqual({ ok: true, count: 3 });
  });

  it("recovers from a hint another instance made stale, and both keep one verifying chain", async () => {
    const store = new InMemoryStore();
    const a = new HashChainAuditLog(store);
    const b = new HashChainAuditLog(store);
    for (let round = 0; round < 5; round++) {
      await a.append({ actor: "a", action: "x", details: { round } });
      await a.append({ actor: "a", action: "y", details: { round } });
      await b.append({ actor: "b", action: "x", details: { round } });
    }
    const all = await store.audit.list();
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(all.map((e) => e.actor).join("")).toBe("aab".repeat(5));
    expect(await b.verify()).toEqual({ ok: true, count: 15 });
  });

  it("keeps one verifying chain under two instances appending concurrently, also inside transactions", async () => {
    const store = new InMemoryStore();
    const logs = [new HashChainAuditLog(store), new HashChainAuditLog(store)];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 4 === 3
          ? store.transaction((tx) => logs[i % 2]!.append({ actor: `w${i % 2}`, action: "tx", details: { i } }, tx))
          : logs[i % 2]!.append({ actor: `w${i % 2}`, action: "x", details: { i } }),
      ),
    );
    const all = await store.audit.list();
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(new Set(all.map((e) => (e.details as { i: number }).i)).size).toBe(40);
    expect(await logs[1]!.verify()).toEqual({ ok: true, count: 40 });
  });

  it("hashes what the store keeps: undefined members, Dates and NaN as their JSON, hashes pinned", async () => {
    const store = new InMemoryStore();
    const log = new HashChainAuditLog(store, {
      clock: new FixedClock("2030-01-02T03:04:05.678Z"),
      random: new SeededRandom("pin"),
    });
    const a = await log.append({
      actor: "op",
      action: "card.registered",
      cardId: "c1",
      userId: undefined,
      details: {
        when: new Date("2030-01-01T00:00:00Z"),
        skip: undefined,
        list: [undefined, 1, Number.NaN],
        n: { "1": 1, b: 2 },
      },
    });
    const b = await log.append({ actor: "op", action: "card.state", details: { from: "registered", to: "bound" } });
    // Pinned from the implementation before the one-round-trip append.
    expect(a.hash).toBe("3d0d0960bbeba7fd41dfb97b9e8925ab92989ae027f7306e274ca1a1ac374c85");
    expect(b.hash).toBe("84dc6c062df39f5bd804f0ab140c90942d47685ee4a1a718b89e70a3e26decbd");
    expect(a.details).toEqual({ when: "2030-01-01T00:00:00.000Z", list: [null, 1, null], n: { "1": 1, b: 2 } });
    expect("userId" in a).toBe(false);
    expect(await store.audit.list()).toEqual([a, b]);
    expect(await log.verify()).toEqual({ ok: true, count: 2 });
  });

  it("chains events: seq 1.., prevHash links, genesis of 64 zeros, and verifies", async () => {
    const store = new InMemoryStore();
    const log = new HashChainAuditLog(store);
    const a = await log.append({ actor: "op", action: "card.registered", cardId: "c1" });
    const b = await log.append({
      actor: "op",
      action: "card.state",
      cardId: "c1",
      details: { from: "registered", to: "bound" },
    });
    expect(a.seq).toBe(1);
    expect(a.prevHash).toBe(GENESIS_HASH);
    expect(b.seq).toBe(2);
    expect(b.prevHash).toBe(a.hash);
    const { hash, ...rest } = b;
    expect(auditEventHash(rest)).toBe(hash);
    expect(await log.verify()).toEqual({ ok: true, count: 2 });
  });

  it("detects an altered event, a broken link and a missing event, naming the first broken seq", async () => {
    for (const tamper of ["alter", "relink", "delete"] as const) {
      const { store, events } = tamperableStore();
      const log = new HashChainAuditLog(store);
      for (let i = 0; i < 5; i++) await log.append({ actor: "op", action: "x", details: { i } });
      const e3 = events.get(3)!;
      if (tamper === "alter") events.set(3, { ...e3, actor: "someone-else" });
      if (tamper === "relink")
        events.set(3, { ...e3, prevHash: GENESIS_HASH, hash: auditEventHash({ ...e3, prevHash: GENESIS_HASH }) });
      if (tamper === "delete") events.delete(3);
      const result = await log.verify();
      expect(result.ok).toBe(false);
      expect(result.brokenAt).toBe(3);
      expect(result.count).toBe(2);
    }
  });

  it("keeps one unbroken chain under concurrent appenders (retries on STORE_CONFLICT)", async () => {
    const store = new InMemoryStore();
    const logs = [new HashChainAuditLog(store), new HashChainAuditLog(store), new HashChainAuditLog(store)];
    await Promise.all(Array.from({ length: 30 }, (_, i) => logs[i % 3]!.append({ actor: `a${i}`, action: "x" })));
    const all = await store.audit.list();
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await logs[0]!.verify()).toEqual({ ok: true, count: 30 });
  });

  it("is not starved on a store that queues every call behind running transactions (as PGlite does)", async () => {
    const inner = new InMemoryStore();
    // PGlite has one session: a call outside a transaction waits for the transactions queued
    // before it, so a head read alone is stale by the time the append after it runs.
    const queued: Store = Object.assign(Object.create(inner) as Store, {
      audit: {
        append: (e: AuditEvent) => inner.transaction((tx) => tx.audit.append(e)),
        last: () => inner.transaction((tx) => tx.audit.last()),
        list: (q?: Parameters<AuditRepository["list"]>[0]) => inner.audit.list(q),
      },
      transaction: <T>(fn: (tx: Store) => Promise<T>) => inner.transaction(fn),
    });
    // Few attempts: an appender must get through after a couple of refusals however busy the queue.
    const log = new HashChainAuditLog(queued, { maxAttempts: 3 });
    const busy = async (worker: number) => {
      for (let i = 0; i < 20; i++) {
        // A step's transaction: it appends and holds the queue a moment, as a card write does.
        await queued.transaction(async (tx) => {
          await log.append({ actor: `w${worker}`, action: "in-transaction", details: { i } }, tx);
          await new Promise((resolve) => setImmediate(resolve));
        });
        await log.append({ actor: `w${worker}`, action: "outside", details: { i } });
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => busy(w)));
    expect(await log.verify()).toEqual({ ok: true, count: 16 * 20 * 2 });
  });

  it("appends inside a transaction through the tx store, and rolls back with it", async () => {
    const store = new InMemoryStore();
    const log = new HashChainAuditLog(store);
    await store.transaction(async (tx) => {
      await log.append({ actor: "op", action: "kept" }, tx);
    });
    await expect(
      store.transaction(async (tx) => {
        await log.append({ actor: "op", action: "rolled-back" }, tx);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const all = await store.audit.list();
    expect(all.map((e) => e.action)).toEqual(["kept"]);
    expect(await log.verify()).toEqual({ ok: true, count: 1 });
  });
});
