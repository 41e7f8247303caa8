import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { concat, tlv } from "../tlv.js";
import { parseMetadata } from "./metadata.js";
import { spkiFromPublicKeyElements } from "./public-key.js";

const b64 = (s: string | undefined) => Buffer.from(s ?? "", "base64url");

describe("public key template 7F49 → SPKI (SP 800-73-4 Part 2 §3.3.2)", () => {
  it("rebuilds an RSA-2048 key from modulus 81 and exponent 82", () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = publicKey.export({ format: "jwk" });
    const elements = concat(tlv(0x81, b64(jwk.n)), tlv(0x82, b64(jwk.e)));
    const spki = spkiFromPublicKeyElements("RSA2048", elements);
    expect(Buffer.from(spki).equals(publicKey.export({ type: "spki", format: "der" }))).toBe(true);
  });

  for (const [algorithm, crv] of [
    ["ECCP256", "P-256"],
    ["ECCP384", "P-384"],
  ] as const) {
    it(`rebuilds a ${crv} key from the uncompressed point 86`, () => {
      const { publicKey } = generateKeyPairSync("ec", { namedCurve: crv });
      const jwk = publicKey.export({ format: "jwk" });
      const spki = spkiFromPublicKeyElements(algorithm, tlv(0x86, concat(Uint8Array.of(4), b64(jwk.x), b64(jwk.y))));
      expect(Buffer.from(spki).equals(publicKey.export({ type: "spki", format: "der" }))).toBe(true);
    });
  }

  it("refuses a point that is not on the curve or the wrong size", () => {
    const offCurve = concat(Uint8Array.of(4), new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    expect(() => spkiFromPublicKeyElements("ECCP256", tlv(0x86, offCurve))).toThrow(/not a valid key/);
    expect(() => spkiFromPublicKeyElements("ECCP384", tlv(0x86, offCurve))).toThrow(/uncompressed P-384/);
    expect(() => spkiFromPublicKeyElements("RSA2048", tlv(0x81, new Uint8Array(128)))).toThrow(/modulus or exponent/);
  });
});

describe("GET METADATA parsing", () => {
  it("refuses unknown algorithm, policy and origin bytes", () => {
    expect(() => parseMetadata(tlv(1, Uint8Array.of(0x42)))).toThrow(/unknown algorithm byte/);
    expect(() => parseMetadata(concat(tlv(1, Uint8Array.of(0x11)), tlv(2, Uint8Array.of(9, 0))))).toThrow(/PIN policy/);
    expect(() => parseMetadata(concat(tlv(1, Uint8Array.of(0x11)), tlv(3, Uint8Array.of(7))))).toThrow(/origin/);
    expect(() => parseMetadata(tlv(2, Uint8Array.of(1, 1)))).toThrow(/algorithm/);
  });

  it("reads the management key's algorithm, touch policy and default flag", () => {
    const m = parseMetadata(concat(tlv(1, Uint8Array.of(0x03)), tlv(2, Uint8Array.of(0, 2)), tlv(5, Uint8Array.of(0))));
    expect(m).toEqual({ algorithm: "TDES", pinPolicy: "default", touchPolicy: "always", isDefault: false });
  });
});
