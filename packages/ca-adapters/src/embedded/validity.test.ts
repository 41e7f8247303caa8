import { describe, expect, it } from "vitest";
import { NOT_BEFORE_BACKDATE_MS, validityWindow } from "./validity.js";
import { wholeSeconds, x509Time } from "./x509-time.js";

describe("validity (RFC 5280 §4.1.2.5)", () => {
  const now = new Date("2030-01-01T12:00:00.750Z");

  it("backdates notBefore and runs validityDays from now", () => {
    const { notBefore, notAfter } = validityWindow(now, 10);
    expect(now.getTime() - notBefore.getTime()).toBe(NOT_BEFORE_BACKDATE_MS);
    expect(notAfter.toISOString()).toBe("2030-01-11T12:00:00.750Z");
  });

  it("never outlives the issuer", () => {
    const cap = new Date("2030-01-05T00:00:00Z");
    expect(validityWindow(now, 10, cap).notAfter).toEqual(cap);
    expect(validityWindow(now, 1, cap).notAfter.toISOString()).toBe("2030-01-02T12:00:00.750Z");
  });

  it("uses UTCTime through 2049 and GeneralizedTime from 2050, in whole seconds", () => {
    expect(x509Time(new Date("2049-12-31T23:59:59Z")).type).toBe(0);
    expect(x509Time(new Date("2050-01-01T00:00:00Z")).type).toBe(1);
    expect(wholeSeconds(now).toISOString()).toBe("2030-01-01T12:00:00.000Z");
  });
});
