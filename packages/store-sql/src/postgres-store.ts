/** The server store: PostgreSQL (15+) through node-postgres, shared by many processes. */
import pg from "pg";
import { migrations } from "./migrations/index.js";
import { migrate } from "./migrations/migrate.js";
import { PostgresExecutor } from "./postgres-executor.js";
import { toStoreError } from "./sql-errors.js";
import { SqlStore, type SqlStoreOptions } from "./sql-store.js";

/** Options for {@link PostgresStore.open}: a connection string, or `pg` pool options. */
export interface PostgresStoreOptions extends SqlStoreOptions {
  /** `postgresql://user@host:port/database`; or give `pool`. */
  connectionString?: string;
  /** node-postgres pool options (host, port, user, database, max, ssl…), merged after `connectionString`. */
  pool?: pg.PoolConfig;
}

/**
 * A {@link SqlStore} on a PostgreSQL server, for deployments where several processes (instances
 * behind a load balancer, workers of a personalisation bureau) share one store. Same schema and
 * queries as {@link PgliteStore}; transactions run in parallel, one pooled connection each.
 */
export class PostgresStore extends SqlStore {
  private constructor(executor: PostgresExecutor, options: SqlStoreOptions) {
    super(executor, options);
  }

  /**
   * Connects, and applies pending migrations under an advisory lock, so many processes can open
   * the same database at once.
   * @throws CardwrightError `STORE_FAILURE` when the server cannot be reached, a migration fails,
   * or the database was migrated by a newer cardwright.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const { connectionString, pool: poolOptions, ...storeOptions } = options;
    const pool = new pg.Pool({ ...(connectionString === undefined ? {} : { connectionString }), ...poolOptions });
    // An idle connection the server drops (restart, failover) must not crash the process: the
    // pool discards it and the next query opens a new one.
    pool.on("error", () => undefined);
    const executor = new PostgresExecutor(pool);
    try {
      await executor.query("SELECT 1");
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw toStoreError(err, "connecting to postgresql");
    }
    try {
      await migrate(executor, migrations);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return new PostgresStore(executor, storeOptions);
  }
}
