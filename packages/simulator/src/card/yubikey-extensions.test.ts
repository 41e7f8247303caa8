import { constants, createPublicKey, generateKeyPairSync, publicEncrypt } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { describe, expect, it } from "vitest";
import {
  apdu,
  authenticate,
  dataOf,
  freshCard,
  hex,
  pad,
  send,
  swOf,
  toHex,
  verifyPin,
} from "../../test/apdu-helpers.js";
import type { VirtualPivCard } from "./virtual-piv-card.js";

async function blockPinAndPuk(card: VirtualPivCard) {
  for (let i = 0; i < 3; i++) await verifyPin(card, "000000");
  for (let i = 0; i < 3; i++)
    await send(card, apdu(0, 0x2c, 0, 0x80, Uint8Array.from([...pad("00000000"), ...pad("654321")])));
}

describe("GET VERSION / GET SERIAL", () => {
  it("byte-exact", async () => {
    const card = await freshCard({ firmware: "5.4.3", serial: 0x01234567 });
    expect(await send(card, "00FD0000")).toBe("0504039000");
    expect(await send(card, "00F8000000")).toBe("012345679000");
  });

  it("gives every card of the process its own 8-digit serial when none is chosen", async () => {
    const serials = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const serial = Number.parseInt((await send(await freshCard(), "00F8000000")).slice(0, 8), 16);
      expect(serial).toBeGreaterThanOrEqual(10_000_000);
      expect(serial).toBeLessThanOrEqual(99_999_999);
      serials.add(serial);
    }
    expect(serials.size).toBe(40);
  });
});

describe("GET METADATA (F7, firmware 5.3)", () => {
  it("PIN: algorithm FF, default, retries 3/3; after a wrong PIN 3/2", async () => {
    const card = await freshCard();
    expect(await send(card, "00F7008000")).toBe("0101FF050101060203039000");
    await verifyPin(card, "000000");
    expect(await send(card, "00F7008000")).toBe("0101FF050101060203029000");
  });

  it("PUK is default until changed", async () => {
    const card = await freshCard();
    expect(await send(card, "00F7008100")).toBe("0101FF050101060203039000");
    await send(card, apdu(0, 0x24, 0, 0x81, Uint8Array.from([...pad("12345678"), ...pad("87654321")])));
    expect(await send(card, "00F7008100")).toBe("0101FF050100060203039000");
  });

  it("management key: AES-192 on 5.7, TDES on 5.4, both default", async () => {
    expect(await send(await freshCard({ firmware: "5.7.1" }), "00F7009B00")).toBe("01010A020201010501019000");
    expect(await send(await freshCard({ firmware: "5.4.3" }), "00F7009B00")).toBe("010103020201010501019000");
  });

  it("slot: algorithm, policy, origin generated, and the public key; 6A88 when empty", async () => {
    const card = await freshCard();
    expect(await send(card, "00F7009A00")).toBe("6A88");
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const gen = await send(card, "0047009A05AC0380011100");
    const rsp = await send(card, "00F7009A00");
    expect(rsp.slice(0, 26)).toBe("01011102020201030101044386");
    expect(rsp.slice(28, -4)).toBe(gen.slice(10, -4));
  });

  it("the attestation slot reports an imported P-256 key", async () => {
    const card = await freshCard();
    expect((await send(card, "00F700F900")).slice(0, 18)).toBe("010111020201010301");
    expect((await send(card, "00F700F900")).slice(18, 20)).toBe("02");
  });

  it("does not exist before firmware 5.3 (6D00)", async () => {
    const card = await freshCard({ firmware: "5.2.7" });
    expect(await send(card, "00F7008000")).toBe("6D00");
  });
});

describe("SET MANAGEMENT KEY (FF)", () => {
  const aes256 = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

  it("needs authentication, then replaces the key and its algorithm", async () => {
    const card = await freshCard({ firmware: "5.4.3" });
    const cmd = apdu(0, 0xff, 0xff, 0xff, Uint8Array.from([0x0c, 0x9b, 0x20, ...aes256]));
    expect(swOf(await send(card, cmd))).toBe("6982");
    expect(await authenticate(card, 0x03)).toBe("9000");
    expect(swOf(await send(card, cmd))).toBe("9000");
    expect(await authenticate(card, 0x03)).toBe("6A80");
    expect(await authenticate(card, 0x0c, aes256)).toBe("9000");
    expect(await send(card, "00F7009B00")).toBe("01010C020201010501009000");
  });

  it("refuses AES before firmware 5.4 and a key of the wrong length", async () => {
    const card = await freshCard({ firmware: "5.3.4" });
    expect(await authenticate(card, 0x03)).toBe("9000");
    expect(swOf(await send(card, apdu(0, 0xff, 0xff, 0xff, Uint8Array.from([0x0c, 0x9b, 0x20, ...aes256]))))).toBe(
      "6A80",
    );
    expect(
      swOf(await send(card, apdu(0, 0xff, 0xff, 0xff, Uint8Array.from([0x03, 0x9b, 0x10, ...aes256.subarray(0, 16)])))),
    ).toBe("6A80");
  });
});

describe("SET PIN RETRIES (FA)", () => {
  it("needs management key and PIN", async () => {
    const card = await freshCard();
    expect(await send(card, "00FA0504")).toBe("6982");
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(await send(card, "00FA0504")).toBe("6982");
  });

  it("TRAP: resets PIN and PUK to their factory values with the new counts", async () => {
    const card = await freshCard();
    await send(card, apdu(0, 0x24, 0, 0x80, Uint8Array.from([...pad("123456"), ...pad("24682468")])));
    await send(card, apdu(0, 0x24, 0, 0x81, Uint8Array.from([...pad("12345678"), ...pad("87654321")])));
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(await verifyPin(card, "24682468")).toBe("9000");
    expect(await send(card, "00FA0504")).toBe("9000");
    expect(await send(card, "00F7008000")).toBe("0101FF050101060205059000");
    expect(await send(card, "00F7008100")).toBe("0101FF050101060204049000");
    expect(await verifyPin(card, "24682468")).toBe("63C4");
    expect(await verifyPin(card, "123456")).toBe("9000");
  });
});

describe("RESET (FB)", () => {
  it("answers 6985 unless both PIN and PUK are blocked", async () => {
    const card = await freshCard();
    expect(await send(card, "00FB0000")).toBe("6985");
    for (let i = 0; i < 3; i++) await verifyPin(card, "000000");
    expect(await send(card, "00FB0000")).toBe("6985");
  });

  it("erases keys and objects, restores defaults, keeps the attestation key", async () => {
    const card = await freshCard({ firmware: "5.4.3" });
    expect(await authenticate(card, 0x03)).toBe("9000");
    expect(swOf(await send(card, "0047009A05AC0380011100"))).toBe("9000");
    expect(await send(card, "00DB3FFF095C035FC1025302AABB")).toBe("9000");
    expect(
      swOf(
        await send(card, apdu(0, 0xff, 0xff, 0xff, Uint8Array.from([0x03, 0x9b, 24, ...new Uint8Array(24).fill(7)]))),
      ),
    ).toBe("9000");
    await blockPinAndPuk(card);
    expect(await send(card, "00FB0000")).toBe("9000");
    expect(await send(card, "00F7009A00")).toBe("6A88");
    expect(await send(card, "00CB3FFF055C035FC10200")).toBe("6A82");
    expect(await send(card, "00F7008000")).toBe("0101FF050101060203039000");
    expect(await authenticate(card, 0x03)).toBe("9000");
    expect(swOf(await send(card, "00F700F900"))).toBe("9000");
    expect(swOf(await send(card, "00CB3FFF055C035FFF0100"))).toMatch(/^(9000|61..)$/);
  });
});

describe("ATTEST (F9)", () => {
  it("certifies a generated key under the card's F9 certificate, with Yubico's extensions", async () => {
    const card = await freshCard({ serial: 12345678, firmware: "5.7.1" });
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const gen = await send(card, "0047009C05AC0380011100");
    expect(swOf(gen)).toBe("9000");
    const leafDer = dataOf(await send(card, extended(0xf9, 0x9c)));
    const leaf = new pkijs.Certificate({ schema: asn1js.fromBER(leafDer.slice().buffer).result });
    expect(leaf.subject.typesAndValues[0]?.value.valueBlock.value).toBe("YubiKey PIV Attestation 9c");
    const ext = (oid: string) => leaf.extensions?.find((e) => e.extnID === oid);
    expect(toHex(new Uint8Array(ext("1.3.6.1.4.1.41482.3.3")?.extnValue.valueBlock.valueHexView ?? []))).toBe("050701");
    expect(toHex(new Uint8Array(ext("1.3.6.1.4.1.41482.3.8")?.extnValue.valueBlock.valueHexView ?? []))).toBe("0301");
    // The public key certified is the generated one.
    const spki = new Uint8Array(leaf.subjectPublicKeyInfo.toSchema().toBER(false));
    const point = toHex(
      new Uint8Array(
        createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }).export({
          format: "der",
          type: "spki",
        }),
      ),
    );
    expect(point.endsWith(gen.slice(10, -4))).toBe(true);
    // Signed by the F9 key, whose certificate is in 5FFF01.
    const f9Object = dataOf(await send(card, extended(0xcb, 0x3f, 0xff, hex("5C035FFF01"))));
    const f9Der = f9Object.subarray(f9Object[1] === 0x82 ? 8 : 7);
    const f9 = new pkijs.Certificate({ schema: asn1js.fromBER(f9Der.slice().buffer).result });
    expect(await leaf.verify(f9)).toBe(true);
  });

  it("refuses imported keys (6A80) and empty slots (6A88)", async () => {
    const card = await freshCard();
    expect(await send(card, "00F99A0000")).toBe("6A88");
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const d = Buffer.from(privateKey.export({ format: "jwk" }).d as string, "base64url");
    expect(swOf(await send(card, apdu(0, 0xfe, 0x11, 0x9a, Uint8Array.from([0x06, 0x20, ...d]))))).toBe("9000");
    expect(await send(card, "00F99A0000")).toBe("6A80");
    expect((await send(card, "00F7009A00")).slice(0, 18)).toBe("010111020202010301");
    expect((await send(card, "00F7009A00")).slice(18, 20)).toBe("02");
  });
});

describe("IMPORT KEY (FE)", () => {
  it("imports an RSA key from CRT components; signatures verify against the original public key", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = privateKey.export({ format: "jwk" });
    const part = (tag: number, b64: string | undefined) => {
      const v = Buffer.from(b64 ?? "", "base64url");
      return [tag, 0x81, v.length, ...v];
    };
    const body = Uint8Array.from([
      ...part(1, jwk.p),
      ...part(2, jwk.q),
      ...part(3, jwk.dp),
      ...part(4, jwk.dq),
      ...part(5, jwk.qi),
      0xaa,
      0x01,
      0x01,
    ]);
    expect(swOf(await send(card, extended(0xfe, 0x07, 0x9e, body)))).toBe("9000");
    const block = new Uint8Array(256);
    block[255] = 0x02;
    const ga = Uint8Array.from([0x7c, 0x82, 0x01, 0x06, 0x82, 0x00, 0x81, 0x82, 0x01, 0x00, ...block]);
    const rsp = await send(card, extended(0x87, 0x07, 0x9e, ga, 0));
    expect(swOf(rsp)).toBe("9000");
    const sig = dataOf(rsp).subarray(8);
    // Raw RSA: the public operation on the signature gives back the block.
    expect(toHex(new Uint8Array(publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, sig)))).toBe(
      toHex(block),
    );
  });

  it("refuses inconsistent components with 6A80", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(
      swOf(await send(card, apdu(0, 0xfe, 0x11, 0x9a, Uint8Array.from([0x06, 0x10, ...new Uint8Array(16)])))),
    ).toBe("6A80");
  });
});

function extended(ins: number, p1: number, p2 = 0, data?: Uint8Array, le = 0): Uint8Array {
  const body = data === undefined ? [] : [data.length >> 8, data.length & 0xff, ...data];
  return Uint8Array.from([0x00, ins, p1, p2, 0x00, ...body, le >> 8, le & 0xff]);
}
