/** A numbered schema change. */
export interface Migration {
  /** 1, 2, 3… in the order they apply; recorded in `schema_migrations.version`. */
  version: number;
  /** Short kebab-case name, recorded with the version. */
  name: string;
  /** Statements run one by one, each plain PostgreSQL 15+ (no driver-specific syntax). */
  statements: readonly string[];
}
