/**
 * Where the AD CS adapter keeps each request under our request id: the CA's request id once
 * AD CS assigned one (to poll it), the CSR (to check the certificate's key), and the final
 * outcome (so a resumed workflow gets the same answer instead of enrolling again).
 */
import type { CaResult } from "@cardwright/core";

/** One request. */
export interface AdcsRequestEntry {
  requestId: string;
  /** The DER PKCS#10, base64. */
  csrBase64: string;
  /** The enrollment service URL the request went to (CES), to poll the same one. */
  cesUrl?: string;
  /** AD CS request id (decimal), once the CA assigned one. */
  caRequestId?: string;
  /** Issued or rejected, once final. */
  result?: CaResult;
}

/** Persistence for the AD CS adapter; {@link MemoryAdcsRequestLedger} is the default. */
export interface AdcsRequestLedger {
  get(requestId: string): Promise<AdcsRequestEntry | undefined>;
  byCaRequestId(caRequestId: string): Promise<AdcsRequestEntry | undefined>;
  /** Insert or replace the entry for `entry.requestId`. */
  put(entry: AdcsRequestEntry): Promise<void>;
}

/** An in-memory ledger: idempotent within one process only. */
export class MemoryAdcsRequestLedger implements AdcsRequestLedger {
  readonly #entries = new Map<string, AdcsRequestEntry>();

  async get(requestId: string): Promise<AdcsRequestEntry | undefined> {
    return this.#entries.get(requestId);
  }

  async byCaRequestId(caRequestId: string): Promise<AdcsRequestEntry | undefined> {
    for (const entry of this.#entries.values()) if (entry.caRequestId === caRequestId) return entry;
    return undefined;
  }

  async put(entry: AdcsRequestEntry): Promise<void> {
    this.#entries.set(entry.requestId, { ...entry });
  }
}
