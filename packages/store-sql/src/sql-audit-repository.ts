/**
 * Audit events in `audit_events`, where `seq` is the primary key so the hash chain cannot fork,
 * and an event is written only after the stored event its `prevHash` names.
 */
import {
  type AuditEvent,
  type AuditHead,
  type AuditRepository,
  auditEventExistsError,
  auditEventLinks,
  auditLinkBrokenError,
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
   * Appends the event in one statement, which also checks its link to the stored chain and, when
   * it refuses the event, says why: one round trip whether the event is written or refused.
   * @throws CardwrightError `STORE_CONFLICT` when `event.seq` is taken or the event does not link
   * to the stored event before it (re-read `last()` and retry); `STORE_DUPLICATE` when `event.id`
   * is taken.
   */
  async append(event: AuditEvent): Promise<void> {
    const id = requireAuditEvent(event);
    // ON CONFLICT rather than a unique-violation error, which would abort an enclosing transaction
    // and stop the caller from re-reading and retrying inside it. Under READ COMMITTED the EXISTS
    // sees committed events and this transaction's own: a predecessor it finds is never undone
    // unless this insert is undone with it. A rival's uncommitted event at `seq` makes the insert
    // wait for the rival, then do nothing; its uncommitted event at `seq - 1` is invisible, so the
    // link fails. Both end in STORE_CONFLICT and a re-read, never in a gap or a fork.
    // The outer SELECT does not see the CTE's row, so `seq_taken`/`id_taken` describe the events
    // that were there before; a rival committed while the insert waited is not among them, and that
    // refusal reads as a broken link — a STORE_CONFLICT all the same, with the same remedy.
    const rows = await this.#run<{
      inserted: boolean;
      seq_taken: boolean;
      id_taken: boolean;
      head_seq: string | number | null;
      head_hash: string | null;
    }>(
      `appending audit event ${event.seq}`,
      "WITH inserted AS (" +
        "INSERT INTO audit_events (seq, id, at, card_id, data) " +
        "SELECT $1::bigint, $2::text, $3::timestamptz, $4::text, $5::jsonb " +
        "WHERE $6::boolean OR EXISTS " +
        "(SELECT 1 FROM audit_events WHERE seq = $1::bigint - 1 AND data->>'hash' = $7::text) " +
        "ON CONFLICT DO NOTHING RETURNING seq) " +
        "SELECT EXISTS (SELECT 1 FROM inserted) AS inserted, " +
        "EXISTS (SELECT 1 FROM audit_events WHERE seq = $1::bigint) AS seq_taken, " +
        "EXISTS (SELECT 1 FROM audit_events WHERE id = $2::text) AS id_taken, " +
        // The head the refusal saw, so the appender retries after it without reading it again.
        "head.seq AS head_seq, head.data->>'hash' AS head_hash " +
        "FROM (SELECT 1) AS one LEFT JOIN LATERAL " +
        "(SELECT seq, data FROM audit_events ORDER BY seq DESC LIMIT 1) AS head ON true",
      [
        event.seq,
        id,
        event.at,
        event.cardId ?? null,
        recordJsonText(event, "audit event"),
        // Seq 1 links to the genesis hash, which needs no row; later seqs need the EXISTS.
        auditEventLinks(event, undefined),
        event.prevHash,
      ],
    );
    const outcome = rows[0];
    if (outcome?.inserted === true) return;
    // Same order of refusals as the in-memory store: a taken seq, then a taken id, then the link.
    const head: AuditHead =
      outcome?.head_seq === null || outcome?.head_seq === undefined || outcome.head_hash === null
        ? null
        : { seq: Number(outcome.head_seq), hash: outcome.head_hash };
    if (outcome?.seq_taken === true) throw auditSeqTakenError(event, head);
    if (outcome?.id_taken === true) throw auditEventExistsError(id);
    throw auditLinkBrokenError(event, head);
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
