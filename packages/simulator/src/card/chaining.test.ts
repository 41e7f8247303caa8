import { describe, expect, it } from "vitest";
import {
  authenticate,
  dataOf,
  extendedApdu,
  freshCard,
  hex,
  newCard,
  SELECT_PIV,
  send,
  swOf,
  toHex,
} from "../../test/apdu-helpers.js";
import type { VirtualPivCard } from "./virtual-piv-card.js";

/** A selected card with the management key authenticated (AES-192). */
async function authenticatedCard(): Promise<VirtualPivCard> {
  const card = await freshCard();
  expect(await authenticate(card, 0x0a)).toBe("9000");
  return card;
}

const VALUE = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
const PUT_BODY = Uint8Array.from([0x5c, 0x03, 0x5f, 0xc1, 0x05, 0x53, 0x82, 0x02, 0x58, ...VALUE]);
const STORED = Uint8Array.from([0x53, 0x82, 0x02, 0x58, ...VALUE]);

/** PUT DATA split into CLA 10 pieces of at most 255 bytes (ISO/IEC 7816-4 §5.1.1.1). */
async function chainedPut(card: VirtualPivCard): Promise<string[]> {
  const sws: string[] = [];
  for (let off = 0; off < PUT_BODY.length; off += 255) {
    const piece = PUT_BODY.subarray(off, off + 255);
    const last = off + 255 >= PUT_BODY.length;
    sws.push(swOf(await send(card, Uint8Array.from([last ? 0x00 : 0x10, 0xdb, 0x3f, 0xff, piece.length, ...piece]))));
  }
  return sws;
}

describe("command chaining (CLA 10)", () => {
  it("reassembles a PUT DATA sent in three pieces", async () => {
    const card = await authenticatedCard();
    expect(await chainedPut(card)).toEqual(["9000", "9000", "9000"]);
    const rsp = await send(card, extendedApdu(0xcb, 0x3f, 0xff, hex("5C035FC105"), 0));
    expect(rsp).toBe(`${toHex(STORED)}9000`);
  });

  it("answers 6883 when another command interrupts the chain, and drops it", async () => {
    const card = await authenticatedCard();
    const piece = PUT_BODY.subarray(0, 255);
    expect(swOf(await send(card, Uint8Array.from([0x10, 0xdb, 0x3f, 0xff, 255, ...piece])))).toBe("9000");
    expect(await send(card, "00FD0000")).toBe("6883");
    expect(await send(card, "00FD0000")).toBe("0507019000");
  });
});

describe("response chaining (61xx / GET RESPONSE)", () => {
  it("splits a 604-byte response into 256 + 256 + 92 with 6100, 615C, 9000", async () => {
    const card = await authenticatedCard();
    await chainedPut(card);
    const first = await send(card, "00CB3FFF055C035FC10500");
    expect(first.length).toBe((256 + 2) * 2);
    expect(swOf(first)).toBe("6100");
    const second = await send(card, "00C0000000");
    expect(swOf(second)).toBe("615C");
    const third = await send(card, "00C000005C");
    expect(swOf(third)).toBe("9000");
    const all = Uint8Array.from([...dataOf(first), ...dataOf(second), ...dataOf(third)]);
    expect(toHex(all)).toBe(toHex(STORED));
  });

  it("honours a short Le below 256", async () => {
    const card = await authenticatedCard();
    await chainedPut(card);
    const first = await send(card, "00CB3FFF055C035FC10510");
    expect(first.length).toBe((16 + 2) * 2);
    expect(swOf(first)).toBe("6100");
  });

  it("answers 6985 to GET RESPONSE with nothing pending, or after another command", async () => {
    const card = await authenticatedCard();
    expect(await send(card, "00C0000000")).toBe("6985");
    await chainedPut(card);
    expect(swOf(await send(card, "00CB3FFF055C035FC10500"))).toBe("6100");
    await send(card, "00FD0000");
    expect(await send(card, "00C0000000")).toBe("6985");
  });
});

describe("extended length (ISO/IEC 7816-4 §5.1)", () => {
  it("accepts a 609-byte PUT DATA in one APDU and answers 604 bytes at once", async () => {
    const card = await authenticatedCard();
    expect(swOf(await send(card, extendedApdu(0xdb, 0x3f, 0xff, PUT_BODY)))).toBe("9000");
    expect(await send(card, extendedApdu(0xcb, 0x3f, 0xff, hex("5C035FC105"), 0))).toBe(`${toHex(STORED)}9000`);
  });

  it("answers 6700 to extended APDUs when the card is configured without them", async () => {
    const card = await newCard({ extendedLength: false });
    expect(swOf(await send(card, SELECT_PIV))).toBe("9000");
    expect(await send(card, extendedApdu(0xcb, 0x3f, 0xff, hex("5C017E"), 0))).toBe("6700");
  });

  it("answers 6700 to a malformed extended length", async () => {
    const card = await authenticatedCard();
    expect(await send(card, "00CB3FFF0000055C03")).toBe("6700");
  });
});
