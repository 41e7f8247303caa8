// Public API of @cardwright/store-sql. Explicit named exports only.

export { migrations } from "./migrations/index.js";
export { migrate } from "./migrations/migrate.js";
export type { Migration } from "./migrations/migration.js";
export { PgliteExecutor } from "./pglite-executor.js";
export { PgliteStore, type PgliteStoreOptions } from "./pglite-store.js";
export { PostgresExecutor } from "./postgres-executor.js";
export { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
export type { SqlExecutor, SqlResult } from "./sql-executor.js";
export { SqlStore, type SqlStoreOptions } from "./sql-store.js";
