import { describe, expect, it } from "vitest";
import { apdu, freshCard, pad, send, swOf, verifyPin } from "../../test/apdu-helpers.js";

const change = (ref: number, current: string, next: string) =>
  apdu(0, 0x24, 0, ref, Uint8Array.from([...pad(current), ...pad(next)]));
const unblock = (puk: string, pin: string) => apdu(0, 0x2c, 0, 0x80, Uint8Array.from([...pad(puk), ...pad(pin)]));

describe("VERIFY (SP 800-73-4 Part 2 §3.2.1)", () => {
  it("byte-exact: default PIN verifies", async () => {
    const card = await freshCard();
    expect(await send(card, "0020008008313233343536FFFF")).toBe("9000");
  });

  it("without data reports 63C3 before and 9000 after verification", async () => {
    const card = await freshCard();
    expect(await send(card, "00200080")).toBe("63C3");
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect(await send(card, "00200080")).toBe("9000");
  });

  it("counts wrong PINs down 63C2, 63C1, 63C0 then answers 6983 even to the right PIN", async () => {
    const card = await freshCard();
    expect(await verifyPin(card, "000000")).toBe("63C2");
    expect(await verifyPin(card, "000000")).toBe("63C1");
    expect(await verifyPin(card, "000000")).toBe("63C0");
    expect(await verifyPin(card, "123456")).toBe("6983");
    expect(await send(card, "00200080")).toBe("6983");
  });

  it("restores the counter on a correct PIN and drops verification on a wrong one", async () => {
    const card = await freshCard();
    expect(await verifyPin(card, "000000")).toBe("63C2");
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect(await verifyPin(card, "000000")).toBe("63C2");
    expect(await send(card, "00200080")).toBe("63C2");
  });

  it("P1=FF resets the verification; PIN must be 8 bytes; only reference 80", async () => {
    const card = await freshCard();
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect(await send(card, "0020FF80")).toBe("9000");
    expect(await send(card, "00200080")).toBe("63C3");
    expect(await send(card, "0020008006313233343536")).toBe("6A80");
    expect(await send(card, "0020008108313233343536FFFF")).toBe("6A88");
  });

  it("honours a configured retry count", async () => {
    const card = await freshCard({ pinRetries: 5 });
    expect(await verifyPin(card, "000000")).toBe("63C4");
  });
});

describe("CHANGE REFERENCE DATA (§3.2.2)", () => {
  it("changes the PIN; the old one no longer verifies", async () => {
    const card = await freshCard();
    expect(swOf(await send(card, change(0x80, "123456", "87654321")))).toBe("9000");
    expect(await verifyPin(card, "123456")).toBe("63C2");
    expect(await verifyPin(card, "87654321")).toBe("9000");
  });

  it("counts a wrong current PIN and refuses a short new one with 6A80", async () => {
    const card = await freshCard();
    expect(swOf(await send(card, change(0x80, "111111", "222222")))).toBe("63C2");
    expect(swOf(await send(card, change(0x80, "123456", "12345")))).toBe("6A80");
  });

  it("changes the PUK and counts wrong PUKs down to 6983", async () => {
    const card = await freshCard();
    expect(swOf(await send(card, change(0x81, "12345678", "87654321")))).toBe("9000");
    expect(swOf(await send(card, change(0x81, "00000000", "11111111")))).toBe("63C2");
    expect(swOf(await send(card, change(0x81, "00000000", "11111111")))).toBe("63C1");
    expect(swOf(await send(card, change(0x81, "00000000", "11111111")))).toBe("63C0");
    expect(swOf(await send(card, change(0x81, "87654321", "11111111")))).toBe("6983");
  });

  it("answers 6983 to a change of a blocked PIN", async () => {
    const card = await freshCard({ pinRetries: 1 });
    expect(await verifyPin(card, "000000")).toBe("63C0");
    expect(swOf(await send(card, change(0x80, "123456", "654321")))).toBe("6983");
  });
});

describe("RESET RETRY COUNTER (§3.2.3)", () => {
  it("unblocks a blocked PIN with the PUK and sets the new PIN", async () => {
    const card = await freshCard();
    for (let i = 0; i < 3; i++) await verifyPin(card, "000000");
    expect(await verifyPin(card, "123456")).toBe("6983");
    expect(swOf(await send(card, unblock("12345678", "24682468")))).toBe("9000");
    expect(await send(card, "00200080")).toBe("63C3");
    expect(await verifyPin(card, "24682468")).toBe("9000");
  });

  it("counts wrong PUKs down and blocks the PUK", async () => {
    const card = await freshCard();
    expect(swOf(await send(card, unblock("00000000", "654321")))).toBe("63C2");
    expect(swOf(await send(card, unblock("00000000", "654321")))).toBe("63C1");
    expect(swOf(await send(card, unblock("00000000", "654321")))).toBe("63C0");
    expect(swOf(await send(card, unblock("12345678", "654321")))).toBe("6983");
  });

  it("refuses a too-short new PIN with 6A80", async () => {
    const card = await freshCard();
    expect(swOf(await send(card, unblock("12345678", "1234")))).toBe("6A80");
  });
});
