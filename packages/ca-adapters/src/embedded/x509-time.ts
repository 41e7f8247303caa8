/**
 * X.509 validity times (RFC 5280 §4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050,
 * both at one-second precision.
 */
import * as pkijs from "pkijs";

const UTC_TIME = 0;
const GENERALIZED_TIME = 1;

/** Drop milliseconds: both encodings carry whole seconds only (RFC 5280 §4.1.2.5.1–2). */
export function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** A pkijs `Time` with the encoding RFC 5280 §4.1.2.5 requires for `date`. */
export function x509Time(date: Date): pkijs.Time {
  const value = wholeSeconds(date);
  return new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? UTC_TIME : GENERALIZED_TIME, value });
}
