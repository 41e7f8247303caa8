import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCardwrightError } from "@cardwright/core";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, migrations, PgliteExecutor, PgliteStore, SqlStore } from "../src/index.js";
import { toStoreError } from "../src/sql-errors.js";
import { itAppliesTheExpiryIndex } from "./expiry-index-contract.js";
import { describeStoreContract, SteppingClock, TRUNCATE_ALL } from "./store-contract.js";

/** The database stays open across tests (PGlite takes seconds to start); each test gets it empty. */
class SharedPgliteExecutor extends PgliteExecutor {
  override async close(): Promise<void> {}
}

function describeSharedPglite(name: string, dataDir: () => string | undefined): void {
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create(dataDir() === undefined ? {} : { dataDir: dataDir() });
    await migrate(new PgliteExecutor(db), migrations);
  });
  afterAll(async () => {
    await db?.close();
  });
  describeStoreContract(name, async ({ clock }) => {
    await db.exec(TRUNCATE_ALL);
    return new SqlStore(new SharedPgliteExecutor(db), { clock });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cardwright-pglite-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeSharedPglite("PGlite in memory", () => undefined);
describeSharedPglite("PGlite on disk", () => join(dir, "contract"));

describe("PgliteStore", () => {
  it("persists across close and reopen, and migrates only once", async () => {
    const dataDir = join(dir, "reopen");
    let started = performance.now();
    const first = await PgliteStore.open({ dataDir, clock: new SteppingClock() });
    const freshMs = performance.now() - started;
    const created = await first.cards.create({
      id: "card-1",
      deviceSerial: "12345678",
      deviceType: "piv",
      state: "active",
      puk: { kekId: "kek-1", alg: "A256GCM", iv: "AAECAwQFBgcICQoL", ciphertext: "c2VjcmV0" },
    });
    await first.operations.create({
      id: "op-1",
      kind: "issue",
      cardId: "card-1",
      machineId: "issue",
      machineVersion: "1",
      status: "pending",
      snapshot: { value: { awaitingApproval: {} }, context: { requestId: "req-1" } },
      actor: "op",
    });
    await first.audit.append({
      seq: 1,
      id: "evt-1",
      at: "2030-01-01T00:00:00.000Z",
      actor: "op",
      action: "card.state",
      cardId: "card-1",
      prevHash: "0".repeat(64),
      hash: "f".repeat(64),
    });
    await first.close();
    await first.close();
    await expect(first.cards.get("card-1")).rejects.toSatisfy((e) => isCardwrightError(e, "STORE_FAILURE"));

    started = performance.now();
    const second = await PgliteStore.open({ dataDir });
    const reopenMs = performance.now() - started;
    expect(await second.cards.get("card-1")).toEqual(created);
    expect((await second.operations.get("op-1"))?.snapshot).toEqual({
      value: { awaitingApproval: {} },
      context: { requestId: "req-1" },
    });
    expect((await second.audit.last())?.seq).toBe(1);
    await second.close();

    // A third open must find the schema current: nothing left to apply.
    const db = await PGlite.create({ dataDir });
    try {
      expect(await migrate(new PgliteExecutor(db), migrations)).toEqual([]);
      const { rows } = await db.query<{ version: number; name: string }>("SELECT version, name FROM schema_migrations");
      expect(rows).toEqual([
        { version: 1, name: "initial" },
        { version: 2, name: "card-leases" },
        { version: 3, name: "certificate-expiry-index" },
        { version: 4, name: "workflow-records" },
      ]);
    } finally {
      await db.close();
    }
    console.info(`PgliteStore.open on disk: fresh ${freshMs.toFixed(0)} ms, reopen ${reopenMs.toFixed(0)} ms`);
  });

  it("opens in memory when no directory is given, each open empty", async () => {
    const a = await PgliteStore.open();
    try {
      await a.cards.create({ id: "card-1", deviceSerial: "1", deviceType: "piv", state: "registered" });
      const b = await PgliteStore.open();
      try {
        expect(await b.cards.get("card-1")).toBeNull();
      } finally {
        await b.close();
      }
      await expect(a.transaction(async (tx) => tx.close())).rejects.toSatisfy((e) =>
        isCardwrightError(e, "STORE_FAILURE"),
      );
    } finally {
      await a.close();
    }
  });

  it("reports a real driver error without the parameter values the server echoed", async () => {
    const db = await PGlite.create();
    try {
      const executor = new PgliteExecutor(db);
      const raw = await executor.query("SELECT $1::timestamptz AS t", ["not-a-time-s3cr3t"]).catch((e: unknown) => e);
      expect(String((raw as Error).message)).toContain("s3cr3t");
      const mapped = toStoreError(raw, "reading certificates");
      expect(mapped.code).toBe("STORE_FAILURE");
      expect(mapped.details).toMatchObject({ sqlState: "22007" });
      expect(JSON.stringify(mapped)).not.toContain("s3cr3t");
      expect(mapped.message).not.toContain("s3cr3t");
    } finally {
      await db.close();
    }
  });

  describe("on a database of its own", () => {
    let db: PGlite | undefined;
    afterAll(async () => {
      await db?.close();
    });
    itAppliesTheExpiryIndex(async () => {
      db = await PGlite.create();
      return new PgliteExecutor(db);
    });
  });

  it("refuses a database migrated by a newer version", async () => {
    const dataDir = join(dir, "newer");
    await (await PgliteStore.open({ dataDir })).close();
    const db = await PGlite.create({ dataDir });
    await db.query("INSERT INTO schema_migrations (version, name) VALUES ($1, 'from-the-future')", [
      migrations.length + 1,
    ]);
    await db.close();
    await expect(PgliteStore.open({ dataDir })).rejects.toSatisfy(
      (e) => isCardwrightError(e, "STORE_FAILURE") && /does not know; upgrade cardwright/.test((e as Error).message),
    );
  });
});
