/**
 * What every {@link Store} refuses, and how: the driver-independent half of the Store contract.
 * The in-memory store and the SQL stores run the same checks and raise the same errors, so a
 * caller sees one behaviour whichever store it is given. Records must survive a JSON round trip
 * through PostgreSQL `jsonb` (no NUL characters), ids are non-empty strings, instants parse as
 * ISO 8601, limits are non-negative integers and audit `seq` numbers start at 1.
 */
import { GENESIS_HASH } from "../audit/genesis-hash.js";
import type { AuditEvent } from "../domain/audit.js";
import type { CertificateRecord, Versioned } from "../domain/card.js";
import { CardwrightError } from "../errors.js";
import type { NewRecord } from "../ports/store.js";

/** Record kind used in messages and details for audit events. */
const AUDIT_EVENT = "audit event";

/**
 * The record's id.
 * @throws CardwrightError `STORE_FAILURE` when it is not a non-empty string.
 */
export function requireRecordId(id: unknown, kind: string): string {
  if (typeof id !== "string" || id.length === 0) {
    throw new CardwrightError("STORE_FAILURE", `${kind} record needs a non-empty string id`, {
      details: { recordKind: kind },
    });
  }
  return id;
}

/**
 * `value`, checked to be an ISO 8601 instant accepted by both `Date.parse` and a `timestamptz` column.
 * @throws CardwrightError `STORE_FAILURE` naming `field` when it does not parse.
 */
export function requireStoreInstant(value: string, field: string): string {
  if (Number.isNaN(Date.parse(value))) {
    throw new CardwrightError("STORE_FAILURE", `${field} is not an ISO 8601 instant`, { details: { field } });
  }
  return value;
}

/**
 * A list query's limit; `undefined` means no limit.
 * @throws CardwrightError `STORE_FAILURE` when it is not a non-negative integer.
 */
export function requireStoreLimit(limit: number | undefined): number | undefined {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new CardwrightError("STORE_FAILURE", "limit must be a non-negative integer", { details: { limit } });
  }
  return limit;
}

/**
 * The JSON text a record is stored as.
 * @throws CardwrightError `STORE_FAILURE` when the value is not JSON-serialisable, or holds a NUL
 * character, which PostgreSQL text and `jsonb` cannot store.
 */
export function recordJsonText(value: unknown, kind: string): string {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new CardwrightError("STORE_FAILURE", `${kind} record is not JSON-serialisable`, {
      details: { recordKind: kind },
      cause: err,
    });
  }
  // JSON.stringify writes a NUL in a key or a string as the escape `\u0000`, so text without one
  // cannot hold a NUL; only text with one is searched, escape by escape, for an unescaped one.
  if (json?.includes("\\u0000") && holdsNul(json)) {
    throw new CardwrightError("STORE_FAILURE", `${kind} record holds a NUL character, which PostgreSQL cannot store`, {
      details: { recordKind: kind },
    });
  }
  return json;
}

/**
 * Whether JSON text has a `\u0000` escape that is not itself an escaped backslash followed by
 * `u0000` (the text of a string that merely spells the escape out).
 */
function holdsNul(json: string): boolean {
  for (let at = json.indexOf("\\u0000"); at !== -1; at = json.indexOf("\\u0000", at + 1)) {
    let backslashes = 0;
    for (let i = at - 1; i >= 0 && json[i] === "\\"; i--) backslashes++;
    if (backslashes % 2 === 0) return true;
  }
  return false;
}

/** The record without the fields the store owns (`version`, `createdAt`, `updatedAt`), whatever the caller passed. */
export function recordBody<T extends Versioned>(record: T | NewRecord<T>): NewRecord<T> {
  const copy = { ...record } as Partial<T>;
  delete copy.version;
  delete copy.createdAt;
  delete copy.updatedAt;
  return copy as NewRecord<T>;
}

/**
 * Checks the certificate fields a store indexes.
 * @throws CardwrightError `STORE_FAILURE` when `notAfter` is present and not an ISO 8601 instant.
 */
export function requireCertificateRecord(record: Pick<CertificateRecord, "notAfter">): void {
  if (record.notAfter !== undefined) requireStoreInstant(record.notAfter, "notAfter");
}

/**
 * Checks an audit event before it is appended and returns its id.
 * @throws CardwrightError `STORE_FAILURE` when `seq` is not a positive integer, the id is not a
 * non-empty string or `at` is not an ISO 8601 instant.
 */
export function requireAuditEvent(event: AuditEvent): string {
  if (!Number.isSafeInteger(event.seq) || event.seq < 1) {
    throw new CardwrightError("STORE_FAILURE", "audit event seq must be a positive integer", {
      details: { recordKind: AUDIT_EVENT },
    });
  }
  const id = requireRecordId(event.id, AUDIT_EVENT);
  requireStoreInstant(event.at, "at");
  return id;
}

/** `STORE_DUPLICATE`: `create` of an id that exists. */
export function recordExistsError(kind: string, id: string): CardwrightError {
  return new CardwrightError("STORE_DUPLICATE", `${kind} ${id} already exists; read it instead of creating`, {
    details: { recordKind: kind, recordId: id },
  });
}

/** `STORE_NOT_FOUND`: `update` of an id that does not exist. */
export function recordMissingError(kind: string, id: string): CardwrightError {
  return new CardwrightError("STORE_NOT_FOUND", `${kind} ${id} does not exist; create it first`, {
    details: { recordKind: kind, recordId: id },
  });
}

/** The stored chain head as a refused append saw it, so the appender can retry without reading it: `null` for an empty log. */
export type AuditHead = { seq: number; hash: string } | null;

/** Details of an audit conflict: the event refused and, when the store knows it, the head it saw. */
function auditConflictDetails(event: Pick<AuditEvent, "id" | "seq">, head: AuditHead | undefined) {
  return {
    recordKind: AUDIT_EVENT,
    recordId: event.id,
    seq: event.seq,
    ...(head === undefined ? {} : { headSeq: head?.seq ?? 0, ...(head === null ? {} : { headHash: head.hash }) }),
  };
}

/**
 * `STORE_CONFLICT`: an audit `seq` another writer took first; the caller retries after the head
 * in `details.headSeq`/`details.headHash` when given, or re-reads `last()`.
 */
export function auditSeqTakenError(event: Pick<AuditEvent, "id" | "seq">, head?: AuditHead): CardwrightError {
  return new CardwrightError(
    "STORE_CONFLICT",
    `audit seq ${event.seq} is already taken; re-read the last event and retry`,
    { details: auditConflictDetails(event, head) },
  );
}

/**
 * Whether `event` links to the stored chain: seq 1 names the genesis hash, any later seq names
 * the hash of `previous`, the stored event at `seq - 1` (`undefined` when there is none).
 */
export function auditEventLinks(
  event: Pick<AuditEvent, "seq" | "prevHash">,
  previous: Pick<AuditEvent, "hash"> | undefined,
): boolean {
  if (event.seq === 1) return event.prevHash === GENESIS_HASH;
  return previous !== undefined && previous.hash === event.prevHash;
}

/**
 * `STORE_CONFLICT`: an audit event whose `prevHash` does not name the stored event before it (the
 * appender's idea of the head is stale, or would leave a gap); the caller retries after the head
 * in `details.headSeq`/`details.headHash` when given, or re-reads `last()`.
 */
export function auditLinkBrokenError(event: Pick<AuditEvent, "id" | "seq">, head?: AuditHead): CardwrightError {
  return new CardwrightError(
    "STORE_CONFLICT",
    `audit event ${event.seq} does not link to the stored head; re-read last() and retry`,
    { details: auditConflictDetails(event, head) },
  );
}

/** `STORE_DUPLICATE`: an audit event id that is already in the log. */
export function auditEventExistsError(id: string): CardwrightError {
  return new CardwrightError("STORE_DUPLICATE", `audit event ${id} already exists`, {
    details: { recordKind: AUDIT_EVENT, recordId: id },
  });
}
