/** Audit events in `audit_events`, where `seq` is the primary key so the hash chain cannot fork. */
import {
  type AuditEvent,
  type AuditRepository,
  auditEventExistsError,
  auditSeqTakenError,
  recordJsonText,
  requireAuditEvent,
} from "@cardwright/core";
import { toStoreError } from "./sql-errors.js";
import type { SqlExecutor } from "./sql-executor.js";
import { Conditions, fromJson, sqlLimit } from "./sql-values.js";

/** The audit table; the chain itself is computed by the core `AuditLog`. */
export class SqlAuditRepository implements AuditRepository {
  constructor(private readonly executor: SqlExecutor) {}

  async #run<R>(context: string, text: string, params: readonly unknown[]): Promise<R[]> {
    try {
      return (await this.executor.query<R>(text, params)).rows;
    } catch (err) {
      throw toStoreError(err, context);
    }
  }

  /**
   * Appends the event.
   * @throws CardwrightError `STORE_CONFLICT` when `event.seq` is taken (re-read `last()` and
   * retry); `STORE_DUPLICATE` when `event.id` is.
   */
  async append(event: AuditEvent): Promise<void> {
    const id = requireAuditEvent(event);
    const context = `appending audit event ${event.seq}`;
    // ON CONFLICT rather than a unique-violation error, which would abort an enclosing transaction
    // and stop the caller from re-reading and retrying inside it.
    const inserted = await this.#run(
      context,
      "INSERT INTO audit_events (seq, id, at, card_id, data) VALUES ($1, $2, $3::timestamptz, $4, $5::jsonb) " +
        "ON CONFLICT DO NOTHING RETURNING seq",
      [event.seq, id, event.at, event.cardId ?? null, recordJsonText(event, "audit event")],
    );
    if (inserted.length > 0) return;
    const taken = await this.#run<{ seq: unknown }>(context, "SELECT seq FROM audit_events WHERE seq = $1", [
      event.seq,
    ]);
    if (taken.length > 0) throw auditSeqTakenError(event);
    throw auditEventExistsError(id);
  }

  /** The event with the highest `seq`, or `null` for an empty log. */
  async last(): Promise<AuditEvent | null> {
    const rows = await this.#run<{ data: unknown }>(
      "reading last audit event",
      "SELECT data FROM audit_events ORDER BY seq DESC LIMIT 1",
      [],
    );
    return rows[0] === undefined ? null : fromJson<AuditEvent>(rows[0].data);
  }

  /** Events in `seq` order, from `fromSeq` inclusive, optionally for one card. */
  async list(q: { fromSeq?: number; cardId?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    const where = new Conditions().where(q.fromSeq, (p) => `seq >= ${p}`).equals("card_id", q.cardId);
    const max = where.param(sqlLimit(q.limit));
    const rows = await this.#run<{ data: unknown }>(
      "listing audit events",
      `SELECT data FROM audit_events ${where.toSql()} ORDER BY seq LIMIT ${max}`,
      where.params,
    );
    return rows.map((r) => fromJson<AuditEvent>(r.data));
  }
}
