/**
 * The foundation's issue workflow, now through the real PC/SC stack:
 * PcscTransport → pcscd → vpcd → VpcdBridge → VirtualPivCard. Certificates are checked with
 * OpenSSL, signatures with node:crypto, and PC/SC behaviour (exclusive access, protocols,
 * reset, card pulled mid-operation, events) against the real pcscd.
 */
import { type IssueResult, parseCertificate } from "@cardwright/core";
import { PcscDeviceProvider, type PcscEvent, PcscTransport, type PivDevice } from "@cardwright/pcsc";
import { T0_ONLY_ATR } from "@cardwright/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSlotSignaturesVerify } from "../support/card-checks.js";
import { verifyCertificate, verifyCsr } from "../support/openssl.js";
import { cardPresent, createPcscStack, type PcscStack } from "../support/pcsc-stack.js";
import { type Pcscd, showApdusOnFailure, startPcscd, until } from "../support/pcscd.js";
import { RemoteVpcdCard } from "../support/remote-vpcd-card.js";

const b64 = (s: string) => Uint8Array.from(Buffer.from(s, "base64"));
const SELECT_PIV = Uint8Array.from(Buffer.from("00A4040009A00000030800001000", "hex"));
const GET_VERSION = Uint8Array.from(Buffer.from("00FD000000", "hex"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

let pcscd: Pcscd;
/** APDUs of a whole issue through pcscd, measured by the first suite. */
let issueApdus = 0;
beforeAll(async () => {
  pcscd = await startPcscd();
}, 320_000);
afterAll(async () => {
  await pcscd?.stop();
});

describe.sequential("issue through pcscd", () => {
  let stack: PcscStack;
  let device: PivDevice;
  let result: Extract<IssueResult, { status: "active" }>;

  beforeAll(async () => {
    stack = await createPcscStack(pcscd);
    device = await stack.open();
    const before = await stack.card.apduCount();
    const r = await stack.cardwright.issueCard({ userId: "alice", device, actor: "operator-1" });
    issueApdus = (await stack.card.apduCount()) - before;
    expect(r.status).toBe("active");
    result = r as typeof result;
  }, 120_000);
  afterAll(async () => {
    await device?.close();
    await stack?.close();
  });

  it("identifies the virtual YubiKey through the reader", () => {
    showApdusOnFailure(pcscd);
    expect(device.identity).toMatchObject({
      serial: String(stack.card.serial),
      model: "YubiKey 5",
      firmware: "5.7.1",
      reader: "Virtual PCD 00 00",
    });
    expect(result.card.deviceSerial).toBe(String(stack.card.serial));
  });

  it("wrote both certificates, which openssl verifies against the CA, from CSRs the card signed", async () => {
    showApdusOnFailure(pcscd);
    expect(result.certificates.map((c) => [c.slot, c.status]).sort()).toEqual([
      ["9a", "written"],
      ["9c", "written"],
    ]);
    const chain = await stack.ca.chain();
    for (const record of result.certificates) {
      const v = verifyCertificate(b64(record.certificate!), chain);
      expect(v.output).toContain("cert.pem: OK");
      const onCard = await device.readCertificate(record.slot);
      expect(Buffer.from(onCard!).toString("base64")).toBe(record.certificate);
      const metadata = await device.session.getMetadata(Number.parseInt(record.slot, 16));
      expect(hex(parseCertificate(b64(record.certificate!)).spki)).toBe(hex(metadata.publicKey!));
    }
    const [operation] = await stack.store.operations.list({ cardId: result.card.id });
    for (const request of await stack.store.requests.listByOperation(operation!.id)) {
      expect(verifyCsr(b64(request.csr!)).status).toBe(0);
    }
  });

  it("signs under the new PIN through pcscd, verified with each certificate", async () => {
    showApdusOnFailure(pcscd);
    await expectSlotSignaturesVerify(device, result.certificates, result.pin!);
  });

  it("holds the card exclusively while the device is open", async () => {
    await expect(PcscTransport.connect(stack.reader)).rejects.toMatchObject({ code: "PCSC_SHARING_VIOLATION" });
    await expect(PcscTransport.connect(stack.reader, { share: "shared" })).rejects.toMatchObject({
      code: "PCSC_SHARING_VIOLATION",
    });
  });

  it("is released by device.close(), after which others connect and the card was reset", async () => {
    await device.close();
    const transport = await PcscTransport.connect(stack.reader);
    try {
      expect(transport.protocol).toBe("T1");
      // Closing reset the card: nothing is selected, so a PIV command is refused.
      expect(hex(await transport.transmit(GET_VERSION))).toBe("6D00");
      expect(hex((await transport.transmit(SELECT_PIV)).subarray(-2))).toBe("9000");
      expect(hex(await transport.transmit(GET_VERSION))).toBe("0507019000");
      await transport.reset();
      expect(hex(await transport.transmit(GET_VERSION))).toBe("6D00");
      expect(hex(await transport.getAtr())).toBe(hex(stack.card.atr));
    } finally {
      await transport.close();
    }
    device = await stack.open();
  });
});

describe.sequential("PC/SC behaviour", () => {
  it("refuses T=0 for a T=1-only card with a typed error", async () => {
    const bridge = await RemoteVpcdCard.start(pcscd.ports[1]);
    await bridge.insert();
    const provider = new PcscDeviceProvider();
    try {
      await cardPresent(provider, pcscd.readers[1]);
      await expect(PcscTransport.connect(pcscd.readers[1], { protocol: "T0" })).rejects.toMatchObject({
        code: "APDU_TRANSPORT",
        details: { scard: "SCARD_E_PROTO_MISMATCH" },
      });
      const t1 = await PcscTransport.connect(pcscd.readers[1], { protocol: "T1" });
      expect(t1.protocol).toBe("T1");
      await t1.close();
    } finally {
      await bridge.stop();
      await cardPresent(provider, pcscd.readers[1], false);
    }
  });

  it("reconnects after another application reset the card, reporting PCSC_CARD_RESET once", async () => {
    const bridge = await RemoteVpcdCard.start(pcscd.ports[1]);
    await bridge.insert();
    const provider = new PcscDeviceProvider();
    await cardPresent(provider, pcscd.readers[1]);
    const ours = await PcscTransport.connect(pcscd.readers[1], { share: "shared" });
    const theirs = await PcscTransport.connect(pcscd.readers[1], { share: "shared", disposition: "leave" });
    try {
      expect(hex((await ours.transmit(SELECT_PIV)).subarray(-2))).toBe("9000");
      await theirs.reset();
      await expect(ours.transmit(GET_VERSION)).rejects.toMatchObject({
        code: "PCSC_CARD_RESET",
        details: { scard: "SCARD_W_RESET_CARD" },
      });
      // Reconnected: the link works, and the card really lost its selection.
      expect(hex(await ours.transmit(GET_VERSION))).toBe("6D00");
      expect(hex((await ours.transmit(SELECT_PIV)).subarray(-2))).toBe("9000");
      expect(hex(await ours.transmit(GET_VERSION))).toBe("0507019000");
    } finally {
      await theirs.close();
      await ours.close();
      await bridge.stop();
      await cardPresent(provider, pcscd.readers[1], false);
    }
  });

  it("speaks T=0 to a card whose ATR offers only T=0, through the whole PIV session", async () => {
    const bridge = await RemoteVpcdCard.start(pcscd.ports[1], { atr: T0_ONLY_ATR, serial: 2024 });
    await bridge.insert();
    const provider = new PcscDeviceProvider();
    try {
      await cardPresent(provider, pcscd.readers[1]);
      await expect(PcscTransport.connect(pcscd.readers[1], { protocol: "T1" })).rejects.toMatchObject({
        details: { scard: "SCARD_E_PROTO_MISMATCH" },
      });
      const device = await provider.open({ reader: pcscd.readers[1] });
      try {
        expect(device.identity.serial).toBe("2024");
        const factory = await device.factoryCredentials();
        await device.authenticateAdmin(factory.admin);
        const key = await device.generateKeyPair("9e", "ECCP256");
        expect(key.spki.length).toBeGreaterThan(60);
      } finally {
        await device.close();
      }
      const t0 = await PcscTransport.connect(pcscd.readers[1], { protocol: "T0" });
      expect(t0.protocol).toBe("T0");
      expect(hex(await t0.getAtr())).toBe(hex(T0_ONLY_ATR));
      await t0.close();
    } finally {
      await bridge.stop();
      await cardPresent(provider, pcscd.readers[1], false);
    }
  });

  it("names a missing reader and an empty one", async () => {
    await expect(PcscTransport.connect("No Such Reader 00 00")).rejects.toMatchObject({ code: "DEVICE_NOT_FOUND" });
    await expect(PcscTransport.connect(pcscd.readers[1])).rejects.toMatchObject({ code: "APDU_CARD_REMOVED" });
    await expect(new PcscDeviceProvider().open({ reader: pcscd.readers[1] })).rejects.toMatchObject({
      code: "APDU_CARD_REMOVED",
    });
  });

  it("reports reader and card events and waits for a card with a time limit", async () => {
    const provider = new PcscDeviceProvider();
    const events: PcscEvent[] = [];
    const unwatch = await provider.watch((e) => events.push(e));
    try {
      await until(() => events.filter((e) => e.kind === "reader-added").length === 2, "both readers reported");
      await expect(provider.waitForDevice({ timeoutMs: 600 })).rejects.toMatchObject({ code: "DEVICE_NOT_FOUND" });
      const card = await RemoteVpcdCard.start(pcscd.ports[1], { serial: 31337 });
      const bridge = card;
      const waiting = provider.waitForDevice({ serial: "31337", timeoutMs: 10_000 });
      await bridge.insert();
      await expect(waiting).resolves.toMatchObject({ serial: "31337", reader: pcscd.readers[1] });
      await until(
        () => events.some((e) => e.kind === "card-inserted" && e.reader === pcscd.readers[1]),
        "card-inserted",
      );
      const inserted = events.find((e) => e.kind === "card-inserted" && e.reader === pcscd.readers[1]);
      expect(inserted?.kind === "card-inserted" && hex(inserted.atr)).toBe(hex(card.atr));
      expect((await provider.list()).map((d) => d.serial)).toContain("31337");
      await bridge.stop();
      await until(() => events.some((e) => e.kind === "card-removed" && e.reader === pcscd.readers[1]), "card-removed");
      await cardPresent(provider, pcscd.readers[1], false);
    } finally {
      unwatch();
    }
  });

  for (const [label, at] of [
    ["first", () => 1],
    ["middle", () => Math.floor(issueApdus / 2)],
    ["last", () => issueApdus],
  ] as const) {
    it(`a card pulled at the ${label} APDU of an issue fails with APDU_CARD_REMOVED, as on the virtual transport`, async () => {
      showApdusOnFailure(pcscd);
      expect(issueApdus).toBeGreaterThan(10);
      const k = at();
      const stack = await createPcscStack(pcscd, { index: 1 });
      try {
        const device = await stack.open();
        await stack.card.removeAtApdu(k);
        const failure = await stack.cardwright.issueCard({ userId: "bob", device, actor: "operator-1" }).then(
          (r) => ({ outcome: r }),
          (err: unknown) => ({ error: err }),
        );
        await device.close();
        // The workflow may record the failure (status "failed") or throw; either way the cause is the removal.
        const text = JSON.stringify(failure, (_k, v) =>
          v instanceof Error ? { ...v, message: v.message, code: (v as { code?: string }).code } : v,
        );
        expect(text).toContain("APDU_CARD_REMOVED");
        await stack.card.apduCount(); // refreshes the card's state
        expect(stack.card.inserted).toBe(false);
      } finally {
        await stack.close();
      }
    });
  }

  it("a transmit on a pulled card is APDU_CARD_REMOVED at the transport too", async () => {
    const bridge = await RemoteVpcdCard.start(pcscd.ports[1]);
    await bridge.insert();
    const provider = new PcscDeviceProvider();
    await cardPresent(provider, pcscd.readers[1]);
    const transport = await PcscTransport.connect(pcscd.readers[1]);
    try {
      expect(hex((await transport.transmit(SELECT_PIV)).subarray(-2))).toBe("9000");
      await bridge.remove();
      await expect(transport.transmit(GET_VERSION)).rejects.toMatchObject({ code: "APDU_CARD_REMOVED" });
      await expect(transport.getAtr()).rejects.toMatchObject({ code: "APDU_CARD_REMOVED" });
    } finally {
      await transport.close();
      await bridge.stop();
      await cardPresent(provider, pcscd.readers[1], false);
    }
  });
});
