/**
 * Bulk loading of the store's tables with SQL, for the store-at-scale measurement: filling 10⁶
 * certificates through the `Store` port runs at a few thousand rows a second, so rows are made
 * by the database itself (`INSERT … SELECT … FROM generate_series`), each one a real record the
 * SDK wrote in an issue (the template) with its ids, owner, dates and status varied per row.
 * The SQL is plain PostgreSQL and runs alike on PGlite and on a PostgreSQL server.
 */
import type { AuditEvent, CardRecord, CertificateRecord, OperationRecord, RequestRecord } from "@cardwright/core";
import type { SqlExecutor } from "@cardwright/store-sql";

/** What one issued card left in the store: the templates every loaded card copies. */
export interface CardHistoryTemplate {
  card: CardRecord;
  operation: OperationRecord;
  requests: RequestRecord[];
  certificates: CertificateRecord[];
  audit: AuditEvent[];
}

/** The shape of the loaded inventory; everything is a pure function of the row number. */
export interface InventoryShape {
  /** Reference instant (epoch milliseconds): expiries are spread around it. */
  epoch: number;
  /** Cards per user: a few cards' history each. */
  cardsPerUser: number;
  /**
   * Every `auditEvery`-th card (c % auditEvery = 0) gets the template's audit events; the others
   * none. 1 is the real ratio; a larger step keeps the audit table near the certificates' size
   * while the cards that have a history still have all of it.
   */
  auditEvery: number;
}

/** Whether card `c` was loaded with its audit events. */
export function hasAuditHistory(shape: InventoryShape, c: number): boolean {
  return c % shape.auditEvery === 0;
}

const DAY_SECONDS = 86_400;
/** Expiries spread over three years, two of them before `epoch` (those certificates are expired). */
const SPREAD_DAYS = 1095;
const PAST_DAYS = 730;

/** Removes the store-owned fields: the loader writes them in columns. */
function body<T extends { version: number; createdAt: string; updatedAt: string }>(record: T): string {
  const { version: _v, createdAt: _c, updatedAt: _u, ...rest } = record;
  return JSON.stringify(rest);
}

/** `to_char` format of an ISO 8601 UTC instant with milliseconds, as `Date.toISOString` writes it. */
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const iso = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', ${ISO})`;

/**
 * The rows of cards `from` ≤ c < `to` with their per-card values computed once: `id`, `usr`
 * (owner), `nb` and `na` (validity of its certificates, spread over {@link SPREAD_DAYS} by a
 * multiplicative step so neighbouring ids do not expire together), `nb_iso` / `na_iso` (as the SDK
 * writes them) and `expired`.
 */
function cardRows(shape: InventoryShape, from: number, to: number, where = ""): string {
  const epoch = `to_timestamp(${shape.epoch / 1000})`;
  return `generate_series(${from}::bigint, ${to - 1}::bigint) AS c,
    LATERAL (SELECT 'card-' || c AS id, 'user-' || (c / ${shape.cardsPerUser}) AS usr,
      ${epoch} + make_interval(days => ((c * 7919 % ${SPREAD_DAYS}) - ${PAST_DAYS})::int, secs => (c % ${DAY_SECONDS})::float8) AS na) k0,
    LATERAL (SELECT k0.na - interval '365 days' AS nb) k1,
    LATERAL (SELECT ${iso("k0.na")} AS na_iso, ${iso("k1.nb")} AS nb_iso, k0.na < ${epoch} AS expired) k2
    ${where}`;
}

/**
 * One `INSERT … SELECT` per table for cards `from` ≤ c < `to`; each card gets the template's
 * operation, requests, certificates and audit events. Run the statements in order (or apart,
 * they do not depend on each other).
 */
export function loadStatements(
  template: CardHistoryTemplate,
  shape: InventoryShape,
  from: number,
  to: number,
): { table: string; rows: number; sql: string; params: unknown[] }[] {
  const range = cardRows(shape, from, to);
  const cards = to - from;
  const statements: { table: string; rows: number; sql: string; params: unknown[] }[] = [];
  statements.push({
    table: "cards",
    rows: cards,
    sql: `INSERT INTO cards (id, version, created_at, updated_at, device_serial, user_id, state, data)
      SELECT k0.id, 1, k1.nb, k1.nb, (10000000 + c)::text, k0.usr, $1::jsonb->>'state',
        $1::jsonb || jsonb_build_object('id', k0.id, 'deviceSerial', (10000000 + c)::text, 'userId', k0.usr)
      FROM ${range}`,
    params: [body(template.card)],
  });
  statements.push({
    table: "operations",
    rows: cards,
    sql: `INSERT INTO operations (id, version, created_at, updated_at, card_id, status, data)
      SELECT 'op-' || c, 1, k1.nb, k1.nb, k0.id, $1::jsonb->>'status',
        $1::jsonb || jsonb_build_object('id', 'op-' || c, 'cardId', k0.id, 'userId', k0.usr)
      FROM ${range}`,
    params: [body(template.operation)],
  });
  template.requests.forEach((request, i) => {
    statements.push({
      table: "requests",
      rows: cards,
      sql: `INSERT INTO requests (id, version, created_at, updated_at, card_id, operation_id, status, data)
        SELECT 'request-' || c || '-${i}', 1, k1.nb, k1.nb, k0.id, 'op-' || c, $1::jsonb->>'status',
          $1::jsonb || jsonb_build_object('id', 'request-' || c || '-${i}', 'cardId', k0.id, 'operationId', 'op-' || c)
        FROM ${range}`,
      params: [body(request)],
    });
  });
  template.certificates.forEach((certificate, i) => {
    // 5 % revoked (those of every twentieth card), the past ones expired, the rest on the card.
    const status = `CASE WHEN c % 20 = 0 THEN 'revoked' WHEN k2.expired THEN 'expired' ELSE 'written' END`;
    const serial = `to_hex(1048576 + c * ${template.certificates.length} + ${i})`;
    statements.push({
      table: "certificates",
      rows: cards,
      sql: `INSERT INTO certificates (id, version, created_at, updated_at, card_id, user_id, status, not_after, serial_hex, data)
        SELECT 'cert-' || c || '-${i}', 1, k1.nb, k1.nb, k0.id, k0.usr, ${status}, k0.na, ${serial},
          $1::jsonb || jsonb_build_object('id', 'cert-' || c || '-${i}', 'cardId', k0.id, 'userId', k0.usr,
            'requestId', 'request-' || c || '-${i}', 'serialHex', ${serial}, 'status', ${status},
            'notBefore', k2.nb_iso, 'notAfter', k2.na_iso)
        FROM ${range}`,
      params: [body(certificate)],
    });
  });
  const perCard = template.audit.length;
  const audited = cardRows(shape, from, to, `WHERE c % ${shape.auditEvery} = 0`);
  template.audit.forEach((event, j) => {
    // The events keep the template's shape; their hash chain is not recomputed (never verified here).
    const seq = `c * ${perCard} + ${j + 1}`;
    statements.push({
      table: "audit_events",
      rows: Math.floor((to - 1) / shape.auditEvery) - Math.floor((from - 1) / shape.auditEvery),
      sql: `INSERT INTO audit_events (seq, id, at, card_id, data)
        SELECT ${seq}, 'audit-' || (${seq}), k1.nb, k0.id,
          $1::jsonb || jsonb_build_object('seq', ${seq}, 'id', 'audit-' || (${seq}), 'cardId', k0.id,
            'at', k2.nb_iso, 'hash', md5('h' || (${seq})) || md5('x' || (${seq})),
            'prevHash', md5('h' || (${seq} - 1)) || md5('x' || (${seq} - 1)))
        FROM ${audited}`,
      params: [JSON.stringify(event)],
    });
  });
  return statements;
}

/** Runs {@link loadStatements} for cards `from` ≤ c < `to` in one transaction; returns rows per table. */
export async function loadCards(
  executor: SqlExecutor,
  template: CardHistoryTemplate,
  shape: InventoryShape,
  from: number,
  to: number,
): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  await executor.transaction(async (tx) => {
    for (const s of loadStatements(template, shape, from, to)) {
      await tx.query(s.sql, s.params);
      rows[s.table] = (rows[s.table] ?? 0) + s.rows;
    }
  });
  return rows;
}

/** The tables {@link loadStatements} fills. */
export const LOADED_TABLES = ["cards", "operations", "requests", "certificates", "audit_events"] as const;

/**
 * Drops the secondary indexes of the loaded tables and returns a function that re-creates them
 * from their own definitions (`pg_indexes.indexdef`), as a restore does: maintaining six indexes
 * row by row triples the load time, while building each one after the load sorts once. Primary
 * keys and unique constraints stay, so the load still checks ids.
 */
export async function deferSecondaryIndexes(executor: SqlExecutor): Promise<() => Promise<void>> {
  const { rows } = await executor.query<{ indexname: string; indexdef: string }>(
    `SELECT i.indexname, i.indexdef FROM pg_indexes i
      WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
      ORDER BY i.indexname`,
    [[...LOADED_TABLES]],
  );
  for (const r of rows) await executor.query(`DROP INDEX ${quoteIdent(r.indexname)}`);
  return async () => {
    for (const r of rows) await executor.query(r.indexdef);
  };
}

/** A catalog name as a quoted identifier. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
