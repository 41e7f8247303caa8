import { CardwrightError } from "@cardwright/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concat, decodeAll, decodeMap, decodeOne, encodeLength, encodeTag, find, findRequired, tlv } from "./tlv.js";

/** Valid BER tag numbers of one to three bytes (ISO/IEC 7816-4 §5.2.2.1). */
const berTag = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).filter((b) => (b & 0x1f) !== 0x1f),
  fc
    .tuple(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0x7f }))
    .map(([a, b]) => (((a | 0x1f) << 8) | b) >>> 0),
  fc
    .tuple(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0, max: 0x7f }))
    .map(([a, b, c]) => (((a | 0x1f) << 16) | (b << 8) | c) >>> 0),
);
const element = fc.record({ tag: berTag, value: fc.uint8Array({ maxLength: 600 }) });

describe("BER-TLV", () => {
  it("round-trips any sequence of TLVs", () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 8 }), (elements) => {
        const encoded = concat(...elements.map((e) => tlv(e.tag, e.value)));
        const decoded = decodeAll(encoded);
        expect(decoded.map((d) => ({ tag: d.tag, value: Uint8Array.from(d.value) }))).toEqual(elements);
      }),
    );
  });

  it("encodes lengths in the shortest form", () => {
    expect([...encodeLength(0x7f)]).toEqual([0x7f]);
    expect([...encodeLength(0x80)]).toEqual([0x81, 0x80]);
    expect([...encodeLength(0x100)]).toEqual([0x82, 0x01, 0x00]);
    expect([...encodeLength(0x10000)]).toEqual([0x83, 0x01, 0x00, 0x00]);
    expect([...encodeTag(0x5fc105)]).toEqual([0x5f, 0xc1, 0x05]);
    expect([...tlv(0x7f49, Uint8Array.of(1))]).toEqual([0x7f, 0x49, 0x01, 0x01]);
  });

  it("never throws anything but a CardwrightError on garbage", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (garbage) => {
        try {
          decodeAll(garbage);
          find(garbage, 0x53);
        } catch (err) {
          expect(err).toBeInstanceOf(CardwrightError);
          expect((err as CardwrightError).code).toBe("APDU_MALFORMED_RESPONSE");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses truncation, indefinite length and long tags", () => {
    expect(() => decodeOne(Uint8Array.of(0x53, 0x05, 1, 2))).toThrow(/claims 5 bytes, 2 present/);
    expect(() => decodeOne(Uint8Array.of(0x53, 0x80))).toThrow(/indefinite/);
    expect(() => decodeOne(Uint8Array.of(0x5f, 0xc1, 0x85, 0x81, 0x01, 0x00))).toThrow(/three bytes/);
    expect(() => findRequired(Uint8Array.of(0x53, 0x00), 0x70, "certificate")).toThrow(/certificate: tag 70 missing/);
  });

  it("tlv() is tag, length and the concatenated value parts, for every tag and length form", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffff }),
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
        (tag, parts) => {
          const value = concat(...parts);
          const expected = concat(encodeTag(tag), encodeLength(value.length), value);
          expect([...tlv(tag, ...parts)]).toEqual([...expected]);
        },
      ),
      { numRuns: 500 },
    );
    const big = new Uint8Array(0x10000);
    expect([...tlv(0x53, big).subarray(0, 5)]).toEqual([0x53, 0x83, 0x01, 0x00, 0x00]);
  });

  it("tlv() refuses what encodeTag refuses", () => {
    for (const tag of [-1, 0x1000000, 1.5, Number.NaN]) {
      expect(() => tlv(tag, Uint8Array.of(1))).toThrow(RangeError);
      expect(() => encodeTag(tag)).toThrow(RangeError);
    }
  });

  it("find() answers like decodeMap(): the first occurrence, and only from a buffer that decodes whole", () => {
    fc.assert(
      fc.property(
        fc.array(element, { maxLength: 6 }),
        berTag,
        fc.uint8Array({ maxLength: 3 }),
        (elements, tag, tail) => {
          const encoded = concat(...elements.map((e) => tlv(e.tag, e.value)));
          expect(find(encoded, tag)).toEqual(decodeMap(encoded).get(tag));
          const withTail = concat(encoded, tail);
          let mapped: Uint8Array | undefined | Error;
          try {
            mapped = decodeMap(withTail).get(tag);
          } catch (err) {
            mapped = err as Error;
          }
          if (mapped instanceof Error) expect(() => find(withTail, tag)).toThrow(mapped.message);
          else expect(find(withTail, tag)).toEqual(mapped);
        },
      ),
      { numRuns: 500 },
    );
    // The match comes first, the garbage after it: still refused.
    expect(() => find(Uint8Array.of(0x70, 0x01, 0xaa, 0x53, 0x05, 1), 0x70)).toThrow(/claims 5 bytes/);
  });
});
