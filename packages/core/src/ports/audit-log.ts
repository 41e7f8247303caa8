/** The `AuditLog` port: append-only, hash-chained events. */
import type { AuditEvent, AuditEventInput } from "../domain/audit.js";

/** Result of checking the chain. */
export interface AuditVerification {
  ok: boolean;
  /** Events checked. */
  count: number;
  /** First broken `seq`, when not ok. */
  brokenAt?: number;
  reason?: string;
}

/** Who did what to which card, when, why. */
export interface AuditLog {
  append(event: AuditEventInput): Promise<AuditEvent>;
  /** Recompute every hash and check the links. */
  verify(): Promise<AuditVerification>;
}
