/** The embedded store: PGlite (PostgreSQL in WebAssembly), in memory or in a directory. */
import { PGlite } from "@electric-sql/pglite";
import { migrations } from "./migrations/index.js";
import { migrate } from "./migrations/migrate.js";
import { PgliteExecutor } from "./pglite-executor.js";
import { toStoreError } from "./sql-errors.js";
import { SqlStore, type SqlStoreOptions } from "./sql-store.js";

/** Options for {@link PgliteStore.open}. */
export interface PgliteStoreOptions extends SqlStoreOptions {
  /** Directory holding the database; created when missing. In memory when omitted. */
  dataDir?: string;
}

/**
 * A {@link SqlStore} on an embedded PGlite database, for single-process deployments, demos and
 * tests. One process at a time may open a directory.
 */
export class PgliteStore extends SqlStore {
  private constructor(executor: PgliteExecutor, options: SqlStoreOptions) {
    super(executor, options);
  }

  /**
   * Opens (or creates) the database and applies pending migrations.
   * @throws CardwrightError `STORE_FAILURE` when PGlite cannot start on `dataDir` or a migration fails.
   */
  static async open(options: PgliteStoreOptions = {}): Promise<PgliteStore> {
    const { dataDir, ...storeOptions } = options;
    let db: PGlite;
    try {
      db = await PGlite.create(dataDir === undefined ? {} : { dataDir });
    } catch (err) {
      throw toStoreError(err, dataDir === undefined ? "starting in-memory pglite" : `opening pglite at ${dataDir}`);
    }
    const executor = new PgliteExecutor(db);
    try {
      await migrate(executor, migrations);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return new PgliteStore(executor, storeOptions);
  }
}
