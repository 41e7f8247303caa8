/**
 * The EJBCA adapter's record of its requests. EJBCA's pkcs10enroll issues again each time it is
 * called, so requestId → outcome is kept here to answer repeats; a pending entry remembers the
 * approval request id so the adapter can finalize after approval. Give it a durable
 * implementation in production; the in-memory default covers one process only.
 *
 * Limit: a crash after EJBCA issued but before the outcome was recorded loses it; the retry
 * then enrolls again and EJBCA issues a second certificate for the same end entity (find it
 * with EJBCA's certificate search and revoke it if that matters).
 */

/** One request's outcome, by our request id. */
export type EjbcaLedgerEntry =
  | { requestId: string; status: "issued"; caRequestId: string; certificate: Uint8Array; chain: Uint8Array[] }
  | {
      requestId: string;
      status: "pending";
      caRequestId: string;
      /** EJBCA's approval request id. */
      approvalId: number;
      /** The end entity created for the request. */
      username: string;
      /** DER SubjectPublicKeyInfo of the CSR, to check the certificate finalize returns. */
      spki: Uint8Array;
    }
  | { requestId: string; status: "rejected"; caRequestId?: string; reason: string };

/** Durable requestId → outcome map. */
export interface EjbcaLedger {
  /** The entry for our request id, if any. */
  byRequestId(requestId: string): Promise<EjbcaLedgerEntry | undefined>;
  /** The entry with this caRequestId (a serial, or `approval-<id>`), if any. */
  byCaRequestId(caRequestId: string): Promise<EjbcaLedgerEntry | undefined>;
  /**
   * Record an outcome. A pending entry may be replaced by a decision for the same requestId;
   * an issued or rejected entry is final and a later record for it is ignored.
   */
  record(entry: EjbcaLedgerEntry): Promise<void>;
}

/** An {@link EjbcaLedger} in memory. */
export class MemoryEjbcaLedger implements EjbcaLedger {
  readonly #byRequestId = new Map<string, EjbcaLedgerEntry>();
  readonly #byCaRequestId = new Map<string, string>();

  /** A copy of the entry for `requestId`. */
  async byRequestId(requestId: string): Promise<EjbcaLedgerEntry | undefined> {
    const entry = this.#byRequestId.get(requestId);
    return entry === undefined ? undefined : structuredClone(entry);
  }

  /** A copy of the entry with this caRequestId. */
  async byCaRequestId(caRequestId: string): Promise<EjbcaLedgerEntry | undefined> {
    const requestId = this.#byCaRequestId.get(caRequestId);
    return requestId === undefined ? undefined : this.byRequestId(requestId);
  }

  /** Record `entry`; only a pending entry can be replaced. */
  async record(entry: EjbcaLedgerEntry): Promise<void> {
    const existing = this.#byRequestId.get(entry.requestId);
    if (existing !== undefined && existing.status !== "pending") return;
    const copy = structuredClone(entry);
    this.#byRequestId.set(copy.requestId, copy);
    if (copy.caRequestId !== undefined) this.#byCaRequestId.set(copy.caRequestId, copy.requestId);
  }
}
