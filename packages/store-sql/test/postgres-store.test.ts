import { AesGcmSecretVault, Cardwright, isCardwrightError } from "@cardwright/core";
import { InMemoryDirectory } from "@cardwright/core/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, migrations, PostgresExecutor, PostgresStore, SqlStore } from "../src/index.js";
import { itAppliesTheExpiryIndex } from "./expiry-index-contract.js";
import { describeStoreContract, SteppingClock, TRUNCATE_ALL } from "./store-contract.js";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";

let cluster: PostgresCluster;
let contractUrl: string;
beforeAll(async () => {
  cluster = await startPostgres();
  contractUrl = cluster.createDatabase("contract");
  await (await PostgresStore.open({ connectionString: contractUrl })).close();
});
afterAll(() => {
  cluster?.stop();
});

describeStoreContract("PostgreSQL", async ({ clock }) => {
  const pool = new pg.Pool({ connectionString: contractUrl, max: 8 });
  await pool.query(TRUNCATE_ALL);
  return new SqlStore(new PostgresExecutor(pool), { clock });
});

describe("PostgresStore", () => {
  it("persists across processes' connections and migrates only once", async () => {
    const url = cluster.createDatabase("reopen");
    const first = await PostgresStore.open({ connectionString: url, clock: new SteppingClock() });
    const created = await first.cards.create({ id: "card-1", deviceSerial: "1", deviceType: "piv", state: "active" });
    await first.close();
    await first.close();
    await expect(first.cards.get("card-1")).rejects.toSatisfy((e) => isCardwrightError(e, "STORE_FAILURE"));

    const second = await PostgresStore.open({ pool: { connectionString: url, max: 2 } });
    expect(await second.cards.get("card-1")).toEqual(created);
    await second.close();

    const pool = new pg.Pool({ connectionString: url });
    try {
      expect(await migrate(new PostgresExecutor(pool), migrations)).toEqual([]);
      const { rows } = await pool.query("SELECT version, name FROM schema_migrations ORDER BY version");
      expect(rows).toEqual(migrations.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      await pool.end();
    }
  });

  it("migrates safely when many processes open a new database at once", async () => {
    const url = cluster.createDatabase("race");
    // Separate pools are separate sessions, as separate processes would be; the advisory lock
    // makes all but one find the schema current.
    const applied = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        try {
          return await migrate(new PostgresExecutor(pool), migrations);
        } finally {
          await pool.end();
        }
      }),
    );
    const all = migrations.map((m) => m.version);
    expect(applied.filter((a) => a.length > 0)).toEqual([all]);
    expect(applied.filter((a) => a.length === 0)).toHaveLength(5);
  });

  it("refuses a database migrated by a newer version, and changes nothing", async () => {
    const url = cluster.createDatabase("newer");
    await (await PostgresStore.open({ connectionString: url })).close();
    const pool = new pg.Pool({ connectionString: url });
    try {
      const future = migrations.length + 1;
      await pool.query("INSERT INTO schema_migrations (version, name) VALUES ($1, 'from-the-future')", [future]);
      const err = await PostgresStore.open({ connectionString: url }).catch((e: unknown) => e);
      expect(isCardwrightError(err, "STORE_FAILURE")).toBe(true);
      expect((err as Error).message).toMatch(
        new RegExp(`migration ${future} \\(from-the-future\\) that this version does not know; upgrade cardwright`),
      );
      expect((err as { details: object }).details).toEqual({ migration: "from-the-future" });
    } finally {
      await pool.end();
    }
  });

  it("refuses a database whose migration has another name", async () => {
    const url = cluster.createDatabase("renamed");
    await (await PostgresStore.open({ connectionString: url })).close();
    const pool = new pg.Pool({ connectionString: url });
    try {
      await pool.query("UPDATE schema_migrations SET name = 'something-else' WHERE version = 1");
      await expect(PostgresStore.open({ connectionString: url })).rejects.toThrow(
        /database migration 1 is "something-else" but this version expects "initial"/,
      );
    } finally {
      await pool.end();
    }
  });

  it("applies only pending migrations, in order, on a database at an older version", async () => {
    const url = cluster.createDatabase("older");
    const pool = new pg.Pool({ connectionString: url });
    try {
      const executor = new PostgresExecutor(pool);
      expect(await migrate(executor, migrations.slice(0, 1))).toEqual([1]);
      expect(await migrate(executor, migrations)).toEqual(migrations.slice(1).map((m) => m.version));
      expect(await migrate(executor, migrations)).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  describe("on a database of its own", () => {
    let pool: pg.Pool | undefined;
    afterAll(async () => {
      await pool?.end();
    });
    itAppliesTheExpiryIndex(async () => {
      pool = new pg.Pool({ connectionString: cluster.createDatabase("expiry_index"), max: 2 });
      return new PostgresExecutor(pool);
    });
  });

  it("rolls a failed migration back entirely", async () => {
    const url = cluster.createDatabase("failing");
    const pool = new pg.Pool({ connectionString: url });
    try {
      const broken = [
        ...migrations,
        { version: migrations.length + 1, name: "broken", statements: ["CREATE TABLE extra (x int)", "SELEC oops"] },
      ];
      await expect(migrate(new PostgresExecutor(pool), broken)).rejects.toSatisfy(
        (e) => isCardwrightError(e, "STORE_FAILURE") && /applying migration \d+ \(broken\)/.test((e as Error).message),
      );
      const { rows } = await pool.query("SELECT to_regclass('schema_migrations') AS m, to_regclass('extra') AS x");
      expect(rows).toEqual([{ m: null, x: null }]);
    } finally {
      await pool.end();
    }
  });

  it("reports an unreachable server as STORE_FAILURE", async () => {
    const err = await PostgresStore.open({ connectionString: "postgresql://postgres@127.0.0.1:1/postgres" }).catch(
      (e: unknown) => e,
    );
    expect(isCardwrightError(err, "STORE_FAILURE")).toBe(true);
    expect((err as Error).message).toMatch(/^connecting to postgresql: connect ECONNREFUSED/);
  });

  it("reports a missing database as STORE_FAILURE with its SQLSTATE", async () => {
    const err = await PostgresStore.open({
      connectionString: `postgresql://postgres@127.0.0.1:${cluster.port}/no_such_database`,
    }).catch((e: unknown) => e);
    expect(isCardwrightError(err, "STORE_FAILURE")).toBe(true);
    expect((err as Error).message).toMatch(/^connecting to postgresql: database error 3D000/);
  });
});

describe("Cardwright over one PostgreSQL from many instances", () => {
  it("registers a serial once when many instances register it at the same moment", async () => {
    const url = cluster.createDatabase("register_race");
    // Separate stores are separate connection pools, as separate processes would have. Without
    // the registration lease each would find no card under READ COMMITTED and insert its own.
    const stores = await Promise.all(
      Array.from({ length: 8 }, () => PostgresStore.open({ connectionString: url, pool: { max: 2 } })),
    );
    try {
      const sdks = stores.map(
        (store, i) =>
          new Cardwright({
            store,
            vault: AesGcmSecretVault.fromKey("k", new Uint8Array(32).fill(7)),
            directory: new InMemoryDirectory([]),
            certificateAuthorities: [],
            policies: [],
            leaseOwner: `instance-${i}`,
          }),
      );
      for (let round = 0; round < 5; round++) {
        const serial = `race-${round}`;
        const results = await Promise.allSettled(
          sdks.map((sdk) => sdk.registerCard({ serial, type: "piv", model: "test card" })),
        );
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        for (const r of results.filter((x): x is PromiseRejectedResult => x.status === "rejected")) {
          expect(isCardwrightError(r.reason, "STORE_DUPLICATE")).toBe(true);
        }
        expect(await stores[0]!.cards.list({ deviceSerial: serial })).toHaveLength(1);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
