import { constants, generateKeyPairSync, privateEncrypt, sign, verify } from "node:crypto";
import type { HashAlgorithm } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { digest, ecdsaInput, emsaPkcs1v15 } from "./signature-encoding.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

describe("EMSA-PKCS1-v1_5 (RFC 8017 §9.2)", () => {
  const hashes: Array<[HashAlgorithm, string]> = [
    ["SHA-256", "sha256"],
    ["SHA-384", "sha384"],
    ["SHA-512", "sha512"],
  ];
  for (const [hash, nodeName] of hashes) {
    it(`a raw RSA operation over our ${hash} block equals node's PKCS#1 v1.5 signature`, () => {
      const message = Buffer.from(`to be signed with ${hash}`);
      const em = emsaPkcs1v15(hash, digest(hash, message), 256);
      // What the card does: m^d mod n with no padding of its own.
      const raw = privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, em);
      expect(raw.equals(sign(nodeName, message, privateKey))).toBe(true);
      expect(verify(nodeName, message, publicKey, raw)).toBe(true);
    });
  }

  it("refuses a modulus too short for the digest", () => {
    expect(() => emsaPkcs1v15("SHA-512", new Uint8Array(64), 64)).toThrow(/too short/);
  });
});

describe("ECDSA input", () => {
  it("truncates a longer hash to the leftmost bytes and left-pads a shorter one", () => {
    const h = Uint8Array.from({ length: 48 }, (_, i) => i);
    expect([...ecdsaInput(h, 32)]).toEqual([...h.subarray(0, 32)]);
    const p = ecdsaInput(Uint8Array.of(7, 8), 4);
    expect([...p]).toEqual([0, 0, 7, 8]);
  });
});
