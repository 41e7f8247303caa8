/**
 * The `Store` contract for the workflow records of migration 0004 — approvals, documents, agent
 * tasks and security answers — run inside {@link describeStoreContract} against every store: the
 * in-memory store, PGlite in memory and on disk, and PostgreSQL.
 */
import type {
  AgentTaskRecord,
  ApprovalRecord,
  DocumentRecord,
  NewRecord,
  Repository,
  SecurityAnswersRecord,
  Store,
  Versioned,
} from "@cardwright/core";
import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";

function approval(id: string, over: Partial<NewRecord<ApprovalRecord>> = {}): NewRecord<ApprovalRecord> {
  return { id, kind: "issuance", userId: "alice", requestedBy: "operator-1", status: "pending", ...over };
}

function document(id: string, over: Partial<NewRecord<DocumentRecord>> = {}): NewRecord<DocumentRecord> {
  return {
    id,
    type: "certificate-request-form",
    userId: "alice",
    fileName: "form.pdf",
    contentType: "application/pdf",
    content: "JVBERi0xLjcK",
    sha256: "a".repeat(64),
    uploadedBy: "alice",
    status: "uploaded",
    ...over,
  };
}

function task(id: string, over: Partial<NewRecord<AgentTaskRecord>> = {}): NewRecord<AgentTaskRecord> {
  return {
    id,
    kind: "unblock-pin",
    cardId: "card-1",
    deviceSerial: "1001",
    queuedBy: "operator-1",
    status: "queued",
    ...over,
  };
}

function answers(id: string, over: Partial<NewRecord<SecurityAnswersRecord>> = {}): NewRecord<SecurityAnswersRecord> {
  return {
    id,
    answers: [{ question: "First pet?", hash: "aGFzaA==", salt: "c2FsdA==" }],
    kdf: { name: "scrypt", n: 16384, r: 8, p: 1, keyLength: 32 },
    failedAttempts: 0,
    ...over,
  };
}

/** Rejection with a cardwright error of `code`; returns its details. */
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

/** One repository's create/get/update behaviour, the same for every kind of record. */
function itBehavesAsARepository<T extends Versioned & { id: string }>(
  what: string,
  kind: string,
  repo: (store: Store) => Repository<T>,
  make: (id: string) => NewRecord<T>,
  change: (record: T) => T,
  store: () => Store,
): void {
  describe(`${what}: records`, () => {
    it("creates at version 1, reads back equal, returns null for a missing id", async () => {
      const created = await repo(store()).create(make("r-1"));
      expect(created).toMatchObject({ id: "r-1", version: 1 });
      expect(created.updatedAt).toBe(created.createdAt);
      expect(await repo(store()).get("r-1")).toEqual(created);
      expect(await repo(store()).get("r-2")).toBeNull();
    });

    it("updates with the current version, refuses a stale one (STORE_CONFLICT) and keeps the winner", async () => {
      const v1 = await repo(store()).create(make("r-1"));
      const v2 = await repo(store()).update(change(v1));
      expect(v2).toMatchObject({ version: 2, createdAt: v1.createdAt });
      expect(Date.parse(v2.updatedAt)).toBeGreaterThan(Date.parse(v1.updatedAt));
      expect(await repo(store()).get("r-1")).toEqual(v2);
      const details = await rejectsWith(repo(store()).update(change(v1)), "STORE_CONFLICT");
      expect(details).toMatchObject({ recordKind: kind, recordId: "r-1", expectedVersion: 1, actualVersion: 2 });
      expect(await repo(store()).get("r-1")).toEqual(v2);
    });

    it("lets exactly one of two concurrent updates from the same read win", async () => {
      const read = await repo(store()).create(make("r-1"));
      const results = await Promise.allSettled([
        repo(store()).update(change(read)),
        repo(store()).update(change(read)),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(isCardwrightError(lost?.reason, "STORE_CONFLICT")).toBe(true);
      expect((await repo(store()).get("r-1"))?.version).toBe(2);
    });

    it("refuses a duplicate id (STORE_DUPLICATE) and an update of a missing one (STORE_NOT_FOUND)", async () => {
      const original = await repo(store()).create(make("r-1"));
      const dup = await rejectsWith(repo(store()).create(make("r-1")), "STORE_DUPLICATE");
      expect(dup).toMatchObject({ recordKind: kind, recordId: "r-1" });
      expect(await repo(store()).get("r-1")).toEqual(original);
      const ghost = { ...original, id: "ghost" };
      expect(await rejectsWith(repo(store()).update(ghost), "STORE_NOT_FOUND")).toMatchObject({ recordId: "ghost" });
      expect(await repo(store()).get("ghost")).toBeNull();
    });

    it("rolls a transaction's creates and updates back when it throws", async () => {
      const before = await repo(store()).create(make("r-1"));
      const boom = new Error("rolled back");
      const err = await store()
        .transaction(async (tx) => {
          await repo(tx).update(change(before));
          await repo(tx).create(make("r-2"));
          expect(await repo(tx).get("r-2")).not.toBeNull();
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(err).toBe(boom);
      expect(await repo(store()).get("r-1")).toEqual(before);
      expect(await repo(store()).get("r-2")).toBeNull();
      // Committed when the callback resolves.
      await store().transaction(async (tx) => {
        await repo(tx).create(make("r-3"));
      });
      expect(await repo(store()).get("r-3")).toMatchObject({ version: 1 });
    });
  });
}

/**
 * Registers the workflow-record cases; `store` returns the current test's empty store (the
 * surrounding contract opens one per test and gives it a {@link SteppingClock}, so every write
 * has a later timestamp than the one before).
 */
export function describeWorkflowRecordsContract(store: () => Store): void {
  describe("workflow records", () => {
    itBehavesAsARepository<ApprovalRecord>(
      "approvals",
      "approval",
      (s) => s.approvals,
      (id) => approval(id, { subject: { templates: ["piv-auth"], deviceSerial: "1001" } }),
      (r) => ({ ...r, status: "approved", decidedBy: "officer-1", decidedAt: "2030-01-02T00:00:00.000Z" }),
      store,
    );
    itBehavesAsARepository<DocumentRecord>(
      "documents",
      "document",
      (s) => s.documents,
      (id) => document(id),
      (r) => ({ ...r, status: "rejected", reviewedBy: "admin-1", reason: "unsigned" }),
      store,
    );
    itBehavesAsARepository<AgentTaskRecord>(
      "agent tasks",
      "agent task",
      (s) => s.agentTasks,
      (id) => task(id, { params: { newPolicyId: "staff-piv" } }),
      (r) => ({ ...r, status: "claimed", claimedBy: "agent-a", claimExpiresAt: "2030-01-01T00:05:00.000Z" }),
      store,
    );
    itBehavesAsARepository<SecurityAnswersRecord>(
      "security answers",
      "security answers",
      (s) => s.securityAnswers,
      (id) => answers(id),
      (r) => ({ ...r, failedAttempts: r.failedAttempts + 1, lockedUntil: "2030-01-01T01:00:00.000Z" }),
      store,
    );

    it("keeps every field of each record exactly, and drops fields set to undefined on update", async () => {
      const a = await store().approvals.create(
        approval("a-1", {
          cardId: "card-1",
          operationId: "op-1",
          policyId: "staff-piv",
          reason: "ok",
          subject: { nested: { list: [1, "two", null] }, text: "é 日本" },
        }),
      );
      expect(await store().approvals.get("a-1")).toEqual(a);
      const d = await store().documents.create(document("d-1", { cardId: "card-1", operationId: "op-1" }));
      expect(await store().documents.get("d-1")).toEqual(d);
      const error = {
        name: "CardwrightError",
        code: "PIV_WRONG_PIN" as const,
        message: "wrong PUK",
        details: { retriesLeft: 2 },
      };
      const t = await store().agentTasks.create(task("t-1", { operationId: "op-9", error }));
      expect(await store().agentTasks.get("t-1")).toEqual(t);
      const s = await store().securityAnswers.create(answers("alice", { lockedUntil: "2030-01-01T00:00:00.000Z" }));
      expect(await store().securityAnswers.get("alice")).toEqual(s);
      const cleared = await store().agentTasks.update({ ...t, error: undefined, operationId: undefined });
      expect(cleared).not.toHaveProperty("error");
      const read = await store().agentTasks.get("t-1");
      expect(read).not.toHaveProperty("error");
      expect(read).not.toHaveProperty("operationId");
    });

    describe("approvals: queries", () => {
      it("lists by kind, status, user, card and operation, oldest first, with a limit", async () => {
        await store().approvals.create(approval("a-3", { cardId: "card-1", operationId: "op-1" }));
        await store().approvals.create(approval("a-1", { kind: "documents", userId: "bob", cardId: "card-2" }));
        await store().approvals.create(approval("a-2", { status: "approved", cardId: "card-1", operationId: "op-2" }));
        await store().approvals.create(approval("a-0", { status: "rejected", userId: "bob" }));
        const list = store().approvals.list.bind(store().approvals);
        expect(ids(await list())).toEqual(["a-3", "a-1", "a-2", "a-0"]);
        expect(ids(await list({ kind: "issuance" }))).toEqual(["a-3", "a-2", "a-0"]);
        expect(ids(await list({ kind: "documents" }))).toEqual(["a-1"]);
        expect(ids(await list({ status: "pending" }))).toEqual(["a-3", "a-1"]);
        expect(ids(await list({ status: "cancelled" }))).toEqual([]);
        expect(ids(await list({ userId: "bob" }))).toEqual(["a-1", "a-0"]);
        expect(ids(await list({ cardId: "card-1" }))).toEqual(["a-3", "a-2"]);
        expect(ids(await list({ operationId: "op-2" }))).toEqual(["a-2"]);
        expect(ids(await list({ kind: "issuance", status: "pending", userId: "alice", cardId: "card-1" }))).toEqual([
          "a-3",
        ]);
        expect(ids(await list({ limit: 2 }))).toEqual(["a-3", "a-1"]);
        expect(ids(await list({ userId: "bob", limit: 1 }))).toEqual(["a-1"]);
      });

      it("follows an update into the queried fields", async () => {
        const a = await store().approvals.create(approval("a-1"));
        await store().approvals.update({ ...a, status: "approved", cardId: "card-7", operationId: "op-7" });
        expect(ids(await store().approvals.list({ status: "pending" }))).toEqual([]);
        expect(
          ids(await store().approvals.list({ status: "approved", cardId: "card-7", operationId: "op-7" })),
        ).toEqual(["a-1"]);
        const b = (await store().approvals.get("a-1"))!;
        await store().approvals.update({ ...b, cardId: undefined });
        expect(await store().approvals.list({ cardId: "card-7" })).toEqual([]);
      });

      it("refuses a malformed limit", async () => {
        await rejectsWith(store().approvals.list({ limit: -1 }), "STORE_FAILURE");
      });
    });

    describe("documents: queries", () => {
      it("lists by user, operation and status, oldest first, with a limit", async () => {
        await store().documents.create(document("d-2", { operationId: "op-1" }));
        await store().documents.create(document("d-1", { userId: "bob", status: "approved" }));
        await store().documents.create(document("d-3", { operationId: "op-1", status: "rejected" }));
        const list = store().documents.list.bind(store().documents);
        expect(ids(await list())).toEqual(["d-2", "d-1", "d-3"]);
        expect(ids(await list({ userId: "alice" }))).toEqual(["d-2", "d-3"]);
        expect(ids(await list({ operationId: "op-1" }))).toEqual(["d-2", "d-3"]);
        expect(ids(await list({ status: "approved" }))).toEqual(["d-1"]);
        expect(ids(await list({ userId: "alice", operationId: "op-1", status: "rejected" }))).toEqual(["d-3"]);
        expect(ids(await list({ operationId: "op-none" }))).toEqual([]);
        expect(ids(await list({ limit: 1 }))).toEqual(["d-2"]);
        const d = (await store().documents.get("d-2"))!;
        await store().documents.update({ ...d, status: "approved", reviewedBy: "admin-1" });
        expect(ids(await list({ status: "approved" }))).toEqual(["d-2", "d-1"]);
      });
    });

    describe("agent tasks: queries", () => {
      it("lists by device serials, card and status in the order queued, with a limit", async () => {
        await store().agentTasks.create(task("t-3", { deviceSerial: "1001" }));
        await store().agentTasks.create(task("t-1", { deviceSerial: "2002", cardId: "card-2", kind: "update" }));
        await store().agentTasks.create(task("t-2", { deviceSerial: "1001", status: "completed" }));
        await store().agentTasks.create(task("t-0", { deviceSerial: "3003", cardId: "card-3" }));
        const list = store().agentTasks.list.bind(store().agentTasks);
        expect(ids(await list())).toEqual(["t-3", "t-1", "t-2", "t-0"]);
        expect(ids(await list({ deviceSerials: ["1001"] }))).toEqual(["t-3", "t-2"]);
        expect(ids(await list({ deviceSerials: ["3003", "2002"] }))).toEqual(["t-1", "t-0"]);
        expect(ids(await list({ deviceSerials: ["9999"] }))).toEqual([]);
        expect(ids(await list({ deviceSerials: ["1001", "2002"], status: "queued" }))).toEqual(["t-3", "t-1"]);
        expect(ids(await list({ cardId: "card-1" }))).toEqual(["t-3", "t-2"]);
        expect(ids(await list({ status: "completed" }))).toEqual(["t-2"]);
        expect(ids(await list({ deviceSerials: ["1001", "2002", "3003"], limit: 2 }))).toEqual(["t-3", "t-1"]);
      });

      it("matches nothing for an empty list of device serials (an agent with no card present)", async () => {
        await store().agentTasks.create(task("t-1"));
        expect(await store().agentTasks.list({ deviceSerials: [] })).toEqual([]);
        expect(await store().agentTasks.list({ deviceSerials: [], status: "queued" })).toEqual([]);
      });

      it("treats device serials as exact text: no pattern, case or prefix matching", async () => {
        await store().agentTasks.create(task("t-1", { deviceSerial: "AbC%_1" }));
        expect(ids(await store().agentTasks.list({ deviceSerials: ["AbC%_1"] }))).toEqual(["t-1"]);
        expect(await store().agentTasks.list({ deviceSerials: ["abc%_1"] })).toEqual([]);
        expect(await store().agentTasks.list({ deviceSerials: ["AbC%"] })).toEqual([]);
        expect(await store().agentTasks.list({ deviceSerials: ["AbC__1"] })).toEqual([]);
      });

      it("follows a claim into the status filter", async () => {
        const t = await store().agentTasks.create(task("t-1"));
        await store().agentTasks.update({ ...t, status: "claimed", claimedBy: "agent-a" });
        expect(await store().agentTasks.list({ status: "queued" })).toEqual([]);
        expect(ids(await store().agentTasks.list({ deviceSerials: ["1001"], status: "claimed" }))).toEqual(["t-1"]);
      });
    });
  });
}
