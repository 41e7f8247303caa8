/**
 * A versioned record in a table: the whole record in `data` (JSONB), the store-owned fields
 * (`version`, `created_at`, `updated_at`) in columns, and copies of the queried fields in columns.
 */
import {
  type Clock,
  type NewRecord,
  recordBody,
  recordExistsError,
  recordJsonText,
  recordMissingError,
  requireRecordId,
  StoreConflictError,
  type Versioned,
} from "@cardwright/core";
import { toStoreError } from "./sql-errors.js";
import type { SqlExecutor } from "./sql-executor.js";
import { type Conditions, fromJson, sqlLimit, toIso } from "./sql-values.js";

/** A record the store keeps. */
export type StoredRecord = Versioned & { id: string };

/** A column copied out of the record so it can be filtered, sorted and indexed. */
export interface ColumnSpec<T> {
  name: string;
  value(record: Omit<T, keyof Versioned>): string | null;
  /** SQL type to cast the parameter to, when it is not text. */
  cast?: "timestamptz";
}

/** Where a kind of record lives. Names are trusted constants, never caller input. */
export interface TableSpec<T> {
  table: string;
  /** Singular noun for messages and error details ("card"). */
  kind: string;
  columns: readonly ColumnSpec<T>[];
  /** Checks beyond what the columns enforce, run before every write. */
  validate?(record: Omit<T, keyof Versioned>): void;
}

interface RecordRow {
  id: string;
  version: number;
  created_at: unknown;
  updated_at: unknown;
  data: unknown;
}

/** Create, read and optimistic-update for one table; subclasses add the port's list queries. */
export class SqlRecordRepository<T extends StoredRecord> {
  readonly #insertSql: string;
  readonly #updateSql: string;
  readonly #selectSql: string;

  constructor(
    protected readonly executor: SqlExecutor,
    protected readonly spec: TableSpec<T>,
    private readonly clock: Clock,
  ) {
    const cols = spec.columns;
    const placeholder = (c: ColumnSpec<T>, n: number) => (c.cast ? `$${n}::${c.cast}` : `$${n}`);
    this.#insertSql =
      `INSERT INTO ${spec.table} (id, version, created_at, updated_at, data${cols.map((c) => `, ${c.name}`).join("")}) ` +
      `VALUES ($1, 1, $2::timestamptz, $2::timestamptz, $3::jsonb${cols.map((c, i) => `, ${placeholder(c, i + 4)}`).join("")}) ` +
      "ON CONFLICT (id) DO NOTHING RETURNING id";
    this.#updateSql =
      `UPDATE ${spec.table} SET version = version + 1, updated_at = $3::timestamptz, data = $4::jsonb` +
      `${cols.map((c, i) => `, ${c.name} = ${placeholder(c, i + 5)}`).join("")} ` +
      "WHERE id = $1 AND version = $2 RETURNING version, created_at";
    this.#selectSql = `SELECT id, version, created_at, updated_at, data FROM ${spec.table}`;
  }

  /** Runs one statement, turning driver errors into `STORE_FAILURE` with `context`. */
  protected async run<R>(context: string, text: string, params: readonly unknown[]): Promise<R[]> {
    try {
      return (await this.executor.query<R>(text, params)).rows;
    } catch (err) {
      throw toStoreError(err, context);
    }
  }

  /** `SELECT` with the given conditions, order and limit. */
  protected async select(where: Conditions, orderBy: string, limit: number | undefined): Promise<T[]> {
    const max = where.param(sqlLimit(limit));
    const rows = await this.run<RecordRow>(
      `listing ${this.spec.table}`,
      `${this.#selectSql} ${where.toSql()} ORDER BY ${orderBy} LIMIT ${max}`,
      where.params,
    );
    return rows.map((r) => this.#toRecord(r));
  }

  #toRecord(row: RecordRow): T {
    return {
      ...fromJson<Omit<T, keyof Versioned>>(row.data),
      id: row.id,
      version: Number(row.version),
      createdAt: toIso(row.created_at),
      updatedAt: toIso(row.updated_at),
    } as T;
  }

  /** Validated record body, its JSON text, and the column parameters. */
  #prepare(record: T | NewRecord<T>): { id: string; json: string; columns: (string | null)[] } {
    const id = requireRecordId((record as { id?: unknown }).id, this.spec.kind);
    const json = recordJsonText(recordBody<T>(record), this.spec.kind);
    const stored = JSON.parse(json) as Omit<T, keyof Versioned>;
    this.spec.validate?.(stored);
    return { id, json, columns: this.spec.columns.map((c) => c.value(stored) ?? null) };
  }

  /** The record, or `null` when there is none with this id. */
  async get(id: string): Promise<T | null> {
    const rows = await this.run<RecordRow>(`reading ${this.spec.kind} ${id}`, `${this.#selectSql} WHERE id = $1`, [id]);
    return rows[0] === undefined ? null : this.#toRecord(rows[0]);
  }

  /**
   * Inserts the record at version 1.
   * @throws CardwrightError `STORE_DUPLICATE` when the id exists.
   */
  async create(record: NewRecord<T>): Promise<T> {
    const { id, json, columns } = this.#prepare(record);
    const now = this.clock.now().toISOString();
    // ON CONFLICT instead of catching the unique violation: an error would abort an enclosing
    // transaction, and the caller may want to carry on after a duplicate.
    const rows = await this.run(`creating ${this.spec.kind} ${id}`, this.#insertSql, [id, now, json, ...columns]);
    if (rows.length === 0) throw recordExistsError(this.spec.kind, id);
    return { ...(JSON.parse(json) as Omit<T, keyof Versioned>), id, version: 1, createdAt: now, updatedAt: now } as T;
  }

  /**
   * Replaces the record when `record.version` is the stored one.
   * @throws StoreConflictError (`STORE_CONFLICT`) on a stale version; CardwrightError
   * `STORE_NOT_FOUND` when the id does not exist.
   */
  async update(record: T): Promise<T> {
    const { id, json, columns } = this.#prepare(record);
    const now = this.clock.now().toISOString();
    const context = `updating ${this.spec.kind} ${id}`;
    const rows = await this.run<{ version: number; created_at: unknown }>(context, this.#updateSql, [
      id,
      record.version,
      now,
      json,
      ...columns,
    ]);
    const row = rows[0];
    if (row !== undefined) {
      const stored = JSON.parse(json) as Omit<T, keyof Versioned>;
      return { ...stored, id, version: Number(row.version), createdAt: toIso(row.created_at), updatedAt: now } as T;
    }
    const current = await this.run<{ version: number }>(
      context,
      `SELECT version FROM ${this.spec.table} WHERE id = $1`,
      [id],
    );
    if (current[0] === undefined) throw recordMissingError(this.spec.kind, id);
    throw new StoreConflictError(this.spec.kind, id, record.version, Number(current[0].version));
  }
}
