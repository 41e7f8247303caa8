/**
 * Card leases through the Cardwright facade: one run per card at a time, across facades over one
 * store (what separate processes are), takeover after a crashed holder's lease expired, and a run
 * that lost its lease stopping before it records anything more.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AesGcmSecretVault,
  CardLeaseKeeper,
  Cardwright,
  CardwrightError,
  type Device,
  type Store,
  silentLogger,
} from "../src/index.js";
import { examplePivPolicy, InMemoryDirectory, InMemoryStore, SoftwareKeyDevice } from "../src/testing/index.js";
import { rejection } from "./support/errors.js";
import { ann } from "./support/fixtures.js";
import { mortalStore } from "./support/mortal-store.js";
import { ScriptedCa } from "./support/scripted-ca.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function world() {
  const store = new InMemoryStore();
  const kek = new Uint8Array(randomBytes(32));
  const ca = new ScriptedCa("ca");
  const process = (name: string, over: { store?: Store; leaseTtlMs?: number } = {}) =>
    new Cardwright({
      store: over.store ?? store,
      vault: AesGcmSecretVault.fromKey("kek-1", kek),
      directory: new InMemoryDirectory([ann]),
      certificateAuthorities: [ca],
      policies: [examplePivPolicy()],
      leaseOwner: name,
      ...(over.leaseTtlMs === undefined ? {} : { leaseTtlMs: over.leaseTtlMs }),
    });
  return { store, ca, process };
}

/** The device, with one method held until `open()` is called. */
function gated(device: SoftwareKeyDevice, method: keyof Device) {
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  let reached = false;
  const proxy = new Proxy(device, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== method || typeof value !== "function")
        return typeof value === "function" ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        reached = true;
        await gate;
        return value.apply(target, args);
      };
    },
  }) as unknown as Device;
  return { device: proxy, open, reached: () => reached };
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("card leases in the facade", () => {
  it("refuses a second run on a leased card with CARD_LEASED naming the holder, and releases after", async () => {
    const w = world();
    const raw = new SoftwareKeyDevice({ serial: "9001" });
    const g = gated(raw, "generateKeyPair");
    const first = w.process("host-a/pid-1").issueCard({ userId: "ann", device: g.device, actor: "op-a" });
    await until(g.reached, "the first run to reach key generation");
    const [card] = await w.store.cards.list();
    const before = await w.store.cards.get(card!.id);

    const err = await rejection(w.process("host-b/pid-2").issueCard({ userId: "ann", device: raw, actor: "op-b" }));
    expect(err.code).toBe("CARD_LEASED");
    expect(err.name).toBe("CardLeasedError");
    const lease = await w.store.leases.get(card!.id);
    expect(err.details).toEqual({ cardId: card!.id, leaseOwner: "host-a/pid-1", leaseExpiresAt: lease!.expiresAt });
    expect(err.message).toContain("leased to host-a/pid-1 until");
    // The refused run changed nothing.
    expect(await w.store.cards.get(card!.id)).toEqual(before);
    expect(await w.store.operations.list()).toHaveLength(1);

    g.open();
    expect((await first).status).toBe("active");
    expect(await w.store.leases.get(card!.id)).toBeNull();
    // A later run is refused for the card's state, not for a lease.
    expect(
      (await rejection(w.process("host-b/pid-2").issueCard({ userId: "ann", device: raw, actor: "op-b" }))).code,
    ).toBe("CARD_STATE");
  });

  it("excludes two runs of the same instance on one card, too", async () => {
    const w = world();
    const raw = new SoftwareKeyDevice({ serial: "9002" });
    const g = gated(raw, "generateKeyPair");
    const cw = w.process("host-a");
    const first = cw.issueCard({ userId: "ann", device: g.device, actor: "op-a" });
    await until(g.reached, "key generation");
    const operationId = (await w.store.operations.list())[0]!.id;
    expect((await rejection(cw.resumeOperation(operationId, { device: raw, actor: "op-a" }))).code).toBe("CARD_LEASED");
    g.open();
    expect((await first).status).toBe("active");
  });

  it("releases the lease when the run fails, after the failure rule was applied", async () => {
    const w = world();
    w.ca.scriptByTemplate.set("piv-auth", "reject");
    const device = new SoftwareKeyDevice({ serial: "9003" });
    expect((await rejection(w.process("a").issueCard({ userId: "ann", device, actor: "op" }))).code).toBe(
      "CA_REJECTED",
    );
    const [card] = await w.store.cards.list();
    expect(await w.store.leases.get(card!.id)).toBeNull();
  });

  it("restarts from its input an operation whose process died before the first snapshot", async () => {
    const w = world();
    const device = new SoftwareKeyDevice({ serial: "9004" });
    const mortal = mortalStore(w.store);
    // The process dies right after the transaction that created the operation committed.
    const dying = w.process("dying", { store: mortal.store, leaseTtlMs: 200 });
    const originalUpdate = w.store.operations.update.bind(w.store.operations);
    let first = true;
    w.store.operations.update = async (record) => {
      if (first && record.snapshot !== null) {
        first = false;
        mortal.kill();
        throw new CardwrightError("STORE_FAILURE", "this process is dead");
      }
      return originalUpdate(record);
    };
    expect((await rejection(dying.issueCard({ userId: "ann", device, actor: "op" }))).code).toBe("STORE_FAILURE");
    w.store.operations.update = originalUpdate;
    const [operation] = await w.store.operations.list();
    expect(operation).toMatchObject({ status: "running", snapshot: null });
    expect(operation?.input).toMatchObject({
      operationId: operation!.id,
      userId: "ann",
      previousCardState: "registered",
    });

    const taker = w.process("taker");
    expect((await rejection(taker.resumeOperation(operation!.id, { device, actor: "op-2" }))).code).toBe("CARD_LEASED");
    await sleep(Date.parse((await w.store.leases.get(operation!.cardId))!.expiresAt) - Date.now() + 10);
    const done = await taker.resumeOperation(operation!.id, { device, actor: "op-2" });
    expect(done.status).toBe("active");
    expect(w.ca.submitCount).toBe(1);
    expect((await w.store.operations.get(operation!.id))?.status).toBe("completed");
    expect(await taker.verifyAudit()).toMatchObject({ ok: true });
  });

  it("stops a run that lost its lease before it records another step", async () => {
    const w = world();
    const raw = new SoftwareKeyDevice({ serial: "9005" });
    const g = gated(raw, "generateKeyPair");
    // The stalled process is cut off from the store's lease table (a network partition): its
    // renewals fail, so its lease expires at the store while the run waits on the card.
    let partitioned = false;
    const renew = w.store.leases.renew.bind(w.store.leases);
    w.store.leases.renew = (lease, ttl) =>
      partitioned ? Promise.reject(new CardwrightError("STORE_FAILURE", "partitioned")) : renew(lease, ttl);
    const ttl = 300;
    const run = w.process("stalled", { leaseTtlMs: ttl }).issueCard({ userId: "ann", device: g.device, actor: "op" });
    await until(g.reached, "key generation");
    partitioned = true;
    const [operation] = await w.store.operations.list();
    const snapshotBefore = (await w.store.operations.get(operation!.id))!;
    await sleep(ttl + 100);
    // Another process takes the expired card over.
    const intruder = await w.store.leases.acquire(operation!.cardId, "intruder", 60_000);

    partitioned = false;
    g.open();
    const err = await rejection(run);
    expect(err.code).toBe("LEASE_LOST");
    expect(err.details).toMatchObject({ cardId: operation!.cardId, leaseOwner: "stalled", currentOwner: "intruder" });
    // Nothing more was recorded, and the intruder's lease is untouched.
    expect(await w.store.operations.get(operation!.id)).toEqual(snapshotBefore);
    expect(w.ca.submitCount).toBe(0);
    expect(await w.store.leases.get(operation!.cardId)).toEqual(intruder);
  });

  it("refuses out-of-range lease settings", () => {
    const w = world();
    for (const leaseTtlMs of [0, 5, 1.5, 86_400_001]) {
      expect(() => w.process("a", { leaseTtlMs })).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
    }
    expect(() => w.process("")).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });
});

describe("CardLeaseKeeper", () => {
  it("keeps renewing in the background past the lease duration, then releases", async () => {
    const store = new InMemoryStore();
    const keeper = await CardLeaseKeeper.acquire(store, "card-1", "worker", 60, silentLogger);
    const first = keeper.lease.expiresAt;
    await sleep(200);
    expect(Date.parse(keeper.lease.expiresAt)).toBeGreaterThan(Date.parse(first));
    expect((await rejection(store.leases.acquire("card-1", "other", 60))).code).toBe("CARD_LEASED");
    await keeper.release();
    expect(await store.leases.get("card-1")).toBeNull();
    const after = keeper.lease.expiresAt;
    await sleep(80);
    expect(keeper.lease.expiresAt).toBe(after);
  });

  it("reports LEASE_LOST once the card was taken over, and then releases nothing", async () => {
    const store = new InMemoryStore();
    const keeper = await CardLeaseKeeper.acquire(store, "card-1", "worker", 60_000, silentLogger);
    await store.leases.release(keeper.lease);
    const other = await store.leases.acquire("card-1", "other", 60_000);
    expect((await rejection(keeper.renew())).code).toBe("LEASE_LOST");
    expect((await rejection(keeper.renew())).code).toBe("LEASE_LOST");
    await keeper.release();
    expect(await store.leases.get("card-1")).toEqual(other);
  });

  it("fences from a fresh confirmation without a store call, and renews a stale one", async () => {
    const store = new InMemoryStore();
    let renewals = 0;
    const renew = store.leases.renew.bind(store.leases);
    store.leases.renew = (lease, ttl) => {
      renewals++;
      return renew(lease, ttl);
    };
    const ttl = 600;
    const keeper = await CardLeaseKeeper.acquire(store, "card-1", "worker", ttl, silentLogger);
    await keeper.fence();
    await keeper.fence();
    expect(renewals).toBe(0);
    // The background renewals fail for a while, so the last confirmation grows stale: the fence
    // must then ask the store itself.
    let failing = true;
    store.leases.renew = (lease, ttlMs) => {
      if (failing) return Promise.reject(new CardwrightError("STORE_FAILURE", "store unreachable"));
      renewals++;
      return renew(lease, ttlMs);
    };
    await sleep(ttl / 3 + 100);
    failing = false;
    await keeper.fence();
    expect(renewals).toBe(1);
    await keeper.release();
  });

  it("fails the fence with LEASE_LOST once a renewal found the card taken over", async () => {
    const store = new InMemoryStore();
    const keeper = await CardLeaseKeeper.acquire(store, "card-1", "worker", 60_000, silentLogger);
    await store.leases.release(keeper.lease);
    await store.leases.acquire("card-1", "other", 60_000);
    expect((await rejection(keeper.renew())).code).toBe("LEASE_LOST");
    expect((await rejection(keeper.fence())).code).toBe("LEASE_LOST");
  });
});
