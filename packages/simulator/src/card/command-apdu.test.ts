import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hex } from "../../test/apdu-helpers.js";
import { parseCommandApdu } from "./command-apdu.js";
import { CardStatus } from "./status.js";

function swOfThrown(bytes: Uint8Array): number | undefined {
  try {
    parseCommandApdu(bytes);
    return undefined;
  } catch (err) {
    return err instanceof CardStatus ? err.sw : -1;
  }
}

describe("parseCommandApdu (ISO/IEC 7816-4 §5.1)", () => {
  it("case 1: header only", () => {
    expect(parseCommandApdu(hex("00FD0000"))).toMatchObject({
      ins: 0xfd,
      ne: 0,
      extended: false,
      data: new Uint8Array(),
    });
  });

  it("case 2 short: Le 00 means 256", () => {
    expect(parseCommandApdu(hex("00C0000000")).ne).toBe(256);
    expect(parseCommandApdu(hex("00C0000010")).ne).toBe(16);
  });

  it("case 3 and 4 short", () => {
    const c3 = parseCommandApdu(hex("00DB3FFF02AABB"));
    expect([...c3.data]).toEqual([0xaa, 0xbb]);
    expect(c3.ne).toBe(0);
    const c4 = parseCommandApdu(hex("00CB3FFF02AABB00"));
    expect(c4.ne).toBe(256);
  });

  it("case 2 extended: Le 0000 means 65536", () => {
    expect(parseCommandApdu(hex("00CB3FFF000000"))).toMatchObject({ ne: 65536, extended: true });
  });

  it("case 3 and 4 extended", () => {
    expect(parseCommandApdu(hex("00DB3FFF000002AABB"))).toMatchObject({ ne: 0, extended: true });
    expect(parseCommandApdu(hex("00DB3FFF000002AABB0100"))).toMatchObject({ ne: 256, extended: true });
  });

  it("answers 6700 for inconsistent lengths", () => {
    expect(swOfThrown(hex("00DB3F"))).toBe(0x6700);
    expect(swOfThrown(hex("00DB3FFF03AABB"))).toBe(0x6700);
    expect(swOfThrown(hex("00DB3FFF0000"))).toBe(0x6700);
    expect(swOfThrown(hex("00DB3FFF000000AA"))).toBe(0x6700);
    expect(swOfThrown(hex("00DB3FFF000003AABB"))).toBe(0x6700);
  });

  it("property: every well-formed short and extended APDU parses back to its parts", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.option(fc.integer({ min: 1, max: 65536 }), { nil: undefined }),
        fc.boolean(),
        (data, ne, preferShort) => {
          const short = preferShort && data.length <= 255 && (ne === undefined || ne <= 256);
          const parts: number[] = [0x00, 0xcb, 0x3f, 0xff];
          if (short) {
            if (data.length > 0) parts.push(data.length, ...data);
            if (ne !== undefined) parts.push(ne === 256 ? 0 : ne);
          } else {
            if (data.length > 0) parts.push(0, data.length >> 8, data.length & 0xff, ...data);
            if (ne !== undefined) {
              if (data.length === 0) parts.push(0);
              parts.push((ne >> 8) & 0xff, ne & 0xff);
            }
          }
          const cmd = parseCommandApdu(Uint8Array.from(parts));
          expect([...cmd.data]).toEqual([...data]);
          expect(cmd.ne).toBe(ne ?? 0);
          if (data.length > 0 || ne !== undefined) expect(cmd.extended).toBe(!short);
        },
      ),
    );
  });
});
