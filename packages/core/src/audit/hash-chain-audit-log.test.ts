import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../domain/audit.js";
import type { AuditRepository, Store } from "../ports/store.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { canonicalJson } from "./canonical-json.js";
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
  const store = Object.assign(Object.create(inner), { audit }) as Store;
  return { store, events };
}

describe("canonicalJson", () => {
  it("sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe("HashChainAuditLog", () => {
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
