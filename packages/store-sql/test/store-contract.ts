/**
 * The behaviour every `Store` must have, run against each implementation (PGlite in memory and on
 * disk, the in-memory store of `@cardwright/core/testing`, and later PostgreSQL).
 */
import type {
  AuditEvent,
  CardLease,
  CardRecord,
  CertificateRecord,
  Clock,
  NewRecord,
  OperationRecord,
  RequestRecord,
  Store,
  WrappedSecret,
} from "@cardwright/core";
import { GENESIS_HASH, HashChainAuditLog, isCardwrightError } from "@cardwright/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeWorkflowRecordsContract } from "./workflow-records-contract.js";

/** A clock that moves forward by `step` ms on every reading, so creation order is visible. */
export class SteppingClock implements Clock {
  constructor(
    public time = Date.parse("2030-01-01T00:00:00.000Z"),
    public step = 1000,
  ) {}

  now(): Date {
    const d = new Date(this.time);
    this.time += this.step;
    return d;
  }
}

/** Opens an empty store that uses `clock` for its timestamps. */
export type StoreFactory = (options: { clock: Clock }) => Promise<Store>;

/** Empties every table the migrations create, so each contract test starts from an empty database. */
export const TRUNCATE_ALL = `TRUNCATE ${[
  "cards",
  "certificates",
  "requests",
  "operations",
  "audit_events",
  "card_leases",
  "approvals",
  "documents",
  "agent_tasks",
  "security_answers",
].join(", ")}`;

const secret: WrappedSecret = { kekId: "kek-2030", alg: "A256GCM", iv: "q83vEjRWeJA=", ciphertext: "3q2+7w==/+AB" };

function card(id: string, over: Partial<NewRecord<CardRecord>> = {}): NewRecord<CardRecord> {
  return { id, deviceSerial: `serial-${id}`, deviceType: "piv", state: "registered", ...over };
}

function cert(id: string, over: Partial<NewRecord<CertificateRecord>> = {}): NewRecord<CertificateRecord> {
  return { id, cardId: "card-1", slot: "9a", status: "valid", ...over };
}

function request(id: string, over: Partial<NewRecord<RequestRecord>> = {}): NewRecord<RequestRecord> {
  return {
    id,
    cardId: "card-1",
    operationId: "op-1",
    templateId: "piv-auth",
    caId: "ca-1",
    status: "created",
    ...over,
  };
}

function operation(id: string, over: Partial<NewRecord<OperationRecord>> = {}): NewRecord<OperationRecord> {
  return {
    id,
    kind: "issue",
    cardId: "card-1",
    machineId: "issue",
    machineVersion: "1",
    status: "running",
    snapshot: { value: "start" },
    actor: "operator-1",
    ...over,
  };
}

/** Stand-in hash of event `seq`: the store checks links, not hashes (the `AuditLog` computes those). */
function fakeHash(seq: number): string {
  return seq.toString(16).padStart(64, "0");
}

/** Event `seq`, linked to `event(seq - 1)`; `fakeHash(0)` is the genesis hash of 64 zeros. */
function event(seq: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    seq,
    id: `evt-${seq}`,
    at: new Date(Date.UTC(2030, 0, 1, 0, 0, seq)).toISOString(),
    actor: "system",
    action: "card.state",
    prevHash: fakeHash(seq - 1),
    hash: fakeHash(seq),
    ...over,
  };
}

/** Rejection with a cardwright error of `code`. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Record<string, unknown>> {
  const err = await promise.then(
    () => expect.unreachable(`expected ${code}`),
    (e: unknown) => e,
  );
  expect(isCardwrightError(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  return (err as { details: Record<string, unknown> }).details;
}

const ids = (records: readonly { id: string }[]) => records.map((r) => r.id);

/** Registers the contract tests for one `Store` implementation. */
export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    let clock: SteppingClock;
    let store: Store;

    beforeEach(async () => {
      clock = new SteppingClock();
      store = await factory({ clock });
    });

    afterEach(async () => {
      await store.close();
    });

    describe("records", () => {
      it("creates at version 1 with store-set timestamps, ignoring caller-supplied ones", async () => {
        const created = await store.cards.create({
          ...card("card-1"),
          version: 7,
          createdAt: "1999-01-01T00:00:00.000Z",
        } as NewRecord<CardRecord>);
        expect(created).toMatchObject({ id: "card-1", version: 1, createdAt: "2030-01-01T00:00:00.000Z" });
        expect(created.updatedAt).toBe(created.createdAt);
        expect(await store.cards.get("card-1")).toEqual(created);
      });

      it("returns null for a missing id", async () => {
        expect(await store.cards.get("nope")).toBeNull();
        expect(await store.certificates.get("nope")).toBeNull();
        expect(await store.requests.get("nope")).toBeNull();
        expect(await store.operations.get("nope")).toBeNull();
      });

      it("updates with the current version: version + 1, createdAt kept, updatedAt moved", async () => {
        const v1 = await store.cards.create(card("card-1"));
        const v2 = await store.cards.update({
          ...v1,
          state: "bound",
          userId: "alice",
          createdAt: "1999-01-01T00:00:00Z",
        });
        expect(v2).toMatchObject({ version: 2, state: "bound", userId: "alice", createdAt: v1.createdAt });
        expect(Date.parse(v2.updatedAt)).toBeGreaterThan(Date.parse(v1.updatedAt));
        expect(await store.cards.get("card-1")).toEqual(v2);
        const v3 = await store.cards.update({ ...v2, userId: undefined });
        expect(v3.version).toBe(3);
        expect(await store.cards.get("card-1")).not.toHaveProperty("userId");
      });

      it("round-trips every repository", async () => {
        const c = await store.certificates.create(
          cert("cert-1", { serialHex: "0a1b", notAfter: "2031-01-01T00:00:00.000Z", subject: "CN=Alice" }),
        );
        expect(await store.certificates.get("cert-1")).toEqual(c);
        expect(await store.certificates.update({ ...c, status: "written" })).toMatchObject({ version: 2 });

        const r = await store.requests.create(request("req-1", { csr: "MIIB" }));
        expect(await store.requests.get("req-1")).toEqual(r);
        const r2 = await store.requests.update({ ...r, status: "pending", caRequestId: "ca-77" });
        expect(await store.requests.get("req-1")).toEqual(r2);

        const o = await store.operations.create(operation("op-1"));
        expect(await store.operations.get("op-1")).toEqual(o);
        const o2 = await store.operations.update({ ...o, status: "pending", snapshot: { value: "waiting" } });
        expect(await store.operations.get("op-1")).toEqual(o2);
      });

      it("refuses to create an existing id (STORE_DUPLICATE) and keeps the original", async () => {
        const original = await store.cards.create(card("card-1"));
        const details = await rejectsWith(store.cards.create(card("card-1", { state: "active" })), "STORE_DUPLICATE");
        expect(details).toMatchObject({ recordKind: "card", recordId: "card-1" });
        expect(await store.cards.get("card-1")).toEqual(original);
        await store.operations.create(operation("op-1"));
        await rejectsWith(store.operations.create(operation("op-1")), "STORE_DUPLICATE");
      });

      it("refuses to update a missing id (STORE_NOT_FOUND)", async () => {
        const ghost = {
          ...card("ghost"),
          version: 1,
          createdAt: "2030-01-01T00:00:00.000Z",
          updatedAt: "2030-01-01T00:00:00.000Z",
        };
        const details = await rejectsWith(store.cards.update(ghost), "STORE_NOT_FOUND");
        expect(details).toMatchObject({ recordKind: "card", recordId: "ghost" });
        expect(await store.cards.get("ghost")).toBeNull();
      });

      it("refuses a stale version (STORE_CONFLICT) with expected and actual versions", async () => {
        const v1 = await store.cards.create(card("card-1"));
        const v2 = await store.cards.update({ ...v1, state: "bound" });
        const details = await rejectsWith(store.cards.update({ ...v1, state: "retired" }), "STORE_CONFLICT");
        expect(details).toMatchObject({ recordKind: "card", recordId: "card-1", expectedVersion: 1, actualVersion: 2 });
        expect(await store.cards.get("card-1")).toEqual(v2);
      });

      it("lets exactly one of two concurrent updates from the same read win", async () => {
        const read = await store.cards.create(card("card-1"));
        const results = await Promise.allSettled([
          store.cards.update({ ...read, state: "bound", userId: "alice" }),
          store.cards.update({ ...read, state: "retired", userId: "bob" }),
        ]);
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected");
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(isCardwrightError(lost[0]?.reason, "STORE_CONFLICT")).toBe(true);
        const stored = await store.cards.get("card-1");
        expect(stored).toEqual((won[0] as PromiseFulfilledResult<CardRecord>).value);
        expect(stored?.version).toBe(2);
      });

      it("isolates stored state from the caller's objects", async () => {
        const input = card("card-1", { puk: { ...secret } });
        const created = await store.cards.create(input);
        input.state = "retired";
        input.puk!.ciphertext = "tampered";
        created.state = "active";
        const read = await store.cards.get("card-1");
        expect(read).toMatchObject({ state: "registered", puk: secret });
        read!.puk!.iv = "tampered";
        expect((await store.cards.list())[0]?.puk).toEqual(secret);
      });

      it("keeps snapshots and wrapped secrets exactly (JSON fidelity)", async () => {
        const snapshot = {
          status: "active",
          value: { issuing: { template: "piv-auth" } },
          context: {
            requestId: "req-1",
            index: 0,
            total: 3,
            ratio: -0.125,
            big: 9007199254740991,
            ok: true,
            nothing: null,
            empty: {},
            list: [1, "two", { three: [3] }, []],
            text: 'quotes " and \\ backslash, unicode é 日本 🎴, newline\n, tab\t',
            "key with spaces": "v",
          },
          children: {},
          historyValue: {},
        };
        await store.cards.create(
          card("card-1", { adminCredential: secret, adminCredentialAlgorithm: "AES256", puk: secret }),
        );
        await store.operations.create(operation("op-1", { snapshot }));
        expect((await store.operations.get("op-1"))?.snapshot).toEqual(snapshot);
        expect((await store.operations.list({ cardId: "card-1" }))[0]?.snapshot).toEqual(snapshot);
        const c = await store.cards.get("card-1");
        expect(c?.adminCredential).toEqual(secret);
        expect(c?.puk).toEqual(secret);
        const o = await store.operations.get("op-1");
        const updated = await store.operations.update({ ...o!, snapshot: { ...snapshot, status: "done" } });
        expect((await store.operations.get("op-1"))?.snapshot).toEqual(updated.snapshot);
      });

      it("drops undefined fields, as JSON does", async () => {
        await store.operations.create(operation("op-1", { userId: undefined, snapshot: { a: undefined, b: 1 } }));
        const o = await store.operations.get("op-1");
        expect(o).not.toHaveProperty("userId");
        expect(o?.snapshot).toStrictEqual({ b: 1 });
      });

      it("refuses values it cannot store faithfully", async () => {
        await rejectsWith(store.operations.create(operation("op-1", { snapshot: { n: 1n } })), "STORE_FAILURE");
        await rejectsWith(store.cards.create(card("card-nul", { deviceSerial: "a\u0000b" })), "STORE_FAILURE");
        await rejectsWith(store.cards.create(card("")), "STORE_FAILURE");
        await rejectsWith(store.certificates.create(cert("cert-1", { notAfter: "next tuesday" })), "STORE_FAILURE");
        expect(await store.operations.get("op-1")).toBeNull();
        expect(await store.certificates.get("cert-1")).toBeNull();
      });
    });

    describe("queries", () => {
      it("lists cards by user, device serial and state, oldest first, with a limit", async () => {
        await store.cards.create(card("c-3", { userId: "alice", deviceSerial: "111", state: "active" }));
        await store.cards.create(card("c-1", { userId: "alice", deviceSerial: "222", state: "retired" }));
        await store.cards.create(card("c-2", { userId: "bob", deviceSerial: "111", state: "active" }));
        await store.cards.create(card("c-4", { deviceSerial: "333" }));
        expect(ids(await store.cards.list())).toEqual(["c-3", "c-1", "c-2", "c-4"]);
        expect(ids(await store.cards.list({ userId: "alice" }))).toEqual(["c-3", "c-1"]);
        expect(ids(await store.cards.list({ deviceSerial: "111" }))).toEqual(["c-3", "c-2"]);
        expect(ids(await store.cards.list({ state: "active" }))).toEqual(["c-3", "c-2"]);
        expect(ids(await store.cards.list({ userId: "alice", state: "active" }))).toEqual(["c-3"]);
        expect(ids(await store.cards.list({ deviceSerial: "111", userId: "bob" }))).toEqual(["c-2"]);
        expect(ids(await store.cards.list({ userId: "carol" }))).toEqual([]);
        expect(ids(await store.cards.list({ limit: 2 }))).toEqual(["c-3", "c-1"]);
        expect(ids(await store.cards.list({ state: "active", limit: 1 }))).toEqual(["c-3"]);
        expect(await store.cards.list({ limit: 0 })).toEqual([]);
      });

      it("follows an update into the queried columns", async () => {
        const c = await store.cards.create(card("c-1", { userId: "alice", state: "registered" }));
        await store.cards.update({ ...c, userId: "bob", state: "active", deviceSerial: "999" });
        expect(await store.cards.list({ userId: "alice" })).toEqual([]);
        expect(ids(await store.cards.list({ userId: "bob", state: "active", deviceSerial: "999" }))).toEqual(["c-1"]);
      });

      it("breaks createdAt ties by id", async () => {
        clock.step = 0;
        await store.cards.create(card("b"));
        await store.cards.create(card("a"));
        await store.cards.create(card("C"));
        expect(ids(await store.cards.list())).toEqual(["C", "a", "b"]);
      });

      it("lists certificates by card, user and status", async () => {
        await store.certificates.create(cert("x-1", { cardId: "card-1", userId: "alice", status: "valid" }));
        await store.certificates.create(cert("x-2", { cardId: "card-2", userId: "alice", status: "revoked" }));
        await store.certificates.create(cert("x-3", { cardId: "card-1", userId: "bob", status: "written" }));
        await store.certificates.create(cert("x-4", { cardId: "card-3", status: "written", thirdParty: true }));
        expect(ids(await store.certificates.list())).toEqual(["x-1", "x-2", "x-3", "x-4"]);
        expect(ids(await store.certificates.list({ cardId: "card-1" }))).toEqual(["x-1", "x-3"]);
        expect(ids(await store.certificates.list({ userId: "alice" }))).toEqual(["x-1", "x-2"]);
        expect(ids(await store.certificates.list({ status: "written" }))).toEqual(["x-3", "x-4"]);
        expect(ids(await store.certificates.list({ cardId: "card-1", status: "written" }))).toEqual(["x-3"]);
        expect(ids(await store.certificates.list({ userId: "alice", limit: 1 }))).toEqual(["x-1"]);
      });

      it("lists certificates expiring strictly before an instant, soonest first", async () => {
        await store.certificates.create(cert("late", { notAfter: "2031-06-01T00:00:00.000Z" }));
        await store.certificates.create(cert("soon", { notAfter: "2030-02-01T00:00:00.000Z", status: "written" }));
        // 01:00 at +01:00 is midnight UTC: instants are compared, not strings.
        await store.certificates.create(cert("offset", { notAfter: "2030-03-01T01:00:00+01:00" }));
        await store.certificates.create(cert("edge", { notAfter: "2030-04-01T00:00:00.000Z" }));
        await store.certificates.create(cert("unknown"));
        const before = (iso: string, extra = {}) =>
          store.certificates.list({ expiringBefore: iso, ...extra }).then(ids);
        expect(await before("2030-04-01T00:00:00.000Z")).toEqual(["soon", "offset"]);
        expect(await before("2030-04-01T00:00:00.001Z")).toEqual(["soon", "offset", "edge"]);
        expect(await before("2030-03-01T00:00:00.000Z")).toEqual(["soon"]);
        expect(await before("2030-03-01T00:00:00.001Z")).toEqual(["soon", "offset"]);
        expect(await before("2099-01-01T00:00:00Z")).toEqual(["soon", "offset", "edge", "late"]);
        expect(await before("2099-01-01T00:00:00Z", { limit: 2 })).toEqual(["soon", "offset"]);
        expect(await before("2099-01-01T00:00:00Z", { status: "written" })).toEqual(["soon"]);
        expect(await before("2000-01-01T00:00:00Z")).toEqual([]);
        expect((await store.certificates.get("offset"))?.notAfter).toBe("2030-03-01T01:00:00+01:00");
      });

      it("refuses malformed query arguments", async () => {
        await rejectsWith(store.certificates.list({ expiringBefore: "soon" }), "STORE_FAILURE");
        await rejectsWith(store.cards.list({ limit: -1 }), "STORE_FAILURE");
        await rejectsWith(store.operations.list({ limit: 1.5 }), "STORE_FAILURE");
        await rejectsWith(store.audit.list({ limit: -1 }), "STORE_FAILURE");
      });

      it("lists requests by operation", async () => {
        await store.requests.create(request("r-2", { operationId: "op-1" }));
        await store.requests.create(request("r-1", { operationId: "op-2" }));
        await store.requests.create(request("r-3", { operationId: "op-1" }));
        expect(ids(await store.requests.listByOperation("op-1"))).toEqual(["r-2", "r-3"]);
        expect(ids(await store.requests.listByOperation("op-2"))).toEqual(["r-1"]);
        expect(await store.requests.listByOperation("op-3")).toEqual([]);
      });

      it("lists operations by card and status, with a limit", async () => {
        await store.operations.create(operation("o-1", { cardId: "card-1", status: "completed" }));
        await store.operations.create(operation("o-2", { cardId: "card-2", status: "pending" }));
        await store.operations.create(operation("o-3", { cardId: "card-1", status: "pending" }));
        expect(ids(await store.operations.list())).toEqual(["o-1", "o-2", "o-3"]);
        expect(ids(await store.operations.list({ cardId: "card-1" }))).toEqual(["o-1", "o-3"]);
        expect(ids(await store.operations.list({ status: "pending" }))).toEqual(["o-2", "o-3"]);
        expect(ids(await store.operations.list({ cardId: "card-1", status: "pending" }))).toEqual(["o-3"]);
        expect(ids(await store.operations.list({ status: "pending", limit: 1 }))).toEqual(["o-2"]);
      });
    });

    describe("audit", () => {
      it("appends, returns the newest, and lists in seq order with filters", async () => {
        expect(await store.audit.last()).toBeNull();
        await store.audit.append(event(1, { cardId: "card-2", details: { reason: "keyCompromise", n: 1 } }));
        await store.audit.append(event(2, { cardId: "card-1" }));
        await store.audit.append(event(3, { cardId: "card-1", userId: "alice", operationId: "op-1" }));
        await store.audit.append(event(4));
        expect(await store.audit.last()).toEqual(event(4));
        expect((await store.audit.list()).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
        expect(await store.audit.list({ fromSeq: 3 })).toEqual([
          event(3, { cardId: "card-1", userId: "alice", operationId: "op-1" }),
          event(4),
        ]);
        expect((await store.audit.list({ cardId: "card-1" })).map((e) => e.seq)).toEqual([2, 3]);
        expect((await store.audit.list({ cardId: "card-1", fromSeq: 3 })).map((e) => e.seq)).toEqual([3]);
        expect((await store.audit.list({ limit: 2 })).map((e) => e.seq)).toEqual([1, 2]);
        expect((await store.audit.list({ fromSeq: 2, limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
        expect((await store.audit.list())[0]).toEqual(
          event(1, { cardId: "card-2", details: { reason: "keyCompromise", n: 1 } }),
        );
      });

      it("refuses a taken seq (STORE_CONFLICT) and a taken id (STORE_DUPLICATE)", async () => {
        await store.audit.append(event(1));
        const details = await rejectsWith(store.audit.append(event(1, { id: "other" })), "STORE_CONFLICT");
        expect(details).toMatchObject({ recordKind: "audit event", seq: 1 });
        await rejectsWith(store.audit.append(event(2, { id: "evt-1" })), "STORE_DUPLICATE");
        await rejectsWith(store.audit.append(event(0)), "STORE_FAILURE");
        expect(await store.audit.list()).toEqual([event(1)]);
      });

      it("refuses an event that does not link to the stored chain (STORE_CONFLICT), writing nothing", async () => {
        /** Refused as unlinked, naming the stored head (`null`: the log is empty). */
        const refusedAsUnlinked = async (e: AuditEvent, head: AuditEvent | null) => {
          const err = await store.audit.append(e).then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(isCardwrightError(err, "STORE_CONFLICT")).toBe(true);
          expect((err as Error).message).toBe(
            `audit event ${e.seq} does not link to the stored head; re-read last() and retry`,
          );
          expect((err as { details?: unknown }).details).toEqual({
            recordKind: "audit event",
            recordId: e.id,
            seq: e.seq,
            // The head the store saw, so the appender can retry without reading it.
            ...(head === null ? { headSeq: 0 } : { headSeq: head.seq, headHash: head.hash }),
          });
        };
        // Seq 1 must name the genesis hash, nothing else.
        await refusedAsUnlinked(event(1, { prevHash: "f".repeat(64) }), null);
        // A later seq with no event before it: the log would have a gap.
        await refusedAsUnlinked(event(2), null);
        await store.audit.append(event(1));
        // A gap after a stored event.
        await refusedAsUnlinked(event(3), event(1));
        // The right seq, but naming a head that is not the stored one (a stale or rolled-back head).
        await refusedAsUnlinked(event(2, { prevHash: fakeHash(7) }), event(1));
        await refusedAsUnlinked(event(2, { prevHash: GENESIS_HASH }), event(1));
        expect(await store.audit.list()).toEqual([event(1)]);
        await store.audit.append(event(2));
        // A taken seq is reported as taken even when its link is wrong too; a taken id as a duplicate.
        const taken = await rejectsWith(
          store.audit.append(event(2, { id: "other", prevHash: fakeHash(9) })),
          "STORE_CONFLICT",
        );
        expect(taken).toMatchObject({ seq: 2, recordId: "other", headSeq: 2, headHash: event(2).hash });
        await rejectsWith(store.audit.append(event(3, { id: "evt-1" })), "STORE_DUPLICATE");
        expect((await store.audit.list()).map((e) => e.seq)).toEqual([1, 2]);
      });

      it("refuses inside a transaction without spoiling it, and sees the transaction's own head", async () => {
        await store.audit.append(event(1));
        await store.transaction(async (tx) => {
          await rejectsWith(tx.audit.append(event(3)), "STORE_CONFLICT");
          await tx.audit.append(event(2));
          // Links to the event this transaction wrote, not yet committed.
          await tx.audit.append(event(3));
        });
        expect((await store.audit.list()).map((e) => e.seq)).toEqual([1, 2, 3]);
        // A head appended in a transaction that rolled back never existed: the next event cannot link to it.
        await expect(
          store.transaction(async (tx) => {
            await tx.audit.append(event(4));
            throw new Error("rolled back");
          }),
        ).rejects.toThrow("rolled back");
        await rejectsWith(store.audit.append(event(5)), "STORE_CONFLICT");
        await store.audit.append(event(4, { id: "evt-4-again" }));
        expect((await store.audit.list()).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      });

      it("keeps one verifying chain under two HashChainAuditLogs appending at once, with rollbacks", async () => {
        const logs = [new HashChainAuditLog(store), new HashChainAuditLog(store)];
        const kept: number[] = [];
        await Promise.all(
          Array.from({ length: 24 }, async (_, i) => {
            const log = logs[i % 2]!;
            if (i % 3 === 0) {
              // Rolled back after its append: leaves that instance a hint naming an event that never was.
              await expect(
                store.transaction(async (tx) => {
                  await log.append({ actor: "w", action: "rolled-back", details: { i } }, tx);
                  throw new Error("undo");
                }),
              ).rejects.toThrow("undo");
            } else if (i % 3 === 1) {
              await store.transaction((tx) => log.append({ actor: "w", action: "in-tx", details: { i } }, tx));
              kept.push(i);
            } else {
              await log.append({ actor: "w", action: "direct", details: { i } });
              kept.push(i);
            }
          }),
        );
        const all = await store.audit.list();
        expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
        expect(all.map((e) => (e.details as { i: number }).i).sort((x, y) => x - y)).toEqual(
          kept.sort((x, y) => x - y),
        );
        expect(all.some((e) => e.action === "rolled-back")).toBe(false);
        expect(await logs[0]!.verify()).toEqual({ ok: true, count: 16 });
      });

      it("keeps one chain when one HashChainAuditLog serves many concurrent transactions holding the head", async () => {
        // As in a bureau: one SDK instance, many readers, each step's event appended in the step's
        // transaction, which goes on to another statement before it commits. The log's head may
        // name an event another transaction has not committed yet; no appender may starve.
        const log = new HashChainAuditLog(store);
        const writers = 16;
        const each = 8;
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let i = 0; i < each; i++) {
              await store.transaction(async (tx) => {
                await log.append({ actor: `writer-${w}`, action: "step", details: { w, i } }, tx);
                await tx.audit.last();
                // The rest of the step's transaction, holding the head a little before it commits.
                await new Promise((resolve) => setTimeout(resolve, 3));
              });
            }
          }),
        );
        const all = await store.audit.list();
        expect(all).toHaveLength(writers * each);
        expect(await log.verify()).toEqual({ ok: true, count: writers * each });
      }, 60_000);

      it("lets exactly one of many concurrent appends of one seq win", async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.audit.append(event(1, { id: `writer-${i}` }))),
        );
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(rejected).toHaveLength(7);
        for (const r of rejected) expect(isCardwrightError(r.reason, "STORE_CONFLICT")).toBe(true);
        expect(await store.audit.list()).toHaveLength(1);
      });

      it("keeps the chain gapless when concurrent writers re-read and retry", async () => {
        const writer = async (name: string) => {
          for (;;) {
            const seq = ((await store.audit.last())?.seq ?? 0) + 1;
            try {
              await store.audit.append(event(seq, { id: `${name}-${seq}`, actor: name }));
              return;
            } catch (err) {
              if (!isCardwrightError(err, "STORE_CONFLICT")) throw err;
            }
          }
        };
        await Promise.all(Array.from({ length: 6 }, (_, i) => writer(`w${i}`)));
        const log = await store.audit.list();
        expect(log.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(new Set(log.map((e) => e.actor)).size).toBe(6);
      });
    });

    describe("leases", () => {
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

      it("grants a free card, refuses a second holder with CARD_LEASED naming holder and expiry", async () => {
        const lease = await store.leases.acquire("card-1", "worker-a", 60_000);
        expect(lease).toMatchObject({ cardId: "card-1", owner: "worker-a" });
        expect(lease.token).toMatch(/^[0-9a-f-]{36}$/);
        const ttl = Date.parse(lease.expiresAt) - Date.parse(lease.acquiredAt);
        expect(ttl).toBeGreaterThanOrEqual(59_999);
        expect(ttl).toBeLessThanOrEqual(60_001);
        expect(await store.leases.get("card-1")).toEqual(lease);

        const details = await rejectsWith(store.leases.acquire("card-1", "worker-b", 60_000), "CARD_LEASED");
        expect(details).toEqual({ cardId: "card-1", leaseOwner: "worker-a", leaseExpiresAt: lease.expiresAt });
        // Not re-entrant: the same owner name is refused too, so two runs in one instance exclude each other.
        await rejectsWith(store.leases.acquire("card-1", "worker-a", 60_000), "CARD_LEASED");
        // Leases are per card.
        expect((await store.leases.acquire("card-2", "worker-b", 60_000)).owner).toBe("worker-b");
        expect(await store.leases.get("card-3")).toBeNull();
      });

      it("lets exactly one of many concurrent acquirers win", async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.leases.acquire("card-1", `worker-${i}`, 60_000)),
        );
        const won = results.filter((r): r is PromiseFulfilledResult<CardLease> => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const r of results.filter((x): x is PromiseRejectedResult => x.status === "rejected")) {
          expect(isCardwrightError(r.reason, "CARD_LEASED")).toBe(true);
          expect(r.reason.details.leaseOwner).toBe(won[0]?.value.owner);
        }
        expect((await store.leases.get("card-1"))?.token).toBe(won[0]?.value.token);
      });

      it("renews with the holder's token, moving the expiry forward", async () => {
        const lease = await store.leases.acquire("card-1", "worker-a", 1_000);
        await sleep(5);
        const renewed = await store.leases.renew(lease, 60_000);
        expect(renewed).toMatchObject({ cardId: "card-1", owner: "worker-a", token: lease.token });
        expect(renewed.acquiredAt).toBe(lease.acquiredAt);
        expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(lease.expiresAt) + 50_000);
        expect(await store.leases.get("card-1")).toEqual(renewed);
      });

      it("releases only with the holder's token; then anyone may take the card", async () => {
        const lease = await store.leases.acquire("card-1", "worker-a", 60_000);
        expect(await store.leases.release({ ...lease, token: "not-the-token" })).toBe(false);
        await rejectsWith(store.leases.acquire("card-1", "worker-b", 60_000), "CARD_LEASED");
        expect(await store.leases.release(lease)).toBe(true);
        expect(await store.leases.release(lease)).toBe(false);
        expect(await store.leases.get("card-1")).toBeNull();
        const next = await store.leases.acquire("card-1", "worker-b", 60_000);
        expect(next.token).not.toBe(lease.token);
        // The old holder can neither renew nor release its successor's lease.
        const details = await rejectsWith(store.leases.renew(lease, 60_000), "LEASE_LOST");
        expect(details).toMatchObject({ cardId: "card-1", leaseOwner: "worker-a", currentOwner: "worker-b" });
        expect(await store.leases.release(lease)).toBe(false);
        expect(await store.leases.get("card-1")).toEqual(next);
      });

      it("lets another holder take the card over once the lease expired; the old token is then lost", async () => {
        const stale = await store.leases.acquire("card-1", "crashed-worker", 20);
        await sleep(60);
        const taken = await store.leases.acquire("card-1", "worker-b", 60_000);
        expect(taken).toMatchObject({ owner: "worker-b" });
        expect(Date.parse(taken.acquiredAt)).toBeGreaterThanOrEqual(Date.parse(stale.expiresAt));
        await rejectsWith(store.leases.renew(stale, 60_000), "LEASE_LOST");
        expect(await store.leases.release(stale)).toBe(false);
        expect((await store.leases.get("card-1"))?.token).toBe(taken.token);
      });

      it("refuses lost leases and bad arguments", async () => {
        const ghost: CardLease = {
          cardId: "card-9",
          owner: "worker-a",
          token: "t",
          acquiredAt: "2030-01-01T00:00:00.000Z",
          expiresAt: "2030-01-01T00:01:00.000Z",
        };
        expect(await rejectsWith(store.leases.renew(ghost, 1_000), "LEASE_LOST")).toEqual({
          cardId: "card-9",
          leaseOwner: "worker-a",
        });
        for (const ttl of [0, -1, 1.5, 86_400_001, Number.NaN]) {
          await rejectsWith(store.leases.acquire("card-1", "worker-a", ttl), "STORE_FAILURE");
        }
        await rejectsWith(store.leases.acquire("", "worker-a", 1_000), "STORE_FAILURE");
        await rejectsWith(store.leases.acquire("card-1", "", 1_000), "STORE_FAILURE");
        expect(await store.leases.get("card-1")).toBeNull();
      });

      it("takes part in transactions: a rolled-back acquire leaves the card free", async () => {
        await expect(
          store.transaction(async (tx) => {
            await tx.leases.acquire("card-1", "worker-a", 60_000);
            throw new Error("abort");
          }),
        ).rejects.toThrow("abort");
        expect(await store.leases.get("card-1")).toBeNull();
      });
    });

    describe("transactions", () => {
      it("commits every write of the callback and returns its result", async () => {
        const result = await store.transaction(async (tx) => {
          const c = await tx.cards.create(card("card-1"));
          await tx.cards.update({ ...c, state: "bound" });
          await tx.audit.append(event(1, { cardId: "card-1" }));
          expect((await tx.cards.get("card-1"))?.state).toBe("bound");
          return "done";
        });
        expect(result).toBe("done");
        expect(await store.cards.get("card-1")).toMatchObject({ state: "bound", version: 2 });
        expect(await store.audit.last()).toEqual(event(1, { cardId: "card-1" }));
      });

      it("rolls back every write when the callback throws, and rethrows its error", async () => {
        const before = await store.cards.create(card("card-0"));
        const boom = new Error("policy said no");
        const err = await store
          .transaction(async (tx) => {
            await tx.cards.update({ ...before, state: "active" });
            await tx.cards.create(card("card-1"));
            await tx.certificates.create(cert("cert-1", { notAfter: "2031-01-01T00:00:00Z" }));
            await tx.requests.create(request("req-1"));
            await tx.operations.create(operation("op-1"));
            await tx.audit.append(event(1));
            throw boom;
          })
          .catch((e: unknown) => e);
        expect(err).toBe(boom);
        expect(await store.cards.get("card-0")).toEqual(before);
        expect(await store.cards.get("card-1")).toBeNull();
        expect(await store.certificates.list()).toEqual([]);
        expect(await store.requests.get("req-1")).toBeNull();
        expect(await store.operations.list()).toEqual([]);
        expect(await store.audit.last()).toBeNull();
        // The store is still usable after a rollback.
        expect((await store.cards.update({ ...before, state: "bound" })).version).toBe(2);
      });

      it("joins nested transactions to the outer one", async () => {
        const inner = await store.transaction(async (tx) => {
          await tx.cards.create(card("card-1"));
          const value = await tx.transaction(async (nested) => {
            await nested.cards.create(card("card-2"));
            expect(ids(await nested.cards.list())).toEqual(["card-1", "card-2"]);
            return 42;
          });
          return value;
        });
        expect(inner).toBe(42);
        expect(ids(await store.cards.list())).toEqual(["card-1", "card-2"]);

        await expect(
          store.transaction(async (tx) => {
            await tx.transaction(async (nested) => {
              await nested.cards.create(card("card-3"));
            });
            throw new Error("outer fails after the nested call returned");
          }),
        ).rejects.toThrow("outer fails");
        expect(await store.cards.get("card-3")).toBeNull();
      });

      it("stays usable after an expected store error inside it", async () => {
        await store.cards.create(card("card-1"));
        await store.audit.append(event(1));
        await store.transaction(async (tx) => {
          await rejectsWith(tx.cards.create(card("card-1")), "STORE_DUPLICATE");
          await rejectsWith(tx.audit.append(event(1, { id: "again" })), "STORE_CONFLICT");
          const c = await tx.cards.get("card-1");
          await rejectsWith(tx.cards.update({ ...c!, version: 9 }), "STORE_CONFLICT");
          await tx.cards.update({ ...c!, state: "bound" });
          await tx.audit.append(event(2));
        });
        expect((await store.cards.get("card-1"))?.state).toBe("bound");
        expect((await store.audit.list()).map((e) => e.seq)).toEqual([1, 2]);
      });

      it("keeps concurrent transactions atomic and isolated from each other's failures", async () => {
        await store.cards.create(card("counter", { pendingOperationId: "0" }));
        // Read-modify-write with a retry on conflict: correct whether the store serialises
        // transactions (PGlite, in-memory) or runs them side by side (a PostgreSQL pool).
        const bump = async (): Promise<void> => {
          for (;;) {
            try {
              return await store.transaction(async (tx) => {
                const c = await tx.cards.get("counter");
                await new Promise((r) => setTimeout(r, 5));
                await tx.cards.update({ ...c!, pendingOperationId: String(Number(c!.pendingOperationId) + 1) });
              });
            } catch (err) {
              if (!isCardwrightError(err, "STORE_CONFLICT")) throw err;
            }
          }
        };
        const failing = store.transaction(async (tx) => {
          await tx.cards.create(card("doomed"));
          await new Promise((r) => setTimeout(r, 5));
          throw new Error("abort");
        });
        const results = await Promise.allSettled([bump(), failing, bump(), bump()]);
        expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
        expect(await store.cards.get("counter")).toMatchObject({ pendingOperationId: "3", version: 4 });
        expect(await store.cards.get("doomed")).toBeNull();
      });

      it("refuses a transaction store used after the transaction ended", async () => {
        let leaked: Store | undefined;
        await store.transaction(async (tx) => {
          leaked = tx;
        });
        await rejectsWith(leaked!.cards.create(card("late")), "STORE_FAILURE");
        expect(await store.cards.get("late")).toBeNull();
      });
    });

    describeWorkflowRecordsContract(() => store);
  });
}
