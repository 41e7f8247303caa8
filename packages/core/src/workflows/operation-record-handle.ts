/**
 * One run's operation record, shared by the runner, which saves a snapshot at each state change,
 * and the step that ends the run, which must save the operation's final status in the same
 * transaction as the change that releases the card. Saved separately, a crash between the two
 * would leave an operation `running` whose card had already moved on: no process could resume it
 * (the card no longer names it) and nothing would ever finish it.
 */
import type { OperationRecord } from "../domain/card.js";
import type { Store } from "../ports/store.js";

/** See the module comment. Every write of the record goes through here, in order. */
export class OperationRecordHandle {
  #record: OperationRecord;
  #chain: Promise<void> = Promise.resolve();

  constructor(record: OperationRecord) {
    this.#record = record;
  }

  /** The record as last saved (its version is the one the next update must name). */
  get record(): OperationRecord {
    return this.#record;
  }

  /**
   * Queues `save` behind every earlier one; it gets the record as last saved and returns the
   * saved record, or `undefined` when it saved nothing.
   */
  queue(save: (current: OperationRecord) => Promise<OperationRecord | undefined>): Promise<void> {
    const next = this.#chain.then(async () => {
      const saved = await save(this.#record);
      if (saved !== undefined) this.#record = saved;
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /**
   * Resolves once every queued save has finished, whether or not it succeeded — including saves
   * queued while it waited. A step that ends the run calls this as it starts, before the runner
   * (notified after xstate started the step) has queued the save of the step's own state.
   */
  async settled(): Promise<void> {
    let chain: Promise<void>;
    do {
      chain = this.#chain;
      await chain;
    } while (chain !== this.#chain);
  }

  /**
   * Runs `change` in a transaction of `store` that also saves the operation's `status`, once
   * every queued save has landed (so the transaction updates the current version).
   * @returns what `change` returned.
   * @throws whatever `change` or the store throws; the record is then as it was.
   */
  async finishWith<T>(
    status: OperationRecord["status"],
    transaction: (fn: (tx: Store) => Promise<T>) => Promise<T>,
    change: (tx: Store) => Promise<T>,
  ): Promise<T> {
    await this.settled();
    let saved: OperationRecord | undefined;
    const result = await transaction(async (tx) => {
      const value = await change(tx);
      saved = await tx.operations.update({ ...this.#record, status });
      return value;
    });
    if (saved !== undefined) this.#record = saved;
    return result;
  }
}

/**
 * Runs `change`, the step that ends a run by releasing its card, in `transaction` — with the
 * operation's final `status` when the run shares its record through `handle` (see
 * {@link OperationRecordHandle.finishWith}), on its own otherwise.
 */
export function releasingCard<T>(
  handle: OperationRecordHandle | undefined,
  status: "completed" | "failed",
  transaction: (fn: (tx: Store) => Promise<T>) => Promise<T>,
  change: (tx: Store) => Promise<T>,
): Promise<T> {
  return handle === undefined ? transaction(change) : handle.finishWith(status, transaction, change);
}
