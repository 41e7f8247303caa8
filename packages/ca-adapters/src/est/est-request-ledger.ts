/**
 * Where the EST adapter keeps each request under our request id. EST servers have no request
 * ids (RFC 7030 §4.2.3: the client polls by re-sending the same request), so the exact request
 * must be kept to poll, and the outcome must be kept so a resumed workflow does not enroll twice.
 */
import type { CaResult } from "@cardwright/core";

/** One EST request. */
export interface EstRequestEntry {
  requestId: string;
  operation: "simpleenroll" | "simplereenroll" | "fullcmc";
  /** CA label (RFC 7030 §3.2.2), when one is used. */
  label?: string;
  /** The DER PKCS#10, base64. */
  csrBase64: string;
  /** The DER CMC Full PKI Request sent to /fullcmc instead of the PKCS#10 (issuing on behalf), base64. */
  cmcBase64?: string;
  /** The final outcome (issued or rejected) once known. */
  result?: CaResult;
}

/** Persistence for the EST adapter; {@link MemoryEstRequestLedger} is the default. */
export interface EstRequestLedger {
  get(requestId: string): Promise<EstRequestEntry | undefined>;
  /** Insert or replace the entry for `entry.requestId`. */
  put(entry: EstRequestEntry): Promise<void>;
}

/** An in-memory ledger: idempotent within one process only. */
export class MemoryEstRequestLedger implements EstRequestLedger {
  readonly #entries = new Map<string, EstRequestEntry>();

  async get(requestId: string): Promise<EstRequestEntry | undefined> {
    return this.#entries.get(requestId);
  }

  async put(entry: EstRequestEntry): Promise<void> {
    this.#entries.set(entry.requestId, { ...entry });
  }
}
