/** `SqlExecutor` on a PostgreSQL server through a node-postgres (`pg`) connection pool. */
import { createHash } from "node:crypto";
import { CardwrightError } from "@cardwright/core";
import type { Pool, PoolClient, QueryConfig } from "pg";
import type { SqlExecutor, SqlResult } from "./sql-executor.js";

const statementNames = new Map<string, string>();
/**
 * Texts prepared at most, per process: the store's own statements are a few dozen fixed texts;
 * past this, texts built with literals in them (a bulk load's) run unnamed rather than each
 * holding a prepared statement on every connection for the connection's life.
 */
const MAX_PREPARED_TEXTS = 256;

/**
 * A parameterised statement as a named prepared statement: the server parses and plans it once per
 * connection instead of on every call, which is most of its work for the short statements a
 * workflow step makes. Only parameterised texts, which are single statements, are prepared (a
 * migration's script of several statements cannot be); the name is derived from the text, so
 * one name never stands for two texts.
 */
function statement(text: string, params: readonly unknown[]): QueryConfig {
  if (params.length === 0) return { text };
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= MAX_PREPARED_TEXTS) return { text, values: [...params] };
    name = `cw_${createHash("sha256").update(text).digest("hex").slice(0, 32)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: [...params] };
}

/**
 * A `pg` pool. Statements outside a transaction take any free connection; a transaction holds one
 * connection from BEGIN to COMMIT (or ROLLBACK), so transactions run side by side, one per
 * connection, isolated by the server (READ COMMITTED).
 */
export class PostgresExecutor implements SqlExecutor {
  /** Wraps `pool`; {@link PostgresExecutor.close} ends it. */
  constructor(private readonly pool: Pool) {}

  async query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<SqlResult<R>> {
    const result = await this.pool.query(statement(text, params));
    return { rows: result.rows as R[] };
  }

  /**
   * Runs `fn` on one connection between BEGIN and COMMIT; ROLLBACK when `fn` or COMMIT rejects.
   * A connection whose ROLLBACK failed is destroyed rather than returned to the pool, so no later
   * caller inherits a half-finished transaction.
   */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx = new PostgresTransactionExecutor(client);
    let broken: Error | undefined;
    try {
      await client.query("BEGIN").catch((err: unknown) => {
        // A connection that cannot even begin is not given to anyone else.
        broken = err instanceof Error ? err : new Error(String(err));
        throw err;
      });
      try {
        const result = await fn(tx);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw err;
      }
    } finally {
      tx.end();
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/** Statements inside one transaction, on its connection; it refuses work once the transaction ended. */
class PostgresTransactionExecutor implements SqlExecutor {
  #ended = false;

  constructor(private readonly client: PoolClient) {}

  /** Called when the transaction committed or rolled back and the connection went back to the pool. */
  end(): void {
    this.#ended = true;
  }

  async query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<SqlResult<R>> {
    if (this.#ended) {
      throw new CardwrightError("STORE_FAILURE", "the transaction has already ended; use the store");
    }
    const result = await this.client.query(statement(text, params));
    return { rows: result.rows as R[] };
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {
    throw new CardwrightError("STORE_FAILURE", "a transaction cannot close the database; close the store");
  }
}
