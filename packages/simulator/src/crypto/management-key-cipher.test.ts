import { describe, expect, it } from "vitest";
import { decryptBlocks, encryptBlocks, managementKeyCipher } from "./management-key-cipher.js";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("management key ciphers", () => {
  it("AES-128 matches the FIPS 197 Appendix C.1 vector", () => {
    const c = managementKeyCipher(0x08);
    if (c === undefined) throw new Error("no AES-128");
    const key = hex("000102030405060708090a0b0c0d0e0f");
    const out = encryptBlocks(c, key, hex("00112233445566778899aabbccddeeff"));
    expect(toHex(out)).toBe("69c4e0d86a7b0430d8cdb78070b4c55a");
    expect(toHex(decryptBlocks(c, key, out))).toBe("00112233445566778899aabbccddeeff");
  });

  it("AES-256 matches the FIPS 197 Appendix C.3 vector", () => {
    const c = managementKeyCipher(0x0c);
    if (c === undefined) throw new Error("no AES-256");
    const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    expect(toHex(encryptBlocks(c, key, hex("00112233445566778899aabbccddeeff")))).toBe(
      "8ea2b7ca516745bfeafc49904b496089",
    );
  });

  it("TDES round-trips 8-byte blocks and refuses partial blocks and wrong key lengths", () => {
    const c = managementKeyCipher(0x03);
    if (c === undefined) throw new Error("no TDES");
    const key = hex("0102030405060708a1a2a3a4a5a6a7a8b1b2b3b4b5b6b7b8");
    const block = hex("0011223344556677");
    const enc = encryptBlocks(c, key, block);
    expect(toHex(enc)).not.toBe(toHex(block));
    expect(toHex(decryptBlocks(c, key, enc))).toBe(toHex(block));
    expect(() => encryptBlocks(c, key, hex("0011"))).toThrow(RangeError);
    expect(() => encryptBlocks(c, key.subarray(0, 16), block)).toThrow(RangeError);
  });

  it("knows only 03, 08, 0A and 0C", () => {
    expect([0x03, 0x08, 0x0a, 0x0c, 0x07, 0x00].map((a) => managementKeyCipher(a)?.keyLength)).toEqual([
      24,
      16,
      24,
      32,
      undefined,
      undefined,
    ]);
  });
});
