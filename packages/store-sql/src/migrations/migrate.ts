/** Applies schema migrations in order, once each, recorded in `schema_migrations`. */
import { CardwrightError } from "@cardwright/core";
import { toStoreError } from "../sql-errors.js";
import type { SqlExecutor } from "../sql-executor.js";
import type { Migration } from "./migration.js";

/** Advisory lock key ("card" in ASCII) held while migrating, so two processes never race. */
const MIGRATION_LOCK = 0x63617264;

function checkOrder(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new CardwrightError("STORE_FAILURE", `migration list out of order: position ${i + 1} is ${m.version}`, {
        details: { migration: m.name },
      });
    }
  });
}

/**
 * Brings the schema up to date in one transaction: either every pending migration applies or
 * none does. Safe to call on every open; already-applied migrations are skipped.
 * @returns The versions applied by this call (empty when the schema was current).
 * @throws CardwrightError `STORE_FAILURE` when a statement fails, or when the database has a
 * migration this code does not know (written by a newer cardwright) or one under another name.
 */
export async function migrate(executor: SqlExecutor, list: readonly Migration[]): Promise<number[]> {
  checkOrder(list);
  let step = "locking schema";
  try {
    return await executor.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      step = "creating schema_migrations";
      await tx.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`,
      );
      step = "reading schema_migrations";
      const { rows } = await tx.query<{ version: number; name: string }>(
        "SELECT version, name FROM schema_migrations ORDER BY version",
      );
      const known = new Map(list.map((m) => [m.version, m.name]));
      for (const row of rows) {
        const name = known.get(Number(row.version));
        if (name === undefined) {
          throw new CardwrightError(
            "STORE_FAILURE",
            `database schema has migration ${row.version} (${row.name}) that this version does not know; upgrade cardwright`,
            { details: { migration: row.name } },
          );
        }
        if (name !== row.name) {
          throw new CardwrightError(
            "STORE_FAILURE",
            `database migration ${row.version} is "${row.name}" but this version expects "${name}"`,
            { details: { migration: row.name } },
          );
        }
      }
      const applied = new Set(rows.map((r) => Number(r.version)));
      const done: number[] = [];
      for (const m of list) {
        if (applied.has(m.version)) continue;
        step = `applying migration ${m.version} (${m.name})`;
        for (const statement of m.statements) await tx.query(statement);
        await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
        done.push(m.version);
      }
      return done;
    });
  } catch (err) {
    throw toStoreError(err, step);
  }
}
