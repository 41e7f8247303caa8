import { createPublicKey, generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
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

describe("EC point validation (SEC 1 §3.2.2.1) agrees with node:crypto's import", () => {
  const curves = [
    ["ECCP256", "P-256", 32],
    ["ECCP384", "P-384", 48],
  ] as const;
  const nodeAccepts = (crv: string, size: number, point: Uint8Array): boolean => {
    try {
      const x = Buffer.from(point.subarray(1, 1 + size)).toString("base64url");
      const y = Buffer.from(point.subarray(1 + size)).toString("base64url");
      createPublicKey({ key: { kty: "EC", crv, x, y }, format: "jwk" });
      return true;
    } catch {
      return false;
    }
  };
  const ours = (algorithm: "ECCP256" | "ECCP384", point: Uint8Array): Uint8Array | undefined => {
    try {
      return spkiFromPublicKeyElements(algorithm, tlv(0x86, point));
    } catch (err) {
      expect(err).toMatchObject({ code: "APDU_MALFORMED_RESPONSE", message: expect.stringMatching(/not a valid key/) });
      return undefined;
    }
  };

  for (const [algorithm, crv, size] of curves) {
    it(`${crv}: real keys and one-bit corruptions of them`, () => {
      for (let i = 0; i < 20; i++) {
        const { publicKey } = generateKeyPairSync("ec", { namedCurve: crv });
        const der = publicKey.export({ type: "spki", format: "der" });
        const point = Uint8Array.from(der.subarray(der.length - (1 + 2 * size)));
        expect(Buffer.from(ours(algorithm, point) ?? []).equals(der)).toBe(true);
        const bent = Uint8Array.from(point);
        const bit = 8 + ((i * 37) % (16 * size - 8));
        bent[bit >> 3] = (bent[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(ours(algorithm, bent) !== undefined).toBe(nodeAccepts(crv, size, bent));
      }
    });

    it(`${crv}: arbitrary coordinates, including ones at or above the field prime`, () => {
      const coordinate = fc.oneof(
        fc.uint8Array({ minLength: size, maxLength: size }),
        fc
          .uint8Array({ minLength: size, maxLength: size })
          .map((c) => Uint8Array.from(c, (b, i) => (i < 4 ? 0xff : b))),
      );
      fc.assert(
        fc.property(coordinate, coordinate, (x, y) => {
          const point = Uint8Array.from([4, ...x, ...y]);
          expect(ours(algorithm, point) !== undefined).toBe(nodeAccepts(crv, size, point));
        }),
        { numRuns: 200 },
      );
    });
  }

  const FIELD = {
    ECCP256: {
      p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
      b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    },
    ECCP384: {
      p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
      b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    },
  } as const;
  const modPow = (base: bigint, exp: bigint, m: bigint): bigint => {
    let result = 1n;
    let b = base % m;
    for (let e = exp; e > 0n; e >>= 1n) {
      if (e & 1n) result = (result * b) % m;
      b = (b * b) % m;
    }
    return result;
  };
  const bytesOf = (v: bigint, size: number) => Buffer.from(v.toString(16).padStart(2 * size, "0"), "hex");

  for (const [algorithm, crv, size] of curves) {
    it(`${crv}: refuses x + p for an on-curve (x, y) — only the range check tells them apart`, () => {
      const { p, b } = FIELD[algorithm];
      // Smallest x whose right-hand side is a square; p ≡ 3 (mod 4), so its root is rhs^((p+1)/4).
      let x = 0n;
      let y = 0n;
      for (; ; x++) {
        const rhs = (((x * x * x - 3n * x + b) % p) + p) % p;
        y = modPow(rhs, (p + 1n) / 4n, p);
        if ((y * y) % p === rhs) break;
      }
      const onCurve = Uint8Array.from([4, ...bytesOf(x, size), ...bytesOf(y, size)]);
      const aliased = Uint8Array.from([4, ...bytesOf(x + p, size), ...bytesOf(y, size)]);
      expect(ours(algorithm, onCurve)).toBeDefined();
      expect(nodeAccepts(crv, size, onCurve)).toBe(true);
      expect(ours(algorithm, aliased)).toBeUndefined();
      expect(nodeAccepts(crv, size, aliased)).toBe(false);
    });
  }
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
