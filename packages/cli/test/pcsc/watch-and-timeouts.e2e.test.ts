/**
 * Through the real PC/SC stack (pcscd + vpcd, virtual cards in worker threads):
 * `PcscDeviceProvider.watch()` events — cards inserted and removed, readers lost and found again
 * when pcscd stops and comes back — and a card that stalls mid-command, which must surface as
 * `APDU_TIMEOUT` within the caller's time limit and leave the link usable.
 */
import { PcscDeviceProvider, type PcscEvent, PcscTransport } from "@cardwright/pcsc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cardPresent } from "../support/pcsc-stack.js";
import { type Pcscd, showApdusOnFailure, startPcscd, until } from "../support/pcscd.js";
import { RemoteVpcdCard } from "../support/remote-vpcd-card.js";

const SELECT_PIV = Uint8Array.from(Buffer.from("00A4040009A00000030800001000", "hex"));
const GET_VERSION = Uint8Array.from(Buffer.from("00FD000000", "hex"));
const GET_SERIAL = Uint8Array.from(Buffer.from("00F8000000", "hex"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();
const serialResponse = (serial: number) => `${serial.toString(16).toUpperCase().padStart(8, "0")}9000`;

let pcscd: Pcscd;
beforeAll(async () => {
  pcscd = await startPcscd();
}, 320_000);
afterAll(async () => {
  await pcscd?.stop();
});

/** A fresh virtual card inserted into vpcd reader `index`, seen by pcscd. */
async function insertedCard(index: 0 | 1, options: { serial?: number } = {}): Promise<RemoteVpcdCard> {
  const card = await RemoteVpcdCard.start(pcscd.ports[index], { firmware: "5.7.1", ...options });
  await card.insert();
  await cardPresent(new PcscDeviceProvider(), pcscd.readers[index]);
  return card;
}

async function pulled(card: RemoteVpcdCard, index: 0 | 1): Promise<void> {
  await card.stop();
  await cardPresent(new PcscDeviceProvider(), pcscd.readers[index], false);
}

describe.sequential("a card that stalls mid-command", () => {
  it("fails the transmit with APDU_TIMEOUT within its limit, and the late answer never reaches the next command", async () => {
    showApdusOnFailure(pcscd);
    const card = await insertedCard(1, { serial: 4242 });
    const transport = await PcscTransport.connect(pcscd.readers[1]);
    try {
      expect(hex((await transport.transmit(SELECT_PIV)).subarray(-2))).toBe("9000");
      await card.stallAtApdu(1, 2_000);
      const started = Date.now();
      const error = await transport.transmit(GET_VERSION, { timeoutMs: 300 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      const waited = Date.now() - started;
      expect(error).toMatchObject({
        code: "APDU_TIMEOUT",
        details: { apdu: 2, reader: pcscd.readers[1], timeoutMs: 300, instruction: "GET VERSION" },
      });
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(1_500);
      // The next command waits for the stalled one to end in pcscd, then gets its own answer:
      // the serial, not the version the stalled GET VERSION produced late.
      expect(hex(await transport.transmit(GET_SERIAL))).toBe(serialResponse(4242));
      expect(hex(await transport.transmit(GET_VERSION))).toBe("0507019000");
    } finally {
      await transport.close();
      await pulled(card, 1);
    }
  });

  it("an operation of an open device fails with APDU_TIMEOUT, and after reopening the device works", async () => {
    showApdusOnFailure(pcscd);
    const card = await insertedCard(1, { serial: 4343 });
    const provider = new PcscDeviceProvider({ device: { timeouts: { defaultMs: 400 } } });
    try {
      const device = await provider.open({ reader: pcscd.readers[1] });
      const factory = await device.factoryCredentials();
      await card.stallAtApdu(1, 2_500);
      const started = Date.now();
      await expect(device.verifyPin(factory.pin!)).rejects.toMatchObject({ code: "APDU_TIMEOUT" });
      expect(Date.now() - started).toBeLessThan(2_000);
      // Closing resets the card once pcscd is free of the stalled exchange.
      await device.close();

      const again = await provider.open({ reader: pcscd.readers[1] });
      try {
        expect(again.identity.serial).toBe("4343");
        await again.authenticateAdmin(factory.admin);
        const key = await again.generateKeyPair("9a", "ECCP256");
        expect(key.spki.length).toBeGreaterThan(60);
        await again.verifyPin(factory.pin!);
        await expect(again.verifyPin("000000")).rejects.toMatchObject({ code: "PIV_WRONG_PIN" });
      } finally {
        await again.close();
      }
    } finally {
      await pulled(card, 1);
    }
  });
});

describe.sequential("watch()", () => {
  it("reports a card present at the start, then each removal and insertion in order, with the ATR", async () => {
    const card = await insertedCard(0, { serial: 5151 });
    const events: PcscEvent[] = [];
    const unwatch = await new PcscDeviceProvider().watch((e) => events.push(e));
    const inReader0 = () =>
      events.filter((e) => e.kind !== "error" && e.reader === pcscd.readers[0]).map((e) => e.kind);
    try {
      await until(() => inReader0().length >= 2, "reader 0 and its card reported");
      expect(inReader0()).toEqual(["reader-added", "card-inserted"]);
      await card.remove();
      await until(() => inReader0().length >= 3, "card-removed");
      await card.insert();
      await until(() => inReader0().length >= 4, "card-inserted again");
      expect(inReader0()).toEqual(["reader-added", "card-inserted", "card-removed", "card-inserted"]);
      const inserted = events.filter((e) => e.kind === "card-inserted");
      for (const e of inserted) expect(e.kind === "card-inserted" && hex(e.atr)).toBe(hex(card.atr));
      expect(events.some((e) => e.kind === "error")).toBe(false);
    } finally {
      unwatch();
      await pulled(card, 0);
    }
  });

  // Last: it stops this file's pcscd and starts another.
  it("pcscd stopping while watching is one PCSC_NO_SERVICE event, its readers removed; watching resumes when it is back", async () => {
    const card = await insertedCard(0, { serial: 6161 });
    const events: PcscEvent[] = [];
    const provider = new PcscDeviceProvider({ watchRetryMs: 200 });
    const unwatch = await provider.watch((e) => events.push(e));
    try {
      await until(() => events.filter((e) => e.kind === "reader-added").length === 2, "both readers reported");
      await until(() => events.some((e) => e.kind === "card-inserted"), "the card reported");
      const before = events.length;
      await pcscd.kill();
      await until(() => events.filter((e) => e.kind === "reader-removed").length === 2, "both readers removed");
      // Repeated monitor failures while pcscd is down are not repeated to the listener.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const outage = events.slice(before);
      expect(outage.map((e) => (e.kind === "error" ? `error ${e.error.code}` : `${e.kind} ${e.reader}`))).toEqual([
        "error PCSC_NO_SERVICE",
        `card-removed ${pcscd.readers[0]}`,
        `reader-removed ${pcscd.readers[0]}`,
        `reader-removed ${pcscd.readers[1]}`,
      ]);
      const error = (outage[0] as Extract<PcscEvent, { kind: "error" }>).error;
      expect(error.message).toMatch(/start pcscd again/);
      expect(["SCARD_F_COMM_ERROR", "SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED"]).toContain(error.details.scard);
      await card.stop();

      await pcscd.stop();
      pcscd = await startPcscd();
      const back = events.length;
      await until(
        () => events.slice(back).filter((e) => e.kind === "reader-added").length === 2,
        "readers reported again after pcscd came back",
      );
      // Card events flow again through the new monitor.
      const next = await insertedCard(1, { serial: 7171 });
      try {
        await until(
          () => events.slice(back).some((e) => e.kind === "card-inserted" && e.reader === pcscd.readers[1]),
          "card-inserted after the restart",
        );
      } finally {
        await pulled(next, 1);
      }
      expect(events.slice(back).some((e) => e.kind === "error")).toBe(false);
    } finally {
      unwatch();
    }
  }, 60_000);
});
