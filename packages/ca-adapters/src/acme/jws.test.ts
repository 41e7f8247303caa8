import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AccountKey, jwkThumbprint } from "./jws.js";

function decode(part: string): unknown {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

describe("JWS (RFC 7515) for ACME", () => {
  it("computes the RFC 7638 §3.1 thumbprint of the RFC's RSA key", () => {
    const n =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj" +
      "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQv" +
      "RL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    expect(jwkThumbprint({ kty: "RSA", n, e: "AQAB", alg: "RS256", kid: "2011-04-29" })).toBe(
      "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
    );
  });

  for (const [label, pair, alg, hash] of [
    ["ES256", generateKeyPairSync("ec", { namedCurve: "P-256" }), "ES256", "sha256"],
    ["ES384", generateKeyPairSync("ec", { namedCurve: "P-384" }), "ES384", "sha384"],
    ["RS256", generateKeyPairSync("rsa", { modulusLength: 2048 }), "RS256", "sha256"],
  ] as const) {
    it(`signs ${label} so that node:crypto verifies it with the embedded JWK`, () => {
      const key = AccountKey.from(pair.privateKey);
      expect(key.algorithm).toBe(alg);
      const jws = key.sign(
        { identifiers: [{ type: "dns", value: "a.example" }] },
        { nonce: "n1", url: "https://x/new-order" },
      );
      const header = decode(jws.protected) as { alg: string; jwk: Record<string, string>; nonce: string; url: string };
      expect(header).toMatchObject({ alg, nonce: "n1", url: "https://x/new-order" });
      const publicKey = createPublicKey({ key: header.jwk, format: "jwk" });
      const ok = verify(
        hash,
        Buffer.from(`${jws.protected}.${jws.payload}`),
        alg === "RS256" ? publicKey : { key: publicKey, dsaEncoding: "ieee-p1363" },
        Buffer.from(jws.signature, "base64url"),
      );
      expect(ok).toBe(true);
      expect(decode(jws.payload)).toEqual({ identifiers: [{ type: "dns", value: "a.example" }] });
    });
  }

  it("uses kid instead of jwk once the account exists, and an empty payload for POST-as-GET", () => {
    const key = AccountKey.from(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);
    const jws = key.sign("", { nonce: "n2", url: "https://x/order/1", kid: "https://x/acct/7" });
    expect(jws.payload).toBe("");
    const header = decode(jws.protected) as Record<string, unknown>;
    expect(header.kid).toBe("https://x/acct/7");
    expect(header.jwk).toBeUndefined();
  });

  it("refuses public keys, small RSA keys and unsupported curves", () => {
    expect(() => AccountKey.from(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey)).toThrow(/private key/);
    expect(() => AccountKey.from(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey)).toThrow(/2048/);
    expect(() => AccountKey.from(generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey)).toThrow(/P-256/);
    expect(() => AccountKey.from("not a key")).toThrow(/readable/);
  });
});
