import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { PinPolicy } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import type { Random } from "../ports/runtime.js";
import { cryptoRandom } from "../runtime/crypto-random.js";
import { generatePin, generatePuk, PIN_CLASSES, uniformInt, validatePin } from "./pin-policy.js";

const digits: PinPolicy = { minLength: 6, maxLength: 8, allowed: ["digits"], random: true };
const complex: PinPolicy = {
  minLength: 8,
  maxLength: 12,
  allowed: ["digits", "lower", "upper", "special"],
  required: ["digits", "upper", "special"],
  random: true,
};

function ruleOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(CardwrightError);
    const e = err as CardwrightError;
    expect(e.code).toBe("POLICY_RULE");
    return String(e.details.rule);
  }
}

describe("validatePin", () => {
  it("names the rule violated and never echoes the PIN", () => {
    expect(ruleOf(() => validatePin("12345", digits))).toBe("length");
    expect(ruleOf(() => validatePin("123456789", digits))).toBe("length");
    expect(ruleOf(() => validatePin("12345a", digits))).toBe("allowed");
    expect(ruleOf(() => validatePin("abcdefgh", complex))).toBe("required");
    expect(ruleOf(() => validatePin("123456", digits))).toBeUndefined();
    expect(ruleOf(() => validatePin("Abcdef1!", complex))).toBeUndefined();
    try {
      validatePin("98765x", digits);
    } catch (err) {
      expect(JSON.stringify(err) + String(err)).not.toContain("98765x");
    }
  });
});

describe("generatePin", () => {
  it("meets the policy: length and required classes, from the allowed alphabet", () => {
    for (let i = 0; i < 500; i++) {
      const pin = generatePin(complex, cryptoRandom);
      expect(pin).toHaveLength(8);
      expect(() => validatePin(pin, complex)).not.toThrow();
    }
    expect(generatePin({ ...digits, randomLength: 8 }, cryptoRandom)).toMatch(/^\d{8}$/);
  });

  it("draws digits without bias (chi-square over 20 000 digits, generous bound)", () => {
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 2500; i++)
      for (const ch of generatePin({ ...digits, randomLength: 8 }, cryptoRandom)) counts[Number(ch)]++;
    const expected = 20_000 / 10;
    const chi2 = counts.reduce((acc: number, c: number) => acc + (c - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: p(chi2 > 60) < 1e-9, while a 10% bias on one digit gives ≈ 22 more.
    expect(chi2).toBeLessThan(60);
  });

  it("rejection-samples so a skewed byte source cannot bias the result", () => {
    // Bytes that would favour low values under `byte % 10`; uniformInt must reject the tail words.
    let calls = 0;
    const skewed: Random = {
      bytes: (n) => {
        calls++;
        return calls === 1 ? new Uint8Array(n).fill(0xff) : new Uint8Array(randomBytes(n));
      },
      uuid: () => "x",
    };
    uniformInt(10, skewed);
    expect(calls).toBe(2); // 0xffffffff is above the largest multiple of 10 below 2^32: rejected
  });

  it("refuses a policy it cannot satisfy", () => {
    expect(() => generatePin({ ...digits, randomLength: 9 }, cryptoRandom)).toThrow(/cannot be satisfied/);
  });
});

describe("generatePuk", () => {
  it("is 8 digits for PIV", () => {
    const puk = generatePuk(cryptoRandom);
    expect(puk).toMatch(/^\d{8}$/);
    expect(PIN_CLASSES.digits).toContain(puk[0]);
  });
});
