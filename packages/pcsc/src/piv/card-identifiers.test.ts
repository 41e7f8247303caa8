import { CardwrightError } from "@cardwright/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAll } from "../tlv.js";
import { buildCcc, decodeCcc, encodeCcc, GSC_RID } from "./ccc.js";
import { buildChuid, decodeChuid, encodeChuid, formatCardDate, randomGuid } from "./chuid.js";
import { decodeFascn, encodeFascn, type Fascn, NON_FEDERAL_FASCN } from "./fascn.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** A counting random source, so layouts are byte-exact. */
const counting = (n: number) => Uint8Array.from({ length: n }, (_, i) => i + 1);

describe("FASC-N (TIG SCEPACS §6)", () => {
  it("encodes the non-federal FASC-N the Yubico tools write", () => {
    expect(hex(encodeFascn(NON_FEDERAL_FASCN))).toBe("d4e739da739ced39ce739d836858210842108421c84210c3eb");
  });

  it("round-trips fields and detects a flipped bit", () => {
    const fascn = { ...NON_FEDERAL_FASCN, agencyCode: "1234", personIdentifier: "0123456789" };
    const bytes = encodeFascn(fascn);
    expect(decodeFascn(bytes)).toEqual(fascn);
    const flipped = Uint8Array.from(bytes);
    flipped[7] = (flipped[7] as number) ^ 0x04;
    expect(() => decodeFascn(flipped)).toThrow(CardwrightError);
  });

  it("refuses fields of the wrong width", () => {
    expect(() => encodeFascn({ ...NON_FEDERAL_FASCN, agencyCode: "12" })).toThrow(/4 decimal digits/);
  });

  it("refuses anything but ASCII decimal digits, in any field", () => {
    for (const bad of ["12a4", "１２３４", "12 4", "+123", "1.23", "123\n"]) {
      expect(() => encodeFascn({ ...NON_FEDERAL_FASCN, systemCode: bad })).toThrow(
        /systemCode must be 4 decimal digits/,
      );
    }
    expect(() => encodeFascn({ ...NON_FEDERAL_FASCN, association: "" })).toThrow(
      /association must be 1 decimal digits/,
    );
  });

  it("packs every FASC-N as TIG SCEPACS Figure 6-1 spells it out: 5-bit characters, LSB first, odd parity, LRC", () => {
    const widths: Array<[keyof Fascn, number]> = [
      ["agencyCode", 4],
      ["systemCode", 4],
      ["credentialNumber", 6],
      ["credentialSeries", 1],
      ["individualCredentialIssue", 1],
      ["personIdentifier", 10],
      ["organizationalCategory", 1],
      ["organizationalIdentifier", 4],
      ["association", 1],
    ];
    const fascnArb = fc.record(
      Object.fromEntries(
        widths.map(([key, width]) => [
          key,
          fc.array(fc.integer({ min: 0, max: 9 }), { minLength: width, maxLength: width }).map((d) => d.join("")),
        ]),
      ) as Record<keyof Fascn, fc.Arbitrary<string>>,
    );
    /** The characters as a bit string, written out the slow way. */
    const reference = (fascn: Fascn): string => {
      const chars = [0x0b];
      widths.forEach(([key, _], i) => {
        chars.push(...[...fascn[key]].map(Number));
        if (i < 5) chars.push(0x0d);
      });
      chars.push(0x0f);
      chars.push(chars.reduce((a, c) => a ^ c, 0));
      return chars
        .map((c) => {
          const data = [0, 1, 2, 3].map((b) => (c >> b) & 1);
          const parity = data.reduce((a, b) => a + b, 0) % 2 === 0 ? 1 : 0;
          return [...data, parity].join("");
        })
        .join("");
    };
    fc.assert(
      fc.property(fascnArb, (fascn) => {
        const bytes = encodeFascn(fascn);
        const bits = [...bytes].map((b) => b.toString(2).padStart(8, "0")).join("");
        expect(bits).toBe(reference(fascn));
        expect(decodeFascn(bytes)).toEqual(fascn);
      }),
      { numRuns: 300 },
    );
  });
});

describe("CHUID (SP 800-73-4 Part 1 §3.1.2)", () => {
  it("writes dates as the UTC YYYYMMDD of their ISO 8601 form", () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date(Date.UTC(-300, 0, 1)), max: new Date(Date.UTC(12000, 0, 1)), noInvalidDate: true }),
        (date) => {
          expect(formatCardDate(date)).toBe(date.toISOString().slice(0, 10).replaceAll("-", ""));
        },
      ),
      { numRuns: 1000 },
    );
    expect(formatCardDate(new Date("0042-03-04T23:59:59.999Z"))).toBe("00420304");
    expect(formatCardDate(new Date("2036-12-31T00:00:00+05:00"))).toBe("20361230");
    expect(() => formatCardDate(new Date(Number.NaN))).toThrow(RangeError);
  });

  it("has FASC-N, GUID, expiration, empty signature and EDC in order", () => {
    const chuid = buildChuid({ random: counting, now: new Date("2026-11-23T10:00:00Z") });
    const encoded = encodeChuid(chuid);
    expect(decodeAll(encoded).map((t) => [t.tag, t.value.length])).toEqual([
      [0x30, 25],
      [0x34, 16],
      [0x35, 8],
      [0x3e, 0],
      [0xfe, 0],
    ]);
    expect(hex(encoded)).toBe(
      "3019d4e739da739ced39ce739d836858210842108421c84210c3eb" +
        "3410" +
        "0102030405064708890a0b0c0d0e0f10" +
        "3508" +
        Buffer.from("20361123").toString("hex") +
        "3e00fe00",
    );
  });

  it("gives every CHUID a fresh RFC 4122 v4 GUID", () => {
    const a = buildChuid();
    const b = buildChuid();
    expect(hex(a.guid)).not.toBe(hex(b.guid));
    expect((a.guid[6] as number) >> 4).toBe(4);
    expect((a.guid[8] as number) & 0xc0).toBe(0x80);
    expect(randomGuid().length).toBe(16);
  });

  it("decodes what it encodes, including optional elements", () => {
    const chuid = { ...buildChuid(), duns: Uint8Array.of(1, 2, 3), cardholderUuid: new Uint8Array(16).fill(9) };
    expect(decodeChuid(encodeChuid(chuid))).toEqual(chuid);
  });

  it("refuses a CHUID without GUID", () => {
    expect(() => decodeChuid(Uint8Array.of(0x30, 0x00, 0x35, 0x00))).toThrow(/FASC-N, GUID or expiration/);
  });
});

describe("CCC (SP 800-73-4 Part 1 §3.1.1)", () => {
  it("lays out the card identifier and the empty elements as yubico-piv-tool does", () => {
    const ccc = buildCcc(counting);
    expect(hex(ccc.cardIdentifier.subarray(0, 7))).toBe(`${hex(GSC_RID)}ff02`);
    expect(hex(encodeCcc(ccc))).toBe(
      "f015a000000116ff02" +
        "0102030405060708090a0b0c0d0e" +
        "f10121f20121f300f40100f50110f600f700fa00fb00fc00fd00fe00",
    );
  });

  it("round-trips and differs per card", () => {
    const a = buildCcc();
    expect(decodeCcc(encodeCcc(a))).toEqual(a);
    expect(hex(buildCcc().cardIdentifier)).not.toBe(hex(a.cardIdentifier));
  });
});
