/**
 * Holds a card lease for the length of one operation run: acquires it, renews it in the
 * background (every third of its duration), fences each persisted step (renewing when the last
 * confirmation is older than a third of the duration), and releases it at the end. A holder that stops renewing — its process crashed — loses the card when the
 * lease expires, and another process may take the operation over from its last persisted snapshot.
 */
import { type CardwrightError, isCardwrightError } from "../errors.js";
import type { Logger } from "../ports/runtime.js";
import type { CardLease, Store } from "../ports/store.js";

/** Keeps one card lease alive; see the module comment. */
export class CardLeaseKeeper {
  #lease: CardLease;
  #lost: CardwrightError | undefined;
  #chain: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** `performance.now()` when the store last confirmed the lease (acquire or renew answered). */
  #confirmedAt = performance.now();

  private constructor(
    private readonly store: Store,
    lease: CardLease,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.#lease = lease;
    this.#timer = setInterval(
      () => {
        this.renew().catch(() => undefined);
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    // A background renewal must never keep a process alive on its own.
    this.#timer.unref?.();
  }

  /**
   * Takes the card for `owner`.
   * @throws CardLeasedError `CARD_LEASED` when someone else's lease is current.
   */
  static async acquire(store: Store, cardId: string, owner: string, ttlMs: number, logger: Logger) {
    return new CardLeaseKeeper(store, await store.leases.acquire(cardId, owner, ttlMs), ttlMs, logger);
  }

  /** The lease as last renewed. */
  get lease(): CardLease {
    return this.#lease;
  }

  /**
   * Renews now (calls queue behind each other, never overlap). Run before persisting a step: a
   * holder that lost the card must not record progress over its successor's.
   * @throws CardwrightError `LEASE_LOST` once the card was taken over or released; a store error
   * as is (the background renewal retries those on its next tick).
   */
  renew(): Promise<void> {
    const next = this.#chain.then(async () => {
      if (this.#lost !== undefined) throw this.#lost;
      try {
        this.#lease = await this.store.leases.renew(this.#lease, this.ttlMs);
        this.#confirmedAt = performance.now();
      } catch (err) {
        if (isCardwrightError(err, "LEASE_LOST")) {
          this.#lost = err;
          this.#stopTimer();
        }
        this.logger.log("warn", "card lease renewal failed", {
          cardId: this.#lease.cardId,
          code: isCardwrightError(err) ? err.code : "unknown",
        });
        throw err;
      }
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /**
   * What a step runs before persisting its progress: proof that this holder still owns the card.
   * A lease the store confirmed less than a third of its duration ago is proof enough — it cannot
   * have expired (the store renewed it to a full duration before answering, and only expiry or
   * this holder's own release ends a lease), so no store round trip is made; an older one is
   * renewed now, as {@link renew}.
   * @throws as {@link renew}.
   */
  fence(): Promise<void> {
    if (this.#lost !== undefined) return Promise.reject(this.#lost);
    if (performance.now() - this.#confirmedAt < this.ttlMs / 3) return Promise.resolve();
    return this.renew();
  }

  /** Stops renewing and gives the card up (harmless when the lease was already lost). */
  async release(): Promise<void> {
    this.#stopTimer();
    await this.#chain;
    if (this.#lost !== undefined) return;
    try {
      await this.store.leases.release(this.#lease);
    } catch (err) {
      // The lease expires on its own; the next holder waits at most its remaining duration.
      this.logger.log("warn", "card lease release failed; it will expire", {
        cardId: this.#lease.cardId,
        code: isCardwrightError(err) ? err.code : "unknown",
      });
    }
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
