import { CardwrightError } from "@cardwright/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concat, tlv } from "../tlv.js";
import { decodeCcc } from "./ccc.js";
import { decodeCertificateObject } from "./certificate-object.js";
import { decodeChuid } from "./chuid.js";
import { instructionName } from "./constants.js";
import { parseDiscovery } from "./discovery.js";
import { decodeFascn } from "./fascn.js";
import { parseMetadata } from "./metadata.js";

const parsers: Record<string, (bytes: Uint8Array) => unknown> = {
  decodeCcc,
  decodeCertificateObject,
  decodeChuid,
  parseDiscovery,
  decodeFascn,
  parseMetadata,
};

/** Bytes that are mostly well-formed TLV with random tags and values, to get past the first check. */
const tlvish = fc
  .array(
    fc.record({
      tag: fc.constantFrom(
        0x01,
        0x02,
        0x03,
        0x04,
        0x05,
        0x06,
        0x30,
        0x34,
        0x35,
        0x4f,
        0x70,
        0x71,
        0xf0,
        0xf1,
        0xf2,
        0x5f2f,
      ),
      value: fc.uint8Array({ maxLength: 40 }),
    }),
    {
      maxLength: 6,
    },
  )
  .map((elements) => concat(...elements.map((e) => tlv(e.tag, e.value))));

describe("parsers of card answers", () => {
  for (const [name, parse] of Object.entries(parsers)) {
    it(`${name} throws only CardwrightError on garbage`, () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), tlvish), (bytes) => {
          try {
            parse(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(CardwrightError);
          }
        }),
        { numRuns: 500 },
      );
    });
  }
});

describe("instruction names", () => {
  it("names the known instructions and spells out any other value", () => {
    expect(instructionName(0x20)).toBe("VERIFY");
    expect(instructionName(0xc0)).toBe("GET RESPONSE");
    expect(instructionName(0xf7)).toBe("GET METADATA");
    expect(instructionName(0x05)).toBe("INS 0x05");
    expect(instructionName(0xee)).toBe("INS 0xEE");
    expect(instructionName(0x1a2)).toBe("INS 0x1A2");
    expect(instructionName(-1)).toBe("INS 0x-1");
  });
});
