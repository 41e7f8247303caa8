/** Audit events: append-only and hash-chained. */

/** An event before it is chained. */
export interface AuditEventInput {
  /** Who did it (operator id, user id, "system"). */
  actor: string;
  /** What happened, dotted: "card.state", "certificate.issued", "request.pending"... */
  action: string;
  cardId?: string;
  userId?: string;
  operationId?: string;
  /** Secret-free facts. */
  details?: Record<string, unknown>;
}

/** A chained audit event. `hash` = SHA-256 over `prevHash` and the canonical JSON of the rest. */
export interface AuditEvent extends AuditEventInput {
  /** 1, 2, 3... without gaps. */
  seq: number;
  id: string;
  /** ISO 8601. */
  at: string;
  /** Hex; 64 zeros for the first event. */
  prevHash: string;
  /** Hex SHA-256. */
  hash: string;
}
