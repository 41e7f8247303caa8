import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { normalizeSerialHex, randomSerialNumber, SERIAL_OCTETS, serialToHex } from "./serial-number.js";

function scripted(...draws: number[][]) {
  return { bytes: (n: number) => Uint8Array.from(draws.shift() ?? [], (x) => x).slice(0, n) };
}

describe("serial numbers (RFC 5280 §4.1.2.2)", () => {
  it("clears the high bit so the INTEGER is positive with no sign octet", () => {
    const serial = randomSerialNumber(scripted(new Array(16).fill(0xff)));
    expect(serial.length).toBe(SERIAL_OCTETS);
    expect(serial[0]).toBe(0x7f);
  });

  it("draws again when the first octet would be zero (DER would shorten it)", () => {
    const first = [0x80, ...new Array(15).fill(1)];
    const second = [0x01, ...new Array(15).fill(2)];
    expect(serialToHex(randomSerialNumber(scripted(first, second)))).toBe(`01${"02".repeat(15)}`);
  });

  it("random serials are 16 octets, positive and distinct", () => {
    const random = { bytes: (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n)) };
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const serial = randomSerialNumber(random);
      expect(serial.length).toBe(16);
      expect(serial[0]).toBeGreaterThan(0);
      expect(serial[0]).toBeLessThan(0x80);
      seen.add(serialToHex(serial));
    }
    expect(seen.size).toBe(200);
  });

  it("normalises openssl-style and sign-padded hex", () => {
    expect(normalizeSerialHex("51:73:25:AB")).toBe("517325ab");
    expect(normalizeSerialHex("00ff01")).toBe("ff01");
    expect(normalizeSerialHex("0xABC")).toBe("0abc");
    try {
      normalizeSerialHex("zz");
      expect.unreachable();
    } catch (err) {
      expect(isCardwrightError(err, "CA_UNKNOWN_CERTIFICATE")).toBe(true);
    }
  });
});
