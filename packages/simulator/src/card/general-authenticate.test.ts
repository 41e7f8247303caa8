import { createHash, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject, verify } from "node:crypto";
import { decodeMap } from "@cardwright/pcsc";
import { describe, expect, it } from "vitest";
import {
  apdu,
  authenticate,
  DEFAULT_KEY,
  dataOf,
  encryptBlock,
  extendedApdu,
  freshCard,
  hex,
  newCard,
  SELECT_PIV,
  send,
  swOf,
  toHex,
  verifyPin,
} from "../../test/apdu-helpers.js";
import type { VirtualPivCard } from "./virtual-piv-card.js";

/** GENERATE in `slot` with `alg`; returns the node public key. */
async function generate(card: VirtualPivCard, slot: number, alg: number, policy?: number): Promise<KeyObject> {
  const inner = [0x80, 0x01, alg, ...(policy === undefined ? [] : [0xaa, 0x01, policy])];
  const rsp = await send(card, apdu(0, 0x47, 0, slot, Uint8Array.from([0xac, inner.length, ...inner]), 0));
  let all = rsp;
  while (swOf(all).startsWith("61")) all = all.slice(0, -4) + (await send(card, "00C0000000"));
  expect(swOf(all)).toBe("9000");
  const template = decodeMap(dataOf(all)).get(0x7f49);
  if (template === undefined) throw new Error("no 7F49");
  const parts = decodeMap(template);
  const b64 = (b: Uint8Array | undefined) => Buffer.from(b ?? new Uint8Array()).toString("base64url");
  if (alg === 0x07)
    return createPublicKey({ key: { kty: "RSA", n: b64(parts.get(0x81)), e: b64(parts.get(0x82)) }, format: "jwk" });
  const point = parts.get(0x86) ?? new Uint8Array();
  const size = (point.length - 1) / 2;
  return createPublicKey({
    key: {
      kty: "EC",
      crv: size === 32 ? "P-256" : "P-384",
      x: b64(point.subarray(1, 1 + size)),
      y: b64(point.subarray(1 + size)),
    },
    format: "jwk",
  });
}

/** GENERAL AUTHENTICATE 7C { 82 00, tag input } with extended length; returns [sw, result]. */
async function privateOp(card: VirtualPivCard, alg: number, slot: number, input: Uint8Array, tag = 0x81) {
  const len = (n: number) => (n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
  const inner = [0x82, 0x00, tag, ...len(input.length), ...input];
  const body = Uint8Array.from([0x7c, ...len(inner.length), ...inner]);
  const rsp = await send(card, extendedApdu(0x87, alg, slot, body, 0));
  if (swOf(rsp) !== "9000") return [swOf(rsp), new Uint8Array()] as const;
  const dyn = decodeMap(dataOf(rsp)).get(0x7c);
  return ["9000", decodeMap(dyn ?? new Uint8Array()).get(0x82) ?? new Uint8Array()] as const;
}

const SHA256_DIGEST_INFO = hex("3031300d060960864801650304020105000420");

function pkcs1v15(message: Uint8Array, modulusBytes: number): Uint8Array {
  const t = Uint8Array.from([...SHA256_DIGEST_INFO, ...createHash("sha256").update(message).digest()]);
  const out = new Uint8Array(modulusBytes).fill(0xff);
  out[0] = 0x00;
  out[1] = 0x01;
  out[modulusBytes - t.length - 1] = 0x00;
  out.set(t, modulusBytes - t.length);
  return out;
}

describe("management key authentication (SP 800-73-4 Part 2 Appendix A.1/A.2)", () => {
  it("5.7 ships an AES-192 default key; TDES is refused with 6A80", async () => {
    const card = await freshCard({ firmware: "5.7.1" });
    expect(await authenticate(card, 0x03)).toBe("6A80");
    expect(await authenticate(card, 0x0a)).toBe("9000");
  });

  it("5.4 ships a TDES default key (same bytes)", async () => {
    const card = await freshCard({ firmware: "5.4.3" });
    expect(await authenticate(card, 0x0a)).toBe("6A80");
    expect(await authenticate(card, 0x03)).toBe("9000");
  });

  it("answers 6982 to a wrong key, and a wrong witness leaves the card unauthenticated", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a, hex("00".repeat(24)))).toBe("6982");
    expect(await send(card, "00DB3FFF095C035FC1025302AABB")).toBe("6982");
  });

  it("answers 6982 to a witness response without a preceding witness request", async () => {
    const card = await freshCard();
    const body = hex(`7C24 8010${"00".repeat(16)} 8110${"11".repeat(16)}`);
    expect(swOf(await send(card, apdu(0, 0x87, 0x0a, 0x9b, body, 0)))).toBe("6982");
  });

  it("supports external authentication: challenge out, its encipherment back", async () => {
    const card = await freshCard({ firmware: "5.4.3" });
    const rsp = await send(card, "008703 9B 04 7C028100 00".replace(/ /g, ""));
    expect(swOf(rsp)).toBe("9000");
    const challenge = dataOf(rsp).subarray(4);
    expect(challenge.length).toBe(8);
    const response = encryptBlock(0x03, DEFAULT_KEY, challenge);
    expect(swOf(await send(card, apdu(0, 0x87, 0x03, 0x9b, Uint8Array.from([0x7c, 10, 0x82, 8, ...response]))))).toBe(
      "9000",
    );
    expect(await send(card, "00DB3FFF095C035FC1025302AABB")).toBe("9000");
  });

  it("forgets a pending witness when another command intervenes", async () => {
    const card = await freshCard();
    const step1 = await send(card, apdu(0, 0x87, 0x0a, 0x9b, hex("7C028000"), 0));
    expect(swOf(step1)).toBe("9000");
    await send(card, "00FD0000");
    const body = hex(`7C24 8010${"00".repeat(16)} 8110${"11".repeat(16)}`);
    expect(swOf(await send(card, apdu(0, 0x87, 0x0a, 0x9b, body, 0)))).toBe("6982");
  });
});

describe("GENERATE ASYMMETRIC KEY PAIR (§3.3.2)", () => {
  it("needs management-key authentication (6982)", async () => {
    const card = await freshCard();
    expect(await send(card, "00470 09A 05 AC03800111 00".replace(/ /g, ""))).toBe("6982");
  });

  it("refuses unknown algorithms (6A80), 9B as a slot (6A86), RSA 4096 before 5.7", async () => {
    const card = await freshCard({ firmware: "5.4.3" });
    expect(await authenticate(card, 0x03)).toBe("9000");
    expect(await send(card, "00470 09A 05 AC03800199 00".replace(/ /g, ""))).toBe("6A80");
    expect(await send(card, "00470 09B 05 AC03800111 00".replace(/ /g, ""))).toBe("6A86");
    expect(await send(card, "00470 09A 05 AC03800116 00".replace(/ /g, ""))).toBe("6A80");
    expect(await send(card, "00470 09A 05 AC0380011100".replace(/ /g, ""))).toMatch(/9000$/);
  });

  it("P-256: 7F49 with an 86 uncompressed point of 65 bytes", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const rsp = await send(card, "00470 09A 05 AC03800111 00".replace(/ /g, ""));
    expect(rsp.slice(0, 12)).toBe("7F4943864104");
    expect(rsp.length).toBe((5 + 65 + 2) * 2);
  });

  for (const [name, alg, hash] of [
    ["ECCP256", 0x11, "sha256"],
    ["ECCP384", 0x14, "sha384"],
  ] as const) {
    it(`${name}: ECDSA over the host's digest verifies against the generated key`, async () => {
      const card = await freshCard();
      expect(await authenticate(card, 0x0a)).toBe("9000");
      const pub = await generate(card, 0x9a, alg);
      expect(await verifyPin(card, "123456")).toBe("9000");
      const message = Buffer.from(`to be signed with ${name}`);
      const [sw, sig] = await privateOp(card, alg, 0x9a, new Uint8Array(createHash(hash).update(message).digest()));
      expect(sw).toBe("9000");
      expect(verify(hash, message, { key: pub, dsaEncoding: "der" }, sig)).toBe(true);
    });
  }

  it("RSA2048: raw private operation over the host's PKCS#1 v1.5 block verifies; wrong length is 6A80", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const pub = await generate(card, 0x9a, 0x07);
    expect(await verifyPin(card, "123456")).toBe("9000");
    const message = Buffer.from("rsa message");
    const [sw, sig] = await privateOp(card, 0x07, 0x9a, pkcs1v15(message, 256));
    expect(sw).toBe("9000");
    expect(sig.length).toBe(256);
    expect(verify("sha256", message, pub, sig)).toBe(true);
    expect((await privateOp(card, 0x07, 0x9a, new Uint8Array(255)))[0]).toBe("6A80");
  });
});

describe("PIN policies of slot keys (YubiKey defaults)", () => {
  const digest = new Uint8Array(createHash("sha256").update("x").digest());

  it("9A: PIN once per session", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    await generate(card, 0x9a, 0x11);
    expect((await privateOp(card, 0x11, 0x9a, digest))[0]).toBe("6982");
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect((await privateOp(card, 0x11, 0x9a, digest))[0]).toBe("9000");
    expect((await privateOp(card, 0x11, 0x9a, digest))[0]).toBe("9000");
  });

  it("9C: PIN immediately before every signature", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    await generate(card, 0x9c, 0x11);
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect((await privateOp(card, 0x11, 0x9c, digest))[0]).toBe("9000");
    expect((await privateOp(card, 0x11, 0x9c, digest))[0]).toBe("6982");
    expect(await verifyPin(card, "123456")).toBe("9000");
    expect((await privateOp(card, 0x11, 0x9c, digest))[0]).toBe("9000");
  });

  it("9E: never needs the PIN; an explicit AA policy overrides the slot default", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    await generate(card, 0x9e, 0x11);
    expect((await privateOp(card, 0x11, 0x9e, digest))[0]).toBe("9000");
    await generate(card, 0x9d, 0x11, 0x01);
    expect((await privateOp(card, 0x11, 0x9d, digest))[0]).toBe("9000");
  });

  it("answers 6A80 for an empty slot or an algorithm that does not match the key", async () => {
    const card = await freshCard();
    expect((await privateOp(card, 0x11, 0x9a, digest))[0]).toBe("6A80");
    expect(await authenticate(card, 0x0a)).toBe("9000");
    await generate(card, 0x9e, 0x11);
    expect((await privateOp(card, 0x14, 0x9e, digest))[0]).toBe("6A80");
  });

  it("9D: ECDH with tag 85 yields the shared secret the peer computes", async () => {
    const card = await freshCard();
    expect(await authenticate(card, 0x0a)).toBe("9000");
    const cardPub = await generate(card, 0x9d, 0x11);
    expect(await verifyPin(card, "123456")).toBe("9000");
    const peer = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = peer.publicKey.export({ format: "jwk" });
    const point = Uint8Array.from([
      4,
      ...Buffer.from(jwk.x as string, "base64url"),
      ...Buffer.from(jwk.y as string, "base64url"),
    ]);
    const [sw, secret] = await privateOp(card, 0x11, 0x9d, point, 0x85);
    expect(sw).toBe("9000");
    expect(toHex(secret)).toBe(
      toHex(new Uint8Array(diffieHellman({ privateKey: peer.privateKey, publicKey: cardPub }))),
    );
    expect((await privateOp(card, 0x11, 0x9d, point.subarray(0, 10), 0x85))[0]).toBe("6A80");
  });
});

describe("touch policies (Yubico AB)", () => {
  const digest = new Uint8Array(createHash("sha256").update("t").digest());
  const genWithTouch = (touch: number) =>
    `0047009E08AC068001 11AB01${touch.toString(16).padStart(2, "0")}00`.replace(/ /g, "");

  it("always: asks for a touch on every use; no touch is 6982", async () => {
    const touches: number[] = [];
    let willTouch = true;
    const card = await newCard({
      touch: async ({ slot }) => {
        touches.push(slot);
        return willTouch;
      },
    });
    await send(card, SELECT_PIV);
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(swOf(await send(card, genWithTouch(2)))).toBe("9000");
    expect((await privateOp(card, 0x11, 0x9e, digest))[0]).toBe("9000");
    expect((await privateOp(card, 0x11, 0x9e, digest))[0]).toBe("9000");
    expect(touches).toEqual([0x9e, 0x9e]);
    willTouch = false;
    expect((await privateOp(card, 0x11, 0x9e, digest))[0]).toBe("6982");
  });

  it("cached: one touch counts for 15 seconds", async () => {
    let now = 1_000_000;
    let touches = 0;
    const card = await newCard({
      now: () => now,
      touch: async () => {
        touches++;
        return true;
      },
    });
    await send(card, SELECT_PIV);
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(swOf(await send(card, genWithTouch(3)))).toBe("9000");
    await privateOp(card, 0x11, 0x9e, digest);
    now += 14_000;
    await privateOp(card, 0x11, 0x9e, digest);
    expect(touches).toBe(1);
    now += 2_000;
    await privateOp(card, 0x11, 0x9e, digest);
    expect(touches).toBe(2);
  });

  it("a management key set with touch (P2 FE) needs a touch to authenticate", async () => {
    let willTouch = true;
    const card = await newCard({ touch: async () => willTouch });
    await send(card, SELECT_PIV);
    expect(await authenticate(card, 0x0a)).toBe("9000");
    expect(swOf(await send(card, apdu(0, 0xff, 0xff, 0xfe, Uint8Array.from([0x0a, 0x9b, 24, ...DEFAULT_KEY]))))).toBe(
      "9000",
    );
    willTouch = false;
    expect(await authenticate(card, 0x0a)).toBe("6982");
    willTouch = true;
    expect(await authenticate(card, 0x0a)).toBe("9000");
  });
});
