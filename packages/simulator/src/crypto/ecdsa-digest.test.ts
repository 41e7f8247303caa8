import { createHash, generateKeyPairSync, verify } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { publicPointOf, signDigest } from "./ecdsa-digest.js";
import { bytesToBigInt, P256, P384 } from "./weierstrass.js";

function scalarAndPoint(curve: "P-256" | "P-384") {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
  const jwk = privateKey.export({ format: "jwk" });
  const d = bytesToBigInt(Buffer.from(jwk.d as string, "base64url"));
  const x = Buffer.from(jwk.x as string, "base64url").toString("hex");
  const y = Buffer.from(jwk.y as string, "base64url").toString("hex");
  return { d, publicKey, expectedPoint: `04${x}${y}` };
}

describe("ECDSA over a host-computed digest", () => {
  for (const [curve, params, hash] of [
    ["P-256", P256, "sha256"],
    ["P-384", P384, "sha384"],
  ] as const) {
    it(`${curve}: derives the public point node derives`, () => {
      const { d, expectedPoint } = scalarAndPoint(curve);
      expect(Buffer.from(publicPointOf(params, d)).toString("hex")).toBe(expectedPoint);
    });

    it(`${curve}: signature over the ${hash} digest verifies with node against the message`, () => {
      const { d, publicKey } = scalarAndPoint(curve);
      const message = Buffer.from(`message for ${curve}`);
      const digest = new Uint8Array(createHash(hash).update(message).digest());
      const sig = signDigest(params, d, digest);
      expect(verify(hash, message, { key: publicKey, dsaEncoding: "der" }, sig)).toBe(true);
      expect(verify(hash, Buffer.from("other message"), { key: publicKey, dsaEncoding: "der" }, sig)).toBe(false);
    });
  }

  it("P-256 with a longer (SHA-384) digest truncates it as SEC 1 requires", () => {
    const { d, publicKey } = scalarAndPoint("P-256");
    const message = Buffer.from("truncate me");
    const digest = new Uint8Array(createHash("sha384").update(message).digest());
    const sig = signDigest(P256, d, digest);
    expect(verify("sha384", message, { key: publicKey, dsaEncoding: "der" }, sig)).toBe(true);
  });

  it("is deterministic (RFC 6979) and matches the RFC 6979 A.2.5 P-256/SHA-256 'sample' vector", () => {
    const d = 0xc9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721n;
    const digest = new Uint8Array(createHash("sha256").update("sample").digest());
    const sig = signDigest(P256, d, digest);
    expect(Buffer.from(sig).toString("hex")).toBe(Buffer.from(signDigest(P256, d, digest)).toString("hex"));
    // r and s from RFC 6979 §A.2.5, SHA-256, message "sample".
    const hex = Buffer.from(sig).toString("hex");
    expect(hex).toContain("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716");
    expect(hex).toContain("f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
  });

  it("property: every signature over random messages verifies (DER stays minimal for short r and s)", () => {
    const { d, publicKey } = scalarAndPoint("P-256");
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (message) => {
        const digest = new Uint8Array(createHash("sha256").update(message).digest());
        const sig = signDigest(P256, d, digest);
        expect(verify("sha256", message, { key: publicKey, dsaEncoding: "der" }, sig)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
