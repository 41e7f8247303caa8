/** Driver errors → {@link CardwrightError} `STORE_FAILURE`, without leaking parameter values. */
import { CardwrightError, type ErrorDetails } from "@cardwright/core";

/** Condition names of the SQLSTATEs worth naming (PostgreSQL manual, Appendix A). */
const conditionNames: Readonly<Record<string, string>> = {
  "08000": "connection_exception",
  "08006": "connection_failure",
  "22P02": "invalid_text_representation",
  "22007": "invalid_datetime_format",
  "22008": "datetime_field_overflow",
  "23502": "not_null_violation",
  "23505": "unique_violation",
  "23514": "check_violation",
  "25P02": "in_failed_sql_transaction",
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "42P01": "undefined_table",
  "53100": "disk_full",
  "57P01": "admin_shutdown",
};

/** The SQLSTATE of a server-reported error, if `err` is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Wraps a driver error with short lowercase context. Server messages and DETAIL lines can quote
 * parameter values (`Key (id)=(…)`, `invalid input syntax …: "…"`), so only the SQLSTATE and schema
 * identifiers (table, constraint) are kept, and the driver error is not attached as `cause`.
 */
export function toStoreError(err: unknown, context: string): CardwrightError {
  if (err instanceof CardwrightError) return err;
  const state = sqlState(err);
  const details: ErrorDetails = {};
  let reason: string;
  if (state !== undefined) {
    const e = err as { table?: unknown; constraint?: unknown };
    details.sqlState = state;
    if (typeof e.table === "string") details.table = e.table;
    if (typeof e.constraint === "string") details.constraint = e.constraint;
    reason = `database error ${state}${conditionNames[state] ? ` (${conditionNames[state]})` : ""}`;
  } else {
    // Client-side driver errors ("PGlite is closed") describe the session, not the data.
    reason = err instanceof Error ? err.message.slice(0, 200) : "unknown driver error";
  }
  return new CardwrightError("STORE_FAILURE", `${context}: ${reason}`, { details });
}
