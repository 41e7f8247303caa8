/**
 * The driver-independent half of the lease contract: argument checks and the errors every store
 * raises the same way.
 */

import { CardLeasedError, CardwrightError } from "../errors.js";
import type { CardLease } from "../ports/store.js";

/** Longest lease a store grants: a day. Operations renew; nothing should hold a card longer unrenewed. */
export const MAX_LEASE_TTL_MS = 86_400_000;

/**
 * `ttlMs`, checked.
 * @throws CardwrightError `STORE_FAILURE` unless it is an integer from 1 to {@link MAX_LEASE_TTL_MS}.
 */
export function requireLeaseTtl(ttlMs: number): number {
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_LEASE_TTL_MS) {
    throw new CardwrightError(
      "STORE_FAILURE",
      `lease duration must be a whole number of milliseconds from 1 to ${MAX_LEASE_TTL_MS}`,
      { details: { field: "ttlMs" } },
    );
  }
  return ttlMs;
}

/**
 * `owner`, checked.
 * @throws CardwrightError `STORE_FAILURE` unless it is a non-empty string of at most 200 characters.
 */
export function requireLeaseOwner(owner: string): string {
  if (typeof owner !== "string" || owner.length === 0 || owner.length > 200 || owner.includes("\u0000")) {
    throw new CardwrightError("STORE_FAILURE", "lease owner must be a non-empty name of at most 200 characters", {
      details: { field: "owner" },
    });
  }
  return owner;
}

/** The `CARD_LEASED` error for a current lease held by someone else. */
export function cardLeasedError(current: CardLease): CardLeasedError {
  return new CardLeasedError(current.cardId, current.owner, current.expiresAt);
}

/** The `LEASE_LOST` error: `lease` no longer holds the card. */
export function leaseLostError(lease: CardLease, current: CardLease | null): CardwrightError {
  return new CardwrightError(
    "LEASE_LOST",
    current === null
      ? `the lease of ${lease.owner} on card ${lease.cardId} is gone; stop working on the card`
      : `the lease of ${lease.owner} on card ${lease.cardId} expired and ${current.owner} took the card over; stop working on it`,
    {
      details: {
        cardId: lease.cardId,
        leaseOwner: lease.owner,
        ...(current === null ? {} : { currentOwner: current.owner, leaseExpiresAt: current.expiresAt }),
      },
    },
  );
}
