import { describe, expect, it } from "vitest";
import {
  authenticate,
  extendedApdu,
  freshCard,
  newCard,
  SELECT_PIV,
  send,
  swOf,
  verifyPin,
} from "../../test/apdu-helpers.js";

const APT = "61114F0600001000010079074F05A000000308";

describe("SELECT (SP 800-73-4 Part 2 §3.1.1)", () => {
  it("answers the YubiKey application property template for the full AID with version", async () => {
    const card = await newCard();
    expect(await send(card, "00A404000BA000000308000010000100")).toBe(`${APT}9000`);
  });

  it("accepts the AID without version suffix and the bare RID libykpiv sends", async () => {
    const card = await newCard();
    expect(await send(card, "00A4040009A00000030800001000")).toBe(`${APT}9000`);
    expect(await send(card, `${SELECT_PIV}00`)).toBe(`${APT}9000`);
  });

  it("answers 6A82 for an unknown AID and 6D00 to PIV commands before selection", async () => {
    const card = await newCard();
    expect(await send(card, "00A4040007A0000005272101")).toBe("6A82");
    expect(await send(card, "00FD0000")).toBe("6D00");
  });

  it("like a YubiKey, any SELECT (PIV again, or an unknown AID) resets the PIN status", async () => {
    const card = await newCard();
    expect(await send(card, SELECT_PIV)).toBe(`${APT}9000`);
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect(await send(card, SELECT_PIV)).toBe(`${APT}9000`);
    expect(await send(card, "00200080")).toBe("63C3");
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect(await send(card, "00A4040007A0000005272101")).toBe("6A82");
    expect(await send(card, "00200080")).toBe("63C3");
  });

  it("answers 6A86 for SELECT by file id and 6E00 for a proprietary class", async () => {
    const card = await newCard();
    expect(await send(card, "00A40000023F00")).toBe("6A86");
    expect(await send(card, "80A4040005A000000308")).toBe("6E00");
  });

  it("answers 6700 when Lc does not match the command length", async () => {
    const card = await newCard();
    expect(await send(card, "00A4040009A000000308")).toBe("6700");
  });
});

describe("GET DATA / PUT DATA (SP 800-73-4 Part 2 §3.1.2, §3.3.2)", () => {
  it("serves the pre-populated discovery object as a 7E template", async () => {
    const card = await freshCard();
    expect(await send(card, "00CB3FFF035C017E00")).toBe("7E124F0BA0000003080000100001005F2F0240009000");
  });

  it("answers 6A82 for an absent CHUID and 6A80 for a tag outside the PIV range", async () => {
    const card = await freshCard();
    expect(await send(card, "00CB3FFF055C035FC10200")).toBe("6A82");
    expect(await send(card, "00CB3FFF055C03010203")).toBe("6A80");
    expect(await send(card, "00CB3FFE055C035FC10200")).toBe("6A86");
  });

  it("refuses PUT DATA without management-key authentication (6982)", async () => {
    const card = await freshCard();
    expect(await send(card, "00DB3FFF095C035FC1025302AABB")).toBe("6982");
  });

  it("stores, reads back (53 wrapper) and deletes with an empty 53", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(await send(card, "00DB3FFF095C035FC1025302AABB")).toBe("9000");
    expect(await send(card, "00CB3FFF055C035FC10200")).toBe("5302AABB9000");
    expect(await send(card, "00DB3FFF075C035FC1025300")).toBe("9000");
    expect(await send(card, "00CB3FFF055C035FC10200")).toBe("6A82");
  });

  it("answers 6A80 to PUT DATA without the 53 wrapper", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(await send(card, "00DB3FFF095C035FC1027002AABB")).toBe("6A80");
  });

  it("needs the PIN to read the printed information object", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(await send(card, "00DB3FFF095C035FC1095302AABB")).toBe("9000");
    expect(await send(card, "00CB3FFF055C035FC10900")).toBe("6982");
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect(await send(card, "00CB3FFF055C035FC10900")).toBe("5302AABB9000");
  });

  it("refuses an object larger than 3063 bytes with 6A84 (card full)", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const body = (n: number) => {
      const value = new Uint8Array(n).fill(0x42);
      return Uint8Array.from([0x5c, 0x03, 0x5f, 0xc1, 0x05, 0x53, 0x82, n >> 8, n & 0xff, ...value]);
    };
    const put = (n: number) => {
      const data = body(n);
      return Uint8Array.from([0x00, 0xdb, 0x3f, 0xff, 0x00, data.length >> 8, data.length & 0xff, ...data]);
    };
    expect(swOf(await send(card, put(3063)))).toBe("9000");
    expect(swOf(await send(card, put(3064)))).toBe("6A84");
  });

  it("refuses writes beyond the total storage with 6A84, and accepts again after a delete", async () => {
    const card = await freshCard({ totalObjectBytes: 2000 });
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const fill = 2000 - card.storageUsed;
    const data = Uint8Array.from([
      0x5c,
      0x03,
      0x5f,
      0xc1,
      0x02,
      0x53,
      0x82,
      fill >> 8,
      fill & 0xff,
      ...new Uint8Array(fill),
    ]);
    expect(swOf(await send(card, extendedApdu(0xdb, 0x3f, 0xff, data)))).toBe("9000");
    expect(card.storageUsed).toBe(2000);
    expect(await send(card, "00DB3FFF085C035FC1075301AA")).toBe("6A84");
    expect(await send(card, "00DB3FFF075C035FC1025300")).toBe("9000");
    expect(await send(card, "00DB3FFF085C035FC1075301AA")).toBe("9000");
  });
});
