/**
 * Checks and conversions shared by the SQL repositories. The in-memory store in
 * `@cardwright/core/testing` makes the same checks, so both refuse the same input the same way.
 */
import { CardwrightError } from "@cardwright/core";

/** The record's id, which must be a non-empty string. */
export function requireId(id: unknown, kind: string): string {
  if (typeof id !== "string" || id.length === 0) {
    throw new CardwrightError("STORE_FAILURE", `${kind} record needs a non-empty string id`, {
      details: { recordKind: kind },
    });
  }
  return id;
}

/** An ISO 8601 instant accepted by both `Date.parse` and a `timestamptz` column. */
export function requireInstant(value: string, field: string): string {
  if (Number.isNaN(Date.parse(value))) {
    throw new CardwrightError("STORE_FAILURE", `${field} is not an ISO 8601 instant`, { details: { field } });
  }
  return value;
}

/** A query limit, or `null` for none (`LIMIT NULL` returns every row). */
export function requireLimit(limit: number | undefined): number | null {
  if (limit === undefined) return null;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new CardwrightError("STORE_FAILURE", "limit must be a non-negative integer", { details: { limit } });
  }
  return limit;
}

/**
 * JSON text for a `jsonb` parameter.
 * @throws CardwrightError `STORE_FAILURE` when the value is not JSON-serialisable, or holds a NUL
 * character, which PostgreSQL text and `jsonb` cannot store.
 */
export function toJsonText(value: unknown, kind: string): string {
  let nul = false;
  let json: string;
  try {
    json = JSON.stringify(value, (key, v: unknown) => {
      if (key.includes("\0") || (typeof v === "string" && v.includes("\0"))) nul = true;
      return v;
    });
  } catch (err) {
    throw new CardwrightError("STORE_FAILURE", `${kind} record is not JSON-serialisable`, {
      details: { recordKind: kind },
      cause: err,
    });
  }
  if (nul) {
    throw new CardwrightError("STORE_FAILURE", `${kind} record holds a NUL character, which PostgreSQL cannot store`, {
      details: { recordKind: kind },
    });
  }
  return json;
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
