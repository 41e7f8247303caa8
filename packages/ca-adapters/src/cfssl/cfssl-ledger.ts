/**
 * The cfssl adapter's record of what it asked for. cfssl has no request ids and no
 * idempotency: every sign call signs again. The port requires that a request id re-submitted
 * after a crash never yields a second certificate, so the adapter keeps requestId → outcome
 * here and answers repeats from it. Give it a durable implementation (e.g. a table next to the
 * workflow store) in production; the in-memory default only covers one process's lifetime.
 *
 * Limit: a crash after cfssl signed but before {@link CfsslLedger.record} finished loses the
 * outcome; the retry then signs a second certificate, and the first stays valid at cfssl
 * (revoke it from cfssl's certificate database if that matters).
 */

/** One outcome, by our request id. */
export type CfsslLedgerEntry =
  | {
      requestId: string;
      status: "issued";
      /** The certificate's serial (lowercase hex): cfssl's only handle on it, used as caRequestId. */
      caRequestId: string;
      /** DER. */
      certificate: Uint8Array;
      /** ISO 8601. */
      issuedAt: string;
    }
  | { requestId: string; status: "rejected"; reason: string; decidedAt: string };

/** Durable requestId → outcome map. */
export interface CfsslLedger {
  /** The outcome recorded for `requestId`, if any. */
  byRequestId(requestId: string): Promise<CfsslLedgerEntry | undefined>;
  /** The issued outcome whose caRequestId (serial) is `caRequestId`, if any. */
  byCaRequestId(caRequestId: string): Promise<Extract<CfsslLedgerEntry, { status: "issued" }> | undefined>;
  /** Record an outcome; a second record for the same requestId must keep the first. */
  record(entry: CfsslLedgerEntry): Promise<void>;
}

/** A {@link CfsslLedger} in memory: idempotency within one process only. */
export class MemoryCfsslLedger implements CfsslLedger {
  readonly #byRequestId = new Map<string, CfsslLedgerEntry>();
  readonly #byCaRequestId = new Map<string, Extract<CfsslLedgerEntry, { status: "issued" }>>();

  /** A copy of the outcome recorded for `requestId`. */
  async byRequestId(requestId: string): Promise<CfsslLedgerEntry | undefined> {
    const entry = this.#byRequestId.get(requestId);
    return entry === undefined ? undefined : structuredClone(entry);
  }

  /** A copy of the issued outcome with this serial. */
  async byCaRequestId(caRequestId: string): Promise<Extract<CfsslLedgerEntry, { status: "issued" }> | undefined> {
    const entry = this.#byCaRequestId.get(caRequestId);
    return entry === undefined ? undefined : structuredClone(entry);
  }

  /** Record `entry` unless its requestId already has an outcome. */
  async record(entry: CfsslLedgerEntry): Promise<void> {
    if (this.#byRequestId.has(entry.requestId)) return;
    const copy = structuredClone(entry);
    this.#byRequestId.set(copy.requestId, copy);
    if (copy.status === "issued") this.#byCaRequestId.set(copy.caRequestId, copy);
  }

  /** Number of outcomes recorded (for tests and metrics). */
  get size(): number {
    return this.#byRequestId.size;
  }
}
