import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { authenticate, DEFAULT_KEY, hex, newCard, pad, SELECT_PIV, toHex } from "../../test/apdu-helpers.js";
import { InMemoryTransport } from "./in-memory-transport.js";

async function tx(t: InMemoryTransport, command: string): Promise<string> {
  return toHex(await t.transmit(hex(command)));
}

async function expectCode(p: Promise<unknown>, code: string) {
  try {
    await p;
    expect.unreachable("should have thrown");
  } catch (err) {
    expect(isCardwrightError(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
  }
}

const VERIFY_DEFAULT = `0020008008${toHex(pad("123456"))}`;

describe("InMemoryTransport", () => {
  it("carries APDUs and answers a YubiKey ATR", async () => {
    const t = new InMemoryTransport(await newCard());
    expect(toHex(await t.getAtr())).toBe("3BFD1300008131FE158073C021C05759756269 4B657940".replace(" ", ""));
    expect(await tx(t, SELECT_PIV)).toMatch(/9000$/);
    expect(t.reader).toBe("Cardwright Virtual Reader 00");
  });

  it("reset clears PIN verification, management authentication and the selection", async () => {
    const c = await newCard();
    const t = new InMemoryTransport(c);
    await tx(t, SELECT_PIV);
    await tx(t, VERIFY_DEFAULT);
    expect(await authenticate(c, 0x0a)).toBe("9000");
    expect(await tx(t, "00200080")).toBe("9000");
    await t.reset();
    expect(await tx(t, "00200080")).toBe("6D00");
    await tx(t, SELECT_PIV);
    expect(await tx(t, "00200080")).toBe("63C3");
    expect(await tx(t, "00DB3FFF095C035FC1025302AABB")).toBe("6982");
  });

  it("remove() makes transmit, getAtr and reset fail with APDU_CARD_REMOVED; insert() powers it up fresh", async () => {
    const t = new InMemoryTransport(await newCard());
    await tx(t, SELECT_PIV);
    await tx(t, VERIFY_DEFAULT);
    t.remove();
    expect(t.present).toBe(false);
    await expectCode(t.transmit(hex("00FD0000")), "APDU_CARD_REMOVED");
    await expectCode(t.getAtr(), "APDU_CARD_REMOVED");
    await expectCode(t.reset(), "APDU_CARD_REMOVED");
    t.insert();
    await tx(t, SELECT_PIV);
    expect(await tx(t, "00200080")).toBe("63C3");
  });

  it("fault: card removed at APDU k before processing — the command has no effect", async () => {
    const c = await newCard();
    const t = new InMemoryTransport(c, { faults: [{ trigger: { atApdu: 2 }, action: { kind: "remove-card" } }] });
    await tx(t, SELECT_PIV);
    await expectCode(t.transmit(hex(`002000800831323334353600`)), "APDU_CARD_REMOVED");
    t.insert();
    await tx(t, SELECT_PIV);
    expect(await tx(t, "00200080")).toBe("63C3");
  });

  it("fault: card removed after processing — the card changed state but the host got no answer", async () => {
    const c = await newCard();
    const t = new InMemoryTransport(c);
    t.injectFault({ trigger: { ins: 0x20 }, action: { kind: "remove-card", timing: "after-processing" } });
    await tx(t, SELECT_PIV);
    await expectCode(t.transmit(hex(`0020008008${toHex(pad("999999"))}`)), "APDU_CARD_REMOVED");
    t.insert();
    await tx(t, SELECT_PIV);
    expect(await tx(t, "00200080")).toBe("63C2");
  });

  it("fault: a given status word at the n-th occurrence of an instruction", async () => {
    const t = new InMemoryTransport(await newCard());
    t.injectFault({ trigger: { ins: 0xfd, occurrence: 2 }, action: { kind: "status-word", sw: 0x6f00 } });
    await tx(t, SELECT_PIV);
    expect(await tx(t, "00FD0000")).toBe("0507019000");
    expect(await tx(t, "00FD0000")).toBe("6F00");
    expect(await tx(t, "00FD0000")).toBe("0507019000");
  });

  it("fault: timeout (before or after processing) raises APDU_TIMEOUT", async () => {
    const c = await newCard();
    const t = new InMemoryTransport(c, {
      faults: [
        { trigger: { atApdu: 2 }, action: { kind: "timeout" } },
        { trigger: { atApdu: 3 }, action: { kind: "timeout", timing: "after-processing" } },
      ],
    });
    await tx(t, SELECT_PIV);
    await expectCode(t.transmit(hex(`0020008008${toHex(pad("999999"))}`)), "APDU_TIMEOUT");
    await expectCode(t.transmit(hex(`0020008008${toHex(pad("999999"))}`)), "APDU_TIMEOUT");
    // The first wrong PIN never reached the card; the second did.
    expect(await tx(t, "00200080")).toBe("63C2");
    expect(t.transcript.map((e) => e.outcome)).toEqual(["response", "timeout", "timeout", "response"]);
  });

  it("honours the time limit against a slow card (latency model)", async () => {
    const slow = await newCard({ latency: { perApduMs: 200 } });
    const t = new InMemoryTransport(slow);
    const started = Date.now();
    await expectCode(t.transmit(hex(SELECT_PIV), { timeoutMs: 20 }), "APDU_TIMEOUT");
    expect(Date.now() - started).toBeLessThan(150);
    expect(toHex(await t.transmit(hex("00FD0000"), { timeoutMs: 1000 }))).toMatch(/9000$|6D00$/);
  });

  it("the card runs one command at a time: after a timeout the next command waits for the slow one", async () => {
    const slow = await newCard({ latency: { keyGenerationMs: { ECCP256: 150 } } });
    const t = new InMemoryTransport(slow);
    await tx(t, SELECT_PIV);
    expect(await authenticate(slow, 0x0a)).toBe("9000");
    await expectCode(t.transmit(hex("0047009E05AC0380011100"), { timeoutMs: 20 }), "APDU_TIMEOUT");
    const started = Date.now();
    // The generation the host gave up on still completes on the card before metadata is answered.
    expect(toHex(await t.transmit(hex("00F7009E00"))).slice(0, 6)).toBe("010111");
    expect(Date.now() - started).toBeGreaterThan(50);
  });

  it("latency model: per APDU, per byte, per key generation and per signature, through an injected sleep", async () => {
    const waits: number[] = [];
    const c = await newCard({
      latency: { perApduMs: 5, keyGenerationMs: { ECCP256: 120 }, signatureMs: { ECCP256: 80 } },
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const t = new InMemoryTransport(c);
    await tx(t, SELECT_PIV);
    expect(waits).toEqual([5]);
    expect(await authenticate(c, 0x0a, DEFAULT_KEY)).toBe("9000");
    waits.length = 0;
    await tx(t, "0047009E05AC0380011100");
    expect(waits).toEqual([120, 5]);
    waits.length = 0;
    await tx(t, `0087119E267C24820081 20${"11".repeat(32)}00`.replace(" ", ""));
    expect(waits).toEqual([80, 5]);
  });

  it("records a transcript with instruction names and redacts PIN and management-key data", async () => {
    let now = 1000;
    const c = await newCard();
    const t = new InMemoryTransport(c, { now: () => (now += 10) });
    await tx(t, SELECT_PIV);
    await tx(t, VERIFY_DEFAULT);
    await tx(t, "00870A9B047C02800000");
    await tx(t, `00FFFFFF1B0A9B18${toHex(DEFAULT_KEY)}`);
    const [sel, ver, ga, setKey] = t.transcript;
    expect(sel?.instruction).toBe("SELECT");
    expect(sel?.sw).toBe("9000");
    expect(sel?.redacted).toBe(false);
    expect(sel?.startedAt).toBe(1010);
    expect(sel?.durationMs).toBe(10);
    expect(ver?.index).toBe(2);
    expect(ver?.redacted).toBe(true);
    expect(toHex(ver?.command ?? new Uint8Array())).toBe("00200080080000000000000000");
    expect(ga?.redacted).toBe(true);
    expect(toHex(ga?.response ?? new Uint8Array()).slice(-4)).toBe("9000");
    expect(toHex(ga?.response ?? new Uint8Array()).slice(0, -4)).toMatch(/^0+$/);
    expect(toHex(setKey?.command ?? new Uint8Array())).not.toContain(toHex(DEFAULT_KEY));
    expect(JSON.stringify(t.transcript.map((e) => toHex(e.command)))).not.toContain("313233343536");
  });

  it("counts APDUs and lists faults that did not fire", async () => {
    const t = new InMemoryTransport(await newCard());
    t.injectFault({ trigger: { atApdu: 10 }, action: { kind: "timeout" } });
    await tx(t, SELECT_PIV);
    expect(t.apduCount).toBe(1);
    expect(() => t.injectFault({ trigger: { atApdu: 0 }, action: { kind: "timeout" } })).toThrow(RangeError);
  });
});
