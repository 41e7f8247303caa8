import { CardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import type { ApduTransport, TransmitOptions } from "../transport.js";
import { ApduConnection, type ApduTraceEntry } from "./processors.js";

/**
 * A scripted peer for byte-exact encoding tests: it expects exactly the listed command APDUs, in
 * order, and answers each with the scripted response. It is not a card — end-to-end tests against
 * the virtual PIV card live in packages/simulator/test.
 */
class ScriptedTransport implements ApduTransport {
  readonly seen: string[] = [];
  readonly timeouts: (number | undefined)[] = [];
  constructor(private readonly script: Array<[command: string, response: string]>) {}
  async transmit(command: Uint8Array, options?: TransmitOptions): Promise<Uint8Array> {
    const got = Buffer.from(command).toString("hex").toUpperCase();
    this.seen.push(got);
    this.timeouts.push(options?.timeoutMs);
    const step = this.script.shift();
    if (step === undefined) throw new Error(`unexpected command ${got}`);
    expect(got).toBe(step[0].replaceAll(" ", ""));
    return Buffer.from(step[1].replaceAll(" ", ""), "hex");
  }
  async getAtr(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }
  async reset(): Promise<void> {}
  get done(): boolean {
    return this.script.length === 0;
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

describe("command chaining (ISO/IEC 7816-4 §5.1.1.1)", () => {
  it("splits 600 bytes into 255+255+90 with CLA 10 on all but the last; Le only on the last", async () => {
    const data = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
    const d = hex(data);
    const t = new ScriptedTransport([
      [`10DB3FFFFF${d.slice(0, 510)}`, "9000"],
      [`10DB3FFFFF${d.slice(510, 1020)}`, "9000"],
      [`00DB3FFF5A${d.slice(1020)}00`, "0102 9000"],
    ]);
    const c = new ApduConnection(t);
    const r = await c.send({ cla: 0, ins: 0xdb, p1: 0x3f, p2: 0xff, data, ne: 256 });
    expect(r).toEqual({ data: Uint8Array.of(1, 2), sw: 0x9000 });
    expect(t.done).toBe(true);
  });

  it("stops the chain at the first refused link and returns its status", async () => {
    const data = new Uint8Array(300).fill(7);
    const t = new ScriptedTransport([[`10DB3FFFFF${"07".repeat(255)}`, "6A84"]]);
    const r = await new ApduConnection(t).send({ cla: 0, ins: 0xdb, p1: 0x3f, p2: 0xff, data });
    expect(r.sw).toBe(0x6a84);
    expect(t.done).toBe(true);
  });

  it("sends one extended APDU instead when extended length is on", async () => {
    const data = new Uint8Array(300).fill(1);
    const t = new ScriptedTransport([[`00DB3FFF00012C${"01".repeat(300)}`, "9000"]]);
    const r = await new ApduConnection(t, { extendedLength: true }).send({
      cla: 0,
      ins: 0xdb,
      p1: 0x3f,
      p2: 0xff,
      data,
    });
    expect(r.sw).toBe(0x9000);
    expect(t.done).toBe(true);
  });
});

describe("response chaining", () => {
  it("follows 61xx with GET RESPONSE (Le = xx, 00 = 256) and concatenates", async () => {
    const t = new ScriptedTransport([
      ["00CB3FFF055C035FC10500", `${"AA".repeat(256)}6100`],
      ["00C0000000", `${"BB".repeat(256)}6110`],
      ["00C0000010", `${"CC".repeat(16)}9000`],
    ]);
    const c = new ApduConnection(t);
    const r = await c.send({
      cla: 0,
      ins: 0xcb,
      p1: 0x3f,
      p2: 0xff,
      data: Uint8Array.of(0x5c, 3, 0x5f, 0xc1, 5),
      ne: c.maxNe,
    });
    expect(r.sw).toBe(0x9000);
    expect(r.data.length).toBe(528);
    expect(hex(r.data.subarray(254, 258))).toBe("AAAABBBB");
    expect(hex(r.data.subarray(510))).toBe(`BBBB${"CC".repeat(16)}`);
    expect(t.done).toBe(true);
  });

  it("resends with the exact Le after 6Cxx", async () => {
    const t = new ScriptedTransport([
      ["00FD000000", "6C03"],
      ["00FD000003", "050701 9000"],
    ]);
    const r = await new ApduConnection(t).send({ cla: 0, ins: 0xfd, p1: 0, p2: 0, ne: 256 });
    expect(r).toEqual({ data: Uint8Array.of(5, 7, 1), sw: 0x9000 });
    expect(t.done).toBe(true);
  });

  it("returns the final error status of a chain of responses", async () => {
    const t = new ScriptedTransport([
      ["00F9000000", "01026102"],
      ["00C0000002", "6F00"],
    ]);
    const r = await new ApduConnection(t).send({ cla: 0, ins: 0xf9, p1: 0, p2: 0, ne: 256 });
    expect(r.sw).toBe(0x6f00);
  });
});

describe("ApduConnection", () => {
  it("redacts PIN data in the trace and keeps header and status", async () => {
    const entries: ApduTraceEntry[] = [];
    const t = new ScriptedTransport([
      ["002000800831323334353637FF", "63C2"],
      ["00CB3FFF035C017E00", "7E00 9000"],
    ]);
    const c = new ApduConnection(t, { trace: (e) => entries.push(e) });
    await c.send({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: Buffer.from("31323334353637FF", "hex") });
    await c.send({ cla: 0, ins: 0xcb, p1: 0x3f, p2: 0xff, data: Uint8Array.of(0x5c, 1, 0x7e), ne: 256 });
    expect(entries[0]).toMatchObject({
      instruction: "VERIFY",
      command: "0020008008<redacted 8 bytes>",
      sw: "63C2",
      redacted: true,
    });
    expect(JSON.stringify(entries[0])).not.toContain("3132");
    expect(entries[1]).toMatchObject({
      instruction: "GET DATA",
      command: "00CB3FFF035C017E00",
      response: "7E00",
      redacted: false,
    });
  });

  it("redacts the management-key witness and response, including GET RESPONSE parts", async () => {
    const entries: ApduTraceEntry[] = [];
    const t = new ScriptedTransport([
      ["0087039B047C02800000", "7C0A8008 0102030405060708 6100"],
      ["00C0000000", "AABB9000"],
    ]);
    const c = new ApduConnection(t, { trace: (e) => entries.push(e) });
    await c.send({ cla: 0, ins: 0x87, p1: 3, p2: 0x9b, data: Uint8Array.of(0x7c, 2, 0x80, 0), ne: 256 });
    expect(entries.map((e) => e.response)).toEqual(["<redacted 12 bytes>", "<redacted 2 bytes>"]);
    expect(entries[1]?.instruction).toBe("GET RESPONSE");
    expect(entries.every((e) => e.redacted)).toBe(true);
  });

  it("redacts extended-length sensitive data after the 3-byte Lc", async () => {
    const entries: ApduTraceEntry[] = [];
    const t = new ScriptedTransport([
      [`00FFFFFF1B0A9B18${"01".repeat(24)}`, "9000"],
      [`00FE079A00012C${"02".repeat(300)}`, "9000"],
    ]);
    const c = new ApduConnection(t, { extendedLength: true, trace: (e) => entries.push(e) });
    const data = new Uint8Array(27).fill(1);
    data.set([0x0a, 0x9b, 0x18]);
    await c.send({ cla: 0, ins: 0xff, p1: 0xff, p2: 0xff, data });
    await c.send({ cla: 0, ins: 0xfe, p1: 0x07, p2: 0x9a, data: new Uint8Array(300).fill(2) });
    // 27 data bytes fit a short APDU, so the short form is used even with extended length on.
    expect(entries.map((e) => e.command)).toEqual([
      "00FFFFFF1B<redacted 27 bytes>",
      "00FE079A00012C<redacted 300 bytes>",
    ]);
  });

  it("passes the per-command time limit and enforces it", async () => {
    const hanging: ApduTransport = {
      transmit: () => new Promise(() => {}),
      getAtr: async () => new Uint8Array(0),
      reset: async () => {},
    };
    const c = new ApduConnection(hanging, { timeouts: { defaultMs: 20 } });
    await expect(c.send({ cla: 0, ins: 0xfd, p1: 0, p2: 0 })).rejects.toMatchObject({
      code: "APDU_TIMEOUT",
      details: { instruction: "GET VERSION", timeoutMs: 20 },
    });
    const t = new ScriptedTransport([["00470080", "9000"]]);
    await new ApduConnection(t).send({ cla: 0, ins: 0x47, p1: 0, p2: 0x80 }, { timeoutMs: 120_000 });
    expect(t.timeouts).toEqual([120_000]);
  });

  it("wraps a non-cardwright transport failure as APDU_TRANSPORT", async () => {
    const broken: ApduTransport = {
      transmit: async () => {
        throw new Error("reader unplugged");
      },
      getAtr: async () => new Uint8Array(0),
      reset: async () => {},
    };
    const err = await new ApduConnection(broken).send({ cla: 0, ins: 0xfd, p1: 0, p2: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(CardwrightError);
    expect(err.code).toBe("APDU_TRANSPORT");
  });

  it("rejects a response without status word as malformed", async () => {
    const t = new ScriptedTransport([["00FD0000", "90"]]);
    await expect(new ApduConnection(t).send({ cla: 0, ins: 0xfd, p1: 0, p2: 0 })).rejects.toMatchObject({
      code: "APDU_MALFORMED_RESPONSE",
    });
  });

  it("keeps serving, in order, after a command fails while others wait behind it", async () => {
    const order: string[] = [];
    let calls = 0;
    const flaky: ApduTransport = {
      transmit: async (cmd) => {
        order.push(Buffer.from(cmd.subarray(1, 2)).toString("hex"));
        await new Promise((r) => setTimeout(r, 1));
        if (++calls === 1) throw new Error("reader hiccup");
        return Uint8Array.of(0x90, 0);
      },
      getAtr: async () => new Uint8Array(0),
      reset: async () => {},
    };
    const c = new ApduConnection(flaky);
    const results = await Promise.allSettled([
      c.send({ cla: 0, ins: 0xfd, p1: 0, p2: 0 }),
      c.send({ cla: 0, ins: 0xf8, p1: 0, p2: 0 }),
      c.send({ cla: 0, ins: 0xf7, p1: 0, p2: 0x9b }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    expect(order).toEqual(["fd", "f8", "f7"]);
    // Idle again: the next command goes straight through.
    await expect(c.send({ cla: 0, ins: 0xfd, p1: 0, p2: 0 })).resolves.toEqual({ data: new Uint8Array(0), sw: 0x9000 });
    expect(order).toEqual(["fd", "f8", "f7", "fd"]);
  });

  it("turns an encoding error into a rejection of that command only", async () => {
    const t = new ScriptedTransport([["00FD0000", "9000"]]);
    const c = new ApduConnection(t);
    const bad = c.send({ cla: 0x100, ins: 0xfd, p1: 0, p2: 0 });
    await expect(bad).rejects.toMatchObject({ code: "APDU_INVALID_COMMAND" });
    await expect(c.send({ cla: 0, ins: 0xfd, p1: 0, p2: 0 })).resolves.toMatchObject({ sw: 0x9000 });
    expect(t.done).toBe(true);
  });

  it("serialises concurrent commands so chains never interleave", async () => {
    const order: string[] = [];
    let inFlight = 0;
    const slow: ApduTransport = {
      transmit: async (cmd) => {
        inFlight++;
        expect(inFlight).toBe(1);
        await new Promise((r) => setTimeout(r, 2));
        order.push(Buffer.from(cmd.subarray(0, 2)).toString("hex"));
        inFlight--;
        return Uint8Array.of(0x90, 0);
      },
      getAtr: async () => new Uint8Array(0),
      reset: async () => {},
    };
    const c = new ApduConnection(slow);
    const long = new Uint8Array(300);
    await Promise.all([
      c.send({ cla: 0, ins: 0xdb, p1: 0x3f, p2: 0xff, data: long }),
      c.send({ cla: 0, ins: 0xfd, p1: 0, p2: 0 }),
    ]);
    expect(order).toEqual(["10db", "00db", "00fd"]);
  });
});
