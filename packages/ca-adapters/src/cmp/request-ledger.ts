/**
 * Where the CMP adapter remembers its requests. CMP has no idempotency key a CA must honour:
 * a re-sent p10cr is a new transaction and may yield a second certificate. So the adapter keeps,
 * per `requestId`, the transaction it opened and its outcome, and a workflow that resubmits after
 * a crash gets the recorded answer (or continues the recorded transaction) instead of a new one.
 * Polling also needs the transaction's id and last nonce, which `poll(caRequestId)` alone does
 * not carry. The in-memory default lasts as long as the process; inject a persistent ledger (a
 * table, a key-value store) to keep that guarantee across restarts.
 */

/** A small string key-value store. Values are JSON written by the adapter. */
export interface CmpRequestLedger {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

/** A {@link CmpRequestLedger} in memory: idempotent within one process only. */
export class MemoryCmpRequestLedger implements CmpRequestLedger {
  readonly #entries = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.#entries.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.#entries.set(key, value);
  }
}
