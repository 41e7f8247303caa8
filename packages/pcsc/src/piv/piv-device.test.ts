import { describe, expect, it } from "vitest";
import { concat, decodeMap, tlv } from "../tlv.js";
import type { ApduTransport } from "../transport.js";
import { decodeCcc } from "./ccc.js";
import { decodeChuid } from "./chuid.js";
import { PivDevice } from "./piv-device.js";

/**
 * A scripted peer for PivDevice's unit tests: just enough card state (PIN/PUK counters, a data
 * object map, version, serial, metadata) to check the device's command sequences. It is not a
 * PIV card — end-to-end tests against the virtual card live in packages/simulator/test.
 */
class ScriptedCard implements ApduTransport {
  readonly reader = "scripted reader";
  readonly sent: string[] = [];
  version: Uint8Array | null = Uint8Array.of(5, 7, 1);
  managementKeyIsDefault = true;
  pinTries = 3;
  pinTotal = 3;
  pukTries = 3;
  /** A status word to refuse CHANGE REFERENCE DATA with, whatever the PUK. */
  pukRefusal: number | undefined;
  objects = new Map<string, Uint8Array>();

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const [, ins, , p2] = command as unknown as number[];
    const data = command.length > 5 ? command.subarray(5, 5 + (command[4] as number)) : new Uint8Array(0);
    this.sent.push(NAMES[ins as number] ?? (ins as number).toString(16));
    switch (ins) {
      case 0xa4:
        return sw(0x9000);
      case 0xfd:
        return this.version === null ? sw(0x6d00) : ok(this.version);
      case 0xf8:
        return ok(Uint8Array.of(0, 0x98, 0x96, 0x80));
      case 0xf7:
        if (p2 === 0x9b) {
          return ok(concat(tlv(1, Uint8Array.of(0x0a)), tlv(5, Uint8Array.of(this.managementKeyIsDefault ? 1 : 0))));
        }
        if (p2 === 0x80)
          return ok(concat(tlv(1, Uint8Array.of(0xff)), tlv(6, Uint8Array.of(this.pinTotal, this.pinTries))));
        return sw(0x6a88);
      case 0x20:
        if (this.pinTries === 0) return sw(0x6983);
        if (data.length === 0) return sw(0x63c0 | this.pinTries);
        this.pinTries--;
        return sw(0x63c0 | this.pinTries);
      case 0x24:
        if (this.pukRefusal !== undefined) return sw(this.pukRefusal);
        if (p2 !== 0x81) return sw(0x6a86);
        if (this.pukTries === 0) return sw(0x6983);
        this.pukTries--;
        return sw(0x63c0 | this.pukTries);
      case 0xfb:
        if (this.pinTries !== 0 || this.pukTries !== 0) return sw(0x6985);
        this.pinTries = 3;
        this.pukTries = 3;
        this.objects.clear();
        return sw(0x9000);
      case 0xdb: {
        const map = decodeMap(data);
        this.objects.set(hex(map.get(0x5c) ?? new Uint8Array(0)), Uint8Array.from(map.get(0x53) ?? []));
        return sw(0x9000);
      }
      case 0xcb: {
        const object = this.objects.get(hex(decodeMap(data).get(0x5c) ?? new Uint8Array(0)));
        return object === undefined || object.length === 0 ? sw(0x6a82) : ok(tlv(0x53, object));
      }
      default:
        return sw(0x6d00);
    }
  }
  async getAtr(): Promise<Uint8Array> {
    return Uint8Array.of(0x3b, 0x8c, 0x80, 0x01);
  }
  async reset(): Promise<void> {}
}

const NAMES: Record<number, string> = {
  164: "SELECT",
  253: "GET VERSION",
  248: "GET SERIAL",
  247: "GET METADATA",
  32: "VERIFY",
  36: "CHANGE REFERENCE DATA",
  251: "RESET",
  219: "PUT DATA",
  203: "GET DATA",
};
const sw = (s: number) => Uint8Array.of(s >> 8, s & 0xff);
const ok = (data: Uint8Array) => concat(data, sw(0x9000));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("PivDevice.open", () => {
  it("identifies a YubiKey by serial and reports its capabilities", async () => {
    const device = await PivDevice.open(new ScriptedCard());
    expect(device.identity).toEqual({
      serial: "10000000",
      type: "piv",
      model: "YubiKey 5",
      firmware: "5.7.1",
      reader: "scripted reader",
    });
    expect(device.capabilities).toMatchObject({
      keyAlgorithms: ["RSA2048", "ECCP256", "ECCP384"],
      reset: true,
      attestation: true,
      adminCredentialChange: true,
      cardIdentifiers: true,
      maxObjectSize: 3052,
      pinRetries: 3,
    });
    expect(device.capabilities.slots).toHaveLength(24);
    expect(device.capabilities.slots.slice(0, 5)).toEqual(["9a", "9c", "9d", "9e", "82"]);
  });

  it("identifies a plain PIV card by its CHUID GUID and offers no YubiKey extensions", async () => {
    const card = new ScriptedCard();
    card.version = null;
    const guid = "00112233445566778899aabbccddeeff";
    card.objects.set(
      "5fc102",
      concat(tlv(0x30, new Uint8Array(25)), tlv(0x34, Buffer.from(guid, "hex")), tlv(0x35, Buffer.from("20300101"))),
    );
    const device = await PivDevice.open(card);
    expect(device.identity).toMatchObject({ serial: guid, model: "PIV card" });
    expect(device.identity.firmware).toBeUndefined();
    expect(device.capabilities).toMatchObject({ reset: false, attestation: false, slots: ["9a", "9c", "9d", "9e"] });
    await expect(device.factoryCredentials()).rejects.toMatchObject({ code: "PIV_UNSUPPORTED" });
    await expect(device.reset()).rejects.toMatchObject({ code: "PIV_UNSUPPORTED" });
  });
});

describe("factory credentials", () => {
  it("reads the default management key's algorithm from GET METADATA", async () => {
    const device = await PivDevice.open(new ScriptedCard());
    const credentials = await device.factoryCredentials();
    expect(credentials).toMatchObject({
      pin: "123456",
      puk: "12345678",
      admin: { kind: "management-key", algorithm: "AES192" },
    });
  });

  it("falls back to TDES before firmware 5.3 without asking", async () => {
    const card = new ScriptedCard();
    card.version = Uint8Array.of(5, 2, 7);
    const device = await PivDevice.open(card);
    card.sent.length = 0;
    expect((await device.factoryCredentials()).admin).toMatchObject({ algorithm: "TDES" });
    expect(card.sent).toEqual([]);
  });
});

describe("reset", () => {
  it("blocks the PIN, then the PUK, then sends RESET", async () => {
    const card = new ScriptedCard();
    card.pinTries = 2;
    const device = await PivDevice.open(card);
    card.sent.length = 0;
    await device.reset();
    expect(card.sent).toEqual([
      "VERIFY",
      "VERIFY",
      "CHANGE REFERENCE DATA",
      "CHANGE REFERENCE DATA",
      "CHANGE REFERENCE DATA",
      "RESET",
    ]);
    expect(card.pinTries).toBe(3);
  });

  it("stops with the card's refusal, in context, when a blocking try is refused otherwise", async () => {
    const card = new ScriptedCard();
    const device = await PivDevice.open(card);
    card.pukRefusal = 0x6a80;
    const err = await device.reset().catch((e) => e);
    expect(err).toMatchObject({ code: "PIV_WRONG_DATA", details: { instruction: "CHANGE REFERENCE DATA" } });
    expect(err.message).toMatch(/^blocking the PUK for reset: /);
    expect(card.sent.filter((s) => s === "RESET")).toEqual([]);
  });
});

describe("card identifiers", () => {
  it("writes a fresh CHUID and CCC and returns the GUID", async () => {
    const card = new ScriptedCard();
    const device = await PivDevice.open(card);
    const first = await device.writeCardIdentifiers();
    const chuid = decodeChuid(card.objects.get("5fc102") ?? new Uint8Array(0));
    expect(hex(chuid.guid)).toBe(first.guid);
    expect(hex(decodeCcc(card.objects.get("5fc107") ?? new Uint8Array(0)).cardIdentifier)).toBe(first.cardId);
    const second = await device.writeCardIdentifiers();
    expect(second.guid).not.toBe(first.guid);
    expect(second.cardId).not.toBe(first.cardId);
  });
});

describe("capability checks", () => {
  it("refuses unknown slots and algorithms before any I/O", async () => {
    const card = new ScriptedCard();
    const device = await PivDevice.open(card);
    card.sent.length = 0;
    await expect(device.generateKeyPair("9f", "ECCP256")).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
    await expect(device.generateKeyPair("9a", "RSA3072")).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
    expect(card.sent).toEqual([]);
  });

  it("lists only slots with something in them", async () => {
    const card = new ScriptedCard();
    card.objects.set("5fc10a", concat(tlv(0x70, Uint8Array.of(0x30, 0)), tlv(0x71, Uint8Array.of(0)), tlv(0xfe)));
    const device = await PivDevice.open(card);
    expect(await device.listObjects()).toEqual([{ slot: "9c", certificate: Uint8Array.of(0x30, 0) }]);
  });

  it("reports live PIN status from metadata, so a changed retry count shows", async () => {
    const card = new ScriptedCard();
    const device = await PivDevice.open(card);
    card.pinTotal = 5;
    card.pinTries = 4;
    card.sent.length = 0;
    expect(await device.pinStatus()).toEqual({ retriesLeft: 4, blocked: false, retriesTotal: 5 });
    expect(card.sent).toEqual(["GET METADATA"]);
  });

  it("reports PIN status with VERIFY before firmware 5.3", async () => {
    const card = new ScriptedCard();
    card.version = Uint8Array.of(4, 3, 5);
    card.pinTries = 0;
    const device = await PivDevice.open(card);
    card.sent.length = 0;
    expect(await device.pinStatus()).toEqual({ retriesLeft: 0, blocked: true });
    expect(card.sent).toEqual(["VERIFY"]);
  });

  it("refuses use after close", async () => {
    let closed = 0;
    const device = await PivDevice.open(new ScriptedCard(), {
      onClose: async () => {
        closed++;
      },
    });
    await device.close();
    await device.close();
    expect(closed).toBe(1);
    await expect(device.verifyPin("123456")).rejects.toMatchObject({ code: "DEVICE_NOT_FOUND" });
  });
});
