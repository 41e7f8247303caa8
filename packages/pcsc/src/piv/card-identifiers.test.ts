import { CardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { decodeAll } from "../tlv.js";
import { buildCcc, decodeCcc, encodeCcc, GSC_RID } from "./ccc.js";
import { buildChuid, decodeChuid, encodeChuid, randomGuid } from "./chuid.js";
import { decodeFascn, encodeFascn, NON_FEDERAL_FASCN } from "./fascn.js";

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
});

describe("CHUID (SP 800-73-4 Part 1 §3.1.2)", () => {
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
