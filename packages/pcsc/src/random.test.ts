import { describe, expect, it } from "vitest";
import { secureRandomBytes } from "./random.js";

describe("secureRandomBytes", () => {
  it("hands out fresh arrays of the requested length, small and large", () => {
    for (const n of [0, 1, 6, 16, 24, 256, 257, 5000]) {
      const bytes = secureRandomBytes(n);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(bytes.length).toBe(n);
      expect(bytes.byteLength).toBe(bytes.buffer.byteLength);
    }
  });

  it("never hands out the same bytes twice, across pool refills", () => {
    const seen = new Set<string>();
    // 16-byte draws, well past several 4 KiB blocks: a repeat would mean reused pool bytes.
    for (let i = 0; i < 2000; i++) {
      const hex = Buffer.from(secureRandomBytes(16)).toString("hex");
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
  });

  it("looks uniform: every byte value turns up, none far more often than the others", () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4000; i++) for (const b of secureRandomBytes(16)) counts[b] = (counts[b] as number) + 1;
    // 64,000 bytes: 250 expected per value; a CSPRNG stays within ±40% with overwhelming probability.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(350);
  });

  it("refuses a length that is not a byte count", () => {
    for (const n of [-1, 1.5, Number.NaN]) expect(() => secureRandomBytes(n)).toThrow(RangeError);
  });
});
