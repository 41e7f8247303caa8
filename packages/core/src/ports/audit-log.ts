/** The `AuditLog` port: append-only, hash-chained events. */
import type { AuditEvent, AuditEventInput } from "../domain/audit.js";
import type { Store } from "./store.js";

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
  /**
   * Append an event. When `tx` is given (the store a `store.transaction` callback received), the
   * event must be written through it, so it lands atomically with the change it records.
   */
  append(event: AuditEventInput, tx?: Store): Promise<AuditEvent>;
  /** Recompute every hash and check the links. */
  verify(): Promise<AuditVerification>;
}
