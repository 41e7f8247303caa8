/** `SqlExecutor` on PGlite, PostgreSQL compiled to WebAssembly running in this process. */
import { CardwrightError } from "@cardwright/core";
import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { SqlExecutor, SqlResult } from "./sql-executor.js";

/**
 * A PGlite database. It has one session, so PGlite itself queues concurrent transactions.
 * `PgliteStore.open` builds one; to share a PGlite the application already has, run
 * `migrate(new PgliteExecutor(db), migrations)` and hand the executor to `new SqlStore(…)`.
 */
export class PgliteExecutor implements SqlExecutor {
  /** Wraps `db`; {@link PgliteExecutor.close} closes it. */
  constructor(private readonly db: PGlite) {}

  async query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<SqlResult<R>> {
    const result = await this.db.query<R>(text, [...params]);
    return { rows: result.rows };
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new PgliteTransactionExecutor(tx)));
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}

/** Statements inside one PGlite transaction; it refuses work once the transaction has ended. */
class PgliteTransactionExecutor implements SqlExecutor {
  constructor(private readonly tx: Transaction) {}

  async query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<SqlResult<R>> {
    const result = await this.tx.query<R>(text, [...params]);
    return { rows: result.rows };
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {
    throw new CardwrightError("STORE_FAILURE", "a transaction cannot close the database; close the store");
  }
}
