/**
 * Migration 0003 (certificate-expiry-index) on a real backend: it applies forward-only on a
 * database at version 2 with certificates in it, creates the (status, not_after, id) index, and
 * the renewal query `certificates.list({ status, expiringBefore, limit })` is answered from it.
 */
import { expect, it } from "vitest";
import { migrate, migrations, type SqlExecutor, SqlStore } from "../src/index.js";
import { SteppingClock } from "./store-contract.js";

const INDEX = "certificates_status_not_after_idx";

/** The statement `SqlCertificateRepository.list({ status, expiringBefore, limit })` runs. */
const RENEWAL_SQL =
  "SELECT id, version, created_at, updated_at, data FROM certificates " +
  "WHERE status = $1 AND not_after < $2::timestamptz ORDER BY not_after, id LIMIT $3";

/** Registers the test; `fresh()` gives an executor on an empty database (closed by the caller's hooks). */
export function itAppliesTheExpiryIndex(fresh: () => Promise<SqlExecutor>): void {
  it("migrates a version-2 database to the expiry index, keeping its certificates, and lists renewals from it", async () => {
    const executor = await fresh();
    expect(await migrate(executor, migrations.slice(0, 2))).toEqual([1, 2]);
    const store = new SqlStore(executor, { clock: new SteppingClock() });
    const at = (day: number) => new Date(Date.UTC(2031, 0, day)).toISOString();
    const certificate = (id: string, status: "written" | "expired" | "revoked", day: number) =>
      store.certificates.create({ id, cardId: `card-${id}`, slot: "9a", status, notAfter: at(day) });
    await certificate("c-late", "written", 20);
    await certificate("c-expired", "expired", 1);
    await certificate("c-soon", "written", 10);
    await certificate("c-revoked", "revoked", 5);
    await certificate("c-later", "written", 40);

    expect(await migrate(executor, migrations)).toEqual([3, 4]);
    const { rows } = await executor.query<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE tablename = 'certificates' AND indexname = $1",
      [INDEX],
    );
    expect(rows.map((r) => r.indexdef.replace(/^.* USING /, ""))).toEqual(["btree (status, not_after, id)"]);

    const renewals = await store.certificates.list({ status: "written", expiringBefore: at(30), limit: 10 });
    expect(renewals.map((c) => c.id)).toEqual(["c-soon", "c-late"]);

    // Five rows never need an index; with sequential scans and sorts priced out, the planner must
    // still find one index that yields the order without sorting: the new one.
    const plan = await executor.transaction(async (tx) => {
      await tx.query("SET LOCAL enable_seqscan = off");
      await tx.query("SET LOCAL enable_sort = off");
      await tx.query("SET LOCAL enable_bitmapscan = off");
      const explained = await tx.query<{ "QUERY PLAN": string }>(`EXPLAIN ${RENEWAL_SQL}`, ["written", at(30), 10]);
      return explained.rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).toContain(`Index Scan using ${INDEX} on certificates`);
    expect(plan).not.toMatch(/Sort|Filter/);
  });
}
