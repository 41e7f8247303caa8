/**
 * The request and certificate records one workflow run has read or written, by request id, so
 * a step does not read back what an earlier step of the same run just wrote (on a server store
 * every read is a round trip). A run holds its card's lease, so no one else writes these records
 * meanwhile, and a write from a stale copy would still be refused by its version. `null` marks a
 * record known not to exist: a request id the run made up itself.
 */
import type { CertificateRecord, RequestRecord } from "../domain/card.js";
import type { Store } from "../ports/store.js";

type Tables = { requests: Map<string, RequestRecord | null>; certificates: Map<string, CertificateRecord | null> };

const emptyTables = (): Tables => ({ requests: new Map(), certificates: new Map() });

/** See the module comment. Writes made in {@link RunRecords.transaction} are kept only once it commits. */
export class RunRecords {
  #committed = emptyTables();
  /** Writes of the transaction in progress, if any. */
  #pending: Tables | undefined;

  /** Request ids this run made up: neither a request nor a certificate record has them yet. */
  unborn(requestIds: Iterable<string>): void {
    for (const id of requestIds) {
      this.#committed.requests.set(id, null);
      this.#committed.certificates.set(id, null);
    }
  }

  /** The request record `id`, from what this run knows or else from `store` (the transaction's, inside one). */
  async request(store: Store, id: string): Promise<RequestRecord | null> {
    const known = this.#pending?.requests.has(id) ? this.#pending.requests : this.#committed.requests;
    if (known.has(id)) return known.get(id) ?? null;
    const record = await store.requests.get(id);
    (this.#pending ?? this.#committed).requests.set(id, record);
    return record;
  }

  /** The certificate record `id` (a request id), as {@link request}. */
  async certificate(store: Store, id: string): Promise<CertificateRecord | null> {
    const known = this.#pending?.certificates.has(id) ? this.#pending.certificates : this.#committed.certificates;
    if (known.has(id)) return known.get(id) ?? null;
    const record = await store.certificates.get(id);
    (this.#pending ?? this.#committed).certificates.set(id, record);
    return record;
  }

  /** Remember a request record as the store returned it from a write. */
  wroteRequest(record: RequestRecord): RequestRecord {
    (this.#pending ?? this.#committed).requests.set(record.id, record);
    return record;
  }

  /** Remember a certificate record as the store returned it from a write. */
  wroteCertificate(record: CertificateRecord): CertificateRecord {
    (this.#pending ?? this.#committed).certificates.set(record.id, record);
    return record;
  }

  /**
   * Runs `fn` in a store transaction. What it reports with `wrote…` is kept when the transaction
   * commits and dropped when it fails, so what the run knows never runs ahead of the store.
   */
  async transaction<T>(store: Store, fn: (tx: Store) => Promise<T>): Promise<T> {
    const pending = emptyTables();
    this.#pending = pending;
    try {
      const result = await store.transaction(fn);
      for (const [id, r] of pending.requests) this.#committed.requests.set(id, r);
      for (const [id, c] of pending.certificates) this.#committed.certificates.set(id, c);
      return result;
    } finally {
      this.#pending = undefined;
    }
  }
}
