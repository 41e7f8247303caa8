/**
 * One in-flight call per key: a second caller with the same key while the first runs gets the
 * first's promise. The protocol adapters use it on our request id so two submits of the same
 * request at once reach the CA once (the port's idempotency); across processes the adapters'
 * ledgers carry that duty.
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>();

  /** Run `task` for `key` unless a call for `key` is already running; share its outcome. */
  run(key: string, task: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running !== undefined) return running;
    const started = task().finally(() => this.#running.delete(key));
    this.#running.set(key, started);
    return started;
  }
}
