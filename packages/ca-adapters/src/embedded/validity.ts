/**
 * Validity periods (RFC 5280 §4.1.2.5). notBefore is backdated a little so a relying party
 * whose clock runs slightly behind ours does not see a not-yet-valid certificate; notAfter
 * never outlives the issuing CA (a certificate past its issuer's notAfter cannot validate).
 */

/** How far notBefore is backdated. */
export const NOT_BEFORE_BACKDATE_MS = 5 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

/** A validity window. */
export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** The window for a certificate issued at `now` for `validityDays`, capped at `issuerNotAfter`. */
export function validityWindow(now: Date, validityDays: number, issuerNotAfter?: Date): Validity {
  const notBefore = new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS);
  const wanted = now.getTime() + validityDays * DAY_MS;
  const notAfter = new Date(issuerNotAfter === undefined ? wanted : Math.min(wanted, issuerNotAfter.getTime()));
  return { notBefore, notAfter };
}
