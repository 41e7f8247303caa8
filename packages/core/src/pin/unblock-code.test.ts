import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCardwrightError } from "../errors.js";
import { CROCKFORD_ALPHABET, codeCheckValue, decodeCode, encodeCode } from "./unblock-code.js";

function problemOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isCardwrightError(err, "OFFLINE_CODE_INVALID")) return String(err.details.problem);
    throw err;
  }
  return undefined;
}

const payloads = fc.integer({ min: 1, max: 18 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));

describe("unblock codes (Crockford base32 with a GF(32) check character)", () => {
  it("round-trips any payload, in groups of four from the code alphabet", () => {
    fc.assert(
      fc.property(payloads, (payload) => {
        const code = encodeCode(payload);
        expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{1,4}(-[0-9A-HJKMNP-TV-Z]{1,4})*$/);
        expect(decodeCode(code, payload.length, "challenge")).toEqual(payload);
        // As a person may type it: lower case, spaces instead of hyphens.
        expect(decodeCode(code.toLowerCase().replaceAll("-", " "), payload.length, "challenge")).toEqual(payload);
      }),
    );
  });

  it("catches every single-character substitution", () => {
    fc.assert(
      fc.property(payloads, fc.nat(), fc.integer({ min: 1, max: 31 }), (payload, at, shift) => {
        const chars = encodeCode(payload).replaceAll("-", "").split("");
        const i = at % chars.length;
        chars[i] = CROCKFORD_ALPHABET[(CROCKFORD_ALPHABET.indexOf(chars[i]!) + shift) % 32]!;
        expect(problemOf(() => decodeCode(chars.join(""), payload.length, "response"))).toMatch(/check|format/);
      }),
    );
  });

  it("catches every swap of two different adjacent characters", () => {
    fc.assert(
      fc.property(payloads, fc.nat(), (payload, at) => {
        const chars = encodeCode(payload).replaceAll("-", "").split("");
        const i = at % (chars.length - 1);
        fc.pre(chars[i] !== chars[i + 1]);
        [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
        expect(problemOf(() => decodeCode(chars.join(""), payload.length, "response"))).toMatch(/check|format/);
      }),
    );
  });

  it("reads I and L as 1 and O as 0, and refuses characters outside the alphabet", () => {
    const payload = Uint8Array.from([0x08, 0x42, 0x10, 0x84, 0x21]); // 00001 00001 ... : all "1"s
    const code = encodeCode(payload);
    expect(code.replaceAll("-", "").slice(0, 8)).toBe("11111111");
    expect(decodeCode(code.replaceAll("1", "I"), 5, "challenge")).toEqual(payload);
    expect(decodeCode(code.replaceAll("1", "l"), 5, "challenge")).toEqual(payload);
    expect(problemOf(() => decodeCode(`${code}U`, 5, "challenge"))).toBe("format");
  });

  it("refuses a code of the wrong length (a response typed where a challenge belongs)", () => {
    const code = encodeCode(new Uint8Array(16));
    expect(problemOf(() => decodeCode(code, 10, "challenge"))).toBe("length");
  });

  it("weights values by powers of α in GF(32), modulo x⁵ + x² + 1", () => {
    expect(codeCheckValue([1])).toBe(2); // α
    expect(codeCheckValue([1, 0])).toBe(4); // α²
    expect(codeCheckValue([1, 0, 0, 0, 0])).toBe(0b00101); // α⁵ = α² + 1
    expect(codeCheckValue([1, 1])).toBe(6); // α² + α
    expect(() => codeCheckValue(new Array(31).fill(0))).toThrow(RangeError);
  });

  it("catches a swap of 0 and Z, which Luhn mod 32 would miss", () => {
    const chars = encodeCode(Uint8Array.from([0x07, 0xc0]))
      .replaceAll("-", "")
      .split(""); // "0Z00" + check
    expect(chars.slice(0, 2).join("")).toBe("0Z");
    [chars[0], chars[1]] = [chars[1]!, chars[0]!];
    expect(problemOf(() => decodeCode(chars.join(""), 2, "response"))).toMatch(/check|format/);
  });
});
