/**
 * The bridge against a small in-test TCP server speaking vpcd's side of the protocol. The real
 * vpcd inside a real pcscd is exercised by the PC/SC tests in packages/cli/test/pcsc.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { T0_ONLY_ATR, VirtualPivCard, YUBIKEY_5_ATR } from "../card/virtual-piv-card.js";
import { VpcdBridge, type VpcdEvent } from "./vpcd-bridge.js";
import { encodeVpcdFrame, VpcdControl, VpcdFrameDecoder } from "./vpcd-protocol.js";

const SELECT_PIV = Uint8Array.from(Buffer.from("00A4040009A00000030800001000", "hex"));
const GET_VERSION = Uint8Array.from(Buffer.from("00FD000000", "hex"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

/** vpcd's side: accepts one card, sends frames, collects reply frames. */
class FakeVpcd {
  readonly server: Server;
  socket: Socket | undefined;
  private readonly decoder = new VpcdFrameDecoder();
  private readonly replies: Uint8Array[] = [];
  private waiters: Array<() => void> = [];
  closedCount = 0;
  connections = 0;

  constructor() {
    this.server = createServer((socket) => {
      this.connections++;
      this.socket = socket;
      socket.on("data", (chunk) => {
        this.replies.push(...this.decoder.push(chunk));
        for (const w of this.waiters.splice(0)) w();
      });
      socket.on("close", () => {
        this.closedCount++;
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    return address.port;
  }

  async connected(): Promise<Socket> {
    while (this.socket === undefined) await new Promise((r) => setTimeout(r, 5));
    return this.socket;
  }

  send(payload: Uint8Array): void {
    this.socket!.write(encodeVpcdFrame(payload));
  }

  /** Waits for the next reply frame, or undefined when the card disconnected instead. */
  async reply(): Promise<Uint8Array | undefined> {
    for (;;) {
      const next = this.replies.shift();
      if (next !== undefined) return next;
      if (this.socket?.destroyed || this.socket?.readableEnded) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe("VpcdBridge", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setUp(events: VpcdEvent[] = []) {
    const vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    const card = await VirtualPivCard.create({ firmware: "5.7.1", serial: 12345678 });
    const bridge = new VpcdBridge(card, { port, onEvent: (e) => events.push(e) });
    cleanups.push(
      () => vpcd.close(),
      () => bridge.remove(),
    );
    await bridge.insert();
    await vpcd.connected();
    return { vpcd, card, bridge };
  }

  it("answers get-ATR with the card's ATR and nothing for the other controls", async () => {
    const { vpcd } = await setUp();
    vpcd.send(Uint8Array.of(VpcdControl.powerOn));
    vpcd.send(Uint8Array.of(VpcdControl.reset));
    vpcd.send(Uint8Array.of(VpcdControl.getAtr));
    expect(hex((await vpcd.reply())!)).toBe(hex(YUBIKEY_5_ATR));
    vpcd.send(Uint8Array.of(VpcdControl.powerOff));
    vpcd.send(Uint8Array.of(VpcdControl.getAtr));
    // Exactly one reply per get-ATR: the power controls produced none in between.
    expect(hex((await vpcd.reply())!)).toBe(hex(YUBIKEY_5_ATR));
  });

  it("passes APDUs to the card and frames its responses", async () => {
    const { vpcd, bridge } = await setUp();
    vpcd.send(SELECT_PIV);
    const select = (await vpcd.reply())!;
    expect(hex(select.subarray(0, 1))).toBe("61");
    expect(hex(select.subarray(-2))).toBe("9000");
    vpcd.send(GET_VERSION);
    expect(hex((await vpcd.reply())!)).toBe("0507019000");
    expect(bridge.apduCount).toBe(2);
  });

  it("reassembles frames split byte by byte and several frames in one segment", async () => {
    const { vpcd } = await setUp();
    const socket = vpcd.socket!;
    const select = encodeVpcdFrame(SELECT_PIV);
    for (const byte of select) {
      socket.write(Uint8Array.of(byte));
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(hex((await vpcd.reply())!).endsWith("9000")).toBe(true);
    const merged = Buffer.concat([
      encodeVpcdFrame(GET_VERSION),
      encodeVpcdFrame(Uint8Array.of(4)),
      encodeVpcdFrame(GET_VERSION),
    ]);
    socket.write(merged);
    expect(hex((await vpcd.reply())!)).toBe("0507019000");
    expect(hex((await vpcd.reply())!)).toBe(hex(YUBIKEY_5_ATR));
    expect(hex((await vpcd.reply())!)).toBe("0507019000");
  });

  it("a reset control loses the selected application, as a warm reset does", async () => {
    const { vpcd } = await setUp();
    vpcd.send(SELECT_PIV);
    await vpcd.reply();
    vpcd.send(Uint8Array.of(VpcdControl.reset));
    vpcd.send(GET_VERSION);
    expect(hex((await vpcd.reply())!)).toBe("6D00");
  });

  it("remove disconnects (card removed) and insert connects again with fresh state", async () => {
    const events: VpcdEvent[] = [];
    const { vpcd, bridge } = await setUp(events);
    vpcd.send(SELECT_PIV);
    await vpcd.reply();
    await bridge.remove();
    expect(bridge.inserted).toBe(false);
    expect(await vpcd.reply()).toBeUndefined();
    vpcd.socket = undefined;
    await bridge.insert();
    await vpcd.connected();
    expect(vpcd.connections).toBe(2);
    vpcd.send(GET_VERSION);
    expect(hex((await vpcd.reply())!)).toBe("6D00");
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(["inserted", "removed", "apdu"]));
    expect(events.find((e) => e.kind === "removed")).toMatchObject({ reason: "remove" });
  });

  it("pulls the card when the armed APDU arrives, without answering it", async () => {
    const { vpcd, bridge, card } = await setUp();
    bridge.removeAtApdu(2);
    vpcd.send(SELECT_PIV);
    expect(hex((await vpcd.reply())!).endsWith("9000")).toBe(true);
    vpcd.send(GET_VERSION);
    expect(await vpcd.reply()).toBeUndefined();
    expect(bridge.inserted).toBe(false);
    expect(bridge.card).toBe(card);
  });

  it("holds the answer to the armed APDU for the stall, then answers it and the next in order", async () => {
    const events: VpcdEvent[] = [];
    const { vpcd, bridge } = await setUp(events);
    vpcd.send(SELECT_PIV);
    expect(hex((await vpcd.reply())!).endsWith("9000")).toBe(true);
    bridge.stallAtApdu(1, 300);
    const started = Date.now();
    vpcd.send(GET_VERSION);
    vpcd.send(GET_VERSION);
    expect(hex((await vpcd.reply())!)).toBe("0507019000");
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(hex((await vpcd.reply())!)).toBe("0507019000");
    expect(events.filter((e) => e.kind === "stall")).toEqual([{ kind: "stall", index: 2, ms: 300 }]);
    // One-shot: the next command is answered at once.
    const again = Date.now();
    vpcd.send(GET_VERSION);
    expect(hex((await vpcd.reply())!)).toBe("0507019000");
    expect(Date.now() - again).toBeLessThan(250);
    expect(() => bridge.stallAtApdu(0, 10)).toThrow(RangeError);
    expect(() => bridge.stallAtApdu(1, -1)).toThrow(RangeError);
  });

  it("drops a stalled answer when the card is pulled during the stall", async () => {
    const { vpcd, bridge } = await setUp();
    bridge.stallAtApdu(1, 1_000);
    vpcd.send(SELECT_PIV);
    await new Promise((r) => setTimeout(r, 50));
    await bridge.remove();
    expect(await vpcd.reply()).toBeUndefined();
    expect(bridge.inserted).toBe(false);
  });

  it("runs several bridges on several ports at once", async () => {
    const a = await setUp();
    const b = await setUp();
    expect(a.vpcd.server.address()).not.toEqual(b.vpcd.server.address());
    a.vpcd.send(GET_VERSION);
    b.vpcd.send(SELECT_PIV);
    expect(hex((await a.vpcd.reply())!)).toBe("6D00");
    expect(hex((await b.vpcd.reply())!).endsWith("9000")).toBe(true);
  });

  it("answers get-ATR with the ATR the card was given", async () => {
    const { vpcd, bridge } = await setUp();
    await bridge.remove();
    vpcd.socket = undefined;
    await bridge.insert(await VirtualPivCard.create({ atr: T0_ONLY_ATR }));
    await vpcd.connected();
    vpcd.send(Uint8Array.of(VpcdControl.getAtr));
    expect(hex((await vpcd.reply())!)).toBe("3B07597562694B6579");
  });

  it("says what to do when nothing listens on the port", async () => {
    const vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    await vpcd.close();
    const bridge = new VpcdBridge(await VirtualPivCard.create(), { port });
    await expect(bridge.insert()).rejects.toMatchObject({ code: "APDU_TRANSPORT", details: { port } });
    expect(() => new VpcdBridge(bridge.card, { port: 70000 })).toThrow(/port/);
  });

  it("notices vpcd closing the connection as the card leaving the reader", async () => {
    const events: VpcdEvent[] = [];
    const { vpcd, bridge } = await setUp(events);
    vpcd.socket!.destroy();
    while (bridge.inserted) await new Promise((r) => setTimeout(r, 5));
    expect(events.at(-1)).toMatchObject({ kind: "removed", reason: "vpcd-closed" });
  });
});

describe("VpcdFrameDecoder", () => {
  it("keeps a partial frame until its last byte arrives", () => {
    const d = new VpcdFrameDecoder();
    expect(d.push(Uint8Array.of(0x00))).toEqual([]);
    expect(d.push(Uint8Array.of(0x03, 0xaa))).toEqual([]);
    expect(d.pending).toBe(3);
    expect(d.push(Uint8Array.of(0xbb, 0xcc, 0x00, 0x01))).toEqual([Uint8Array.of(0xaa, 0xbb, 0xcc)]);
    expect(d.push(Uint8Array.of(0x04))).toEqual([Uint8Array.of(0x04)]);
    expect(d.pending).toBe(0);
  });

  it("frames the 2-byte big-endian length", () => {
    expect(hex(encodeVpcdFrame(new Uint8Array(0x1234)).subarray(0, 2))).toBe("1234");
    expect(() => encodeVpcdFrame(new Uint8Array(0x10000))).toThrow(RangeError);
  });
});
