import { CardwrightError } from "@cardwright/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CommandApdu, decodeResponse, encodeCommand, requiredForm } from "./command.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();
const bytes = (n: number, fill = 0xaa) => new Uint8Array(n).fill(fill);

describe("encodeCommand — ISO/IEC 7816-4 §5.1 cases", () => {
  const header = { cla: 0x00, ins: 0xcb, p1: 0x3f, p2: 0xff };

  it("case 1: header only", () => {
    expect(hex(encodeCommand(header))).toBe("00CB3FFF");
  });

  it("case 2S: Le absent vs 1 vs 256 (encoded 00)", () => {
    expect(hex(encodeCommand({ ...header, ne: 1 }))).toBe("00CB3FFF01");
    expect(hex(encodeCommand({ ...header, ne: 255 }))).toBe("00CB3FFFFF");
    expect(hex(encodeCommand({ ...header, ne: 256 }))).toBe("00CB3FFF00");
  });

  it("case 3S and 4S", () => {
    const data = Uint8Array.of(0x5c, 0x03, 0x5f, 0xc1, 0x02);
    expect(hex(encodeCommand({ ...header, data }))).toBe("00CB3FFF055C035FC102");
    expect(hex(encodeCommand({ ...header, data, ne: 256 }))).toBe("00CB3FFF055C035FC10200");
  });

  it("case 2E: Le of 65536 is 00 00 00, 257 is 00 01 01", () => {
    expect(hex(encodeCommand({ ...header, ne: 65536 }))).toBe("00CB3FFF000000");
    expect(hex(encodeCommand({ ...header, ne: 257 }))).toBe("00CB3FFF000101");
  });

  it("case 3E and 4E: Lc is 00 hi lo, Le follows as hi lo", () => {
    const apdu: CommandApdu = { ...header, data: bytes(300) };
    const e3 = encodeCommand(apdu);
    expect(hex(e3.subarray(0, 7))).toBe("00CB3FFF00012C");
    expect(e3.length).toBe(7 + 300);
    const e4 = encodeCommand({ ...apdu, ne: 65536 });
    expect(hex(e4.subarray(0, 7))).toBe("00CB3FFF00012C");
    expect(hex(e4.subarray(307))).toBe("0000");
    expect(e4.length).toBe(309);
  });

  it("forces the extended form when asked, even for short data", () => {
    expect(hex(encodeCommand({ ...header, data: Uint8Array.of(1, 2), ne: 256 }, "extended"))).toBe(
      "00CB3FFF0000020102" + "0100",
    );
  });

  it("picks the form from the sizes", () => {
    expect(requiredForm({ ...header, data: bytes(255), ne: 256 })).toBe("short");
    expect(requiredForm({ ...header, data: bytes(256) })).toBe("extended");
    expect(requiredForm({ ...header, ne: 257 })).toBe("extended");
  });

  it("refuses what the form cannot carry, with a typed error", () => {
    expect(() => encodeCommand({ ...header, data: bytes(256) }, "short")).toThrow(CardwrightError);
    expect(() => encodeCommand({ ...header, ne: 257 }, "short")).toThrow(/does not fit a short APDU/);
    expect(() => encodeCommand({ ...header, ne: 65537 }, "extended")).toThrow(/extended/);
    expect(() => encodeCommand({ ...header, ne: 0 })).toThrow(/positive/);
    expect(() => encodeCommand({ ...header, p1: 256 })).toThrow(/P1/);
    try {
      encodeCommand({ ...header, data: bytes(65536) }, "extended");
      expect.unreachable();
    } catch (err) {
      expect((err as CardwrightError).code).toBe("APDU_INVALID_COMMAND");
    }
  });
});

describe("decodeResponse", () => {
  it("splits data and status word", () => {
    expect(decodeResponse(Uint8Array.of(1, 2, 0x90, 0x00))).toEqual({ data: Uint8Array.of(1, 2), sw: 0x9000 });
    expect(decodeResponse(Uint8Array.of(0x63, 0xc2))).toEqual({ data: new Uint8Array(0), sw: 0x63c2 });
    expect(decodeResponse(Uint8Array.of(0x90))).toBeUndefined();
  });
});

/**
 * ISO/IEC 7816-4 §5.1 written out case by case, byte by byte: the reference the single-buffer
 * encoder must match for every command it accepts.
 */
function referenceEncoding(apdu: CommandApdu, form: "short" | "extended"): number[] {
  const data = [...(apdu.data ?? [])];
  const out = [apdu.cla, apdu.ins, apdu.p1, apdu.p2];
  if (form === "short") {
    if (data.length > 0) out.push(data.length, ...data);
    if (apdu.ne !== undefined) out.push(apdu.ne === 256 ? 0 : apdu.ne);
    return out;
  }
  if (data.length > 0) out.push(0, data.length >> 8, data.length & 0xff, ...data);
  if (apdu.ne !== undefined) {
    const le = apdu.ne === 65536 ? 0 : apdu.ne;
    if (data.length === 0) out.push(0);
    out.push(le >> 8, le & 0xff);
  }
  return out;
}

describe("encodeCommand matches the case-by-case encoding of ISO/IEC 7816-4 §5.1", () => {
  const byte = fc.integer({ min: 0, max: 0xff });
  const command = (maxData: number, maxNe: number) =>
    fc.record(
      {
        cla: byte,
        ins: byte,
        p1: byte,
        p2: byte,
        data: fc.uint8Array({ maxLength: maxData }),
        ne: fc.integer({ min: 1, max: maxNe }),
      },
      { requiredKeys: ["cla", "ins", "p1", "p2"] },
    );

  it("short form, every case", () => {
    fc.assert(
      fc.property(command(255, 256), (apdu) => {
        expect([...encodeCommand(apdu, "short")]).toEqual(referenceEncoding(apdu, "short"));
      }),
      { numRuns: 500 },
    );
  });

  it("extended form, every case", () => {
    fc.assert(
      fc.property(command(700, 65536), (apdu) => {
        expect([...encodeCommand(apdu, "extended")]).toEqual(referenceEncoding(apdu, "extended"));
        expect([...encodeCommand(apdu)]).toEqual(referenceEncoding(apdu, requiredForm(apdu)));
      }),
      { numRuns: 500 },
    );
  });
});
