/**
 * Conversions shared by the SQL repositories. The record checks themselves are core's
 * (`requireRecordId`, `recordJsonText`, …), which the in-memory store runs too, so both refuse
 * the same input the same way.
 */
import { requireStoreLimit } from "@cardwright/core";

/** A query limit, or `null` for none (`LIMIT NULL` returns every row). */
export function sqlLimit(limit: number | undefined): number | null {
  return requireStoreLimit(limit) ?? null;
}

/** A `jsonb` column value: drivers return it parsed, or as text when configured to. */
export function fromJson<T>(value: unknown): T {
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

/** A `timestamptz` column value (a `Date`, or text when the driver does not parse it) as ISO 8601. */
export function toIso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

/** Collects `WHERE` conditions with their `$n` parameters. */
export class Conditions {
  readonly params: unknown[] = [];
  readonly #parts: string[] = [];

  /** Adds `column = $n` when `value` is defined. */
  equals(column: string, value: string | undefined): this {
    if (value !== undefined) this.#parts.push(`${column} = ${this.param(value)}`);
    return this;
  }

  /** Adds `column = ANY($n)` when `values` is defined (an empty list matches nothing). */
  anyOf(column: string, values: readonly string[] | undefined): this {
    if (values !== undefined) this.#parts.push(`${column} = ANY(${this.param([...values])}::text[])`);
    return this;
  }

  /** Adds a condition built around a fresh placeholder when `value` is defined. */
  where(value: unknown, build: (placeholder: string) => string): this {
    if (value !== undefined) this.#parts.push(build(this.param(value)));
    return this;
  }

  /** Registers a parameter and returns its placeholder. */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  /** The `WHERE …` clause, or an empty string. */
  toSql(): string {
    return this.#parts.length === 0 ? "" : `WHERE ${this.#parts.join(" AND ")}`;
  }
}
