/**
 * The driver seam of the SQL stores. Repositories speak plain PostgreSQL (15+) through this
 * interface only, so the embedded (PGlite) and server (node-postgres) backends share every query.
 */

/** Rows of one statement, with columns under their SQL names. */
export interface SqlResult<R> {
  rows: R[];
}

/**
 * Runs parameterised statements (`$1`, `$2`…) on one PostgreSQL session.
 *
 * A failed statement rejects with the driver's own error; when the server reported it, the error's
 * `code` is the SQLSTATE (PGlite and node-postgres both do this), which the store maps to its codes.
 */
export interface SqlExecutor {
  /** Runs one statement. Parameters travel separately from the text, never spliced into it. */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>>;
  /**
   * Runs `fn` between BEGIN and COMMIT on one session; ROLLBACK when `fn` rejects. Called on the
   * executor a transaction hands out, it runs `fn` in that same transaction.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Ends the session (or pool). */
  close(): Promise<void>;
}
