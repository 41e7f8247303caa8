import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { prepareImportKey, zeroImportKey } from "./key-import.js";

const big = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`);
const b64uBig = (s: string | undefined): bigint => big(Buffer.from(s ?? "", "base64url"));

function pkcs8Of(key: ReturnType<typeof generateKeyPairSync>["privateKey"]): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "pkcs8" }));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isCardwrightError(err) ? err.code : "not a CardwrightError";
  }
  return undefined;
}

describe("prepareImportKey (Yubico IMPORT ASYMMETRIC KEY components)", () => {
  it("RSA-2048: five 128-byte CRT components that rebuild the modulus", () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const prepared = prepareImportKey("RSA2048", pkcs8Of(privateKey));
    if (prepared.components.kind !== "rsa") throw new Error("expected RSA components");
    const { p, q, dp, dq, qi } = prepared.components;
    for (const part of [p, q, dp, dq, qi]) expect(part).toHaveLength(128);
    const jwk = privateKey.export({ format: "jwk" });
    expect(big(p) * big(q)).toBe(b64uBig(jwk.n));
    expect(big(qi)).toBe(b64uBig(jwk.qi));
    expect(Buffer.from(prepared.spki).equals(publicKey.export({ format: "der", type: "spki" }))).toBe(true);
  });

  it("P-256 and P-384: the scalar padded to the field size", () => {
    for (const [algorithm, namedCurve, size] of [
      ["ECCP256", "P-256", 32],
      ["ECCP384", "P-384", 48],
    ] as const) {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve });
      const prepared = prepareImportKey(algorithm, pkcs8Of(privateKey));
      if (prepared.components.kind !== "ec") throw new Error("expected an EC scalar");
      expect(prepared.components.scalar).toHaveLength(size);
      expect(big(prepared.components.scalar)).toBe(b64uBig(privateKey.export({ format: "jwk" }).d));
    }
  });

  it("a scalar with leading zero bytes keeps its length", () => {
    // d = 1 is a valid P-256 private key whose scalar is 31 zero bytes then 01.
    const d = Buffer.alloc(32);
    d[31] = 1;
    const gx = "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY";
    const gy = "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
    const key = createPrivateKey({
      key: { kty: "EC", crv: "P-256", d: d.toString("base64url"), x: gx, y: gy },
      format: "jwk",
    });
    const prepared = prepareImportKey("ECCP256", pkcs8Of(key));
    if (prepared.components.kind !== "ec") throw new Error("expected an EC scalar");
    expect(Buffer.from(prepared.components.scalar).equals(d)).toBe(true);
  });

  it("refuses a key of another algorithm, a non-65537 exponent and non-PKCS #8 bytes", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    expect(codeOf(() => prepareImportKey("ECCP384", pkcs8Of(ec)))).toBe("PIV_WRONG_DATA");
    expect(codeOf(() => prepareImportKey("RSA2048", pkcs8Of(ec)))).toBe("PIV_WRONG_DATA");
    const rsa3 = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 }).privateKey;
    expect(codeOf(() => prepareImportKey("RSA2048", pkcs8Of(rsa3)))).toBe("PIV_WRONG_DATA");
    expect(codeOf(() => prepareImportKey("ECCP256", Uint8Array.of(0x30, 0x03, 1, 2, 3)))).toBe("PIV_WRONG_DATA");
  });

  it("zeroImportKey overwrites every component", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const { components } = prepareImportKey("RSA2048", pkcs8Of(privateKey));
    zeroImportKey(components);
    if (components.kind !== "rsa") throw new Error("expected RSA components");
    for (const part of [components.p, components.q, components.dp, components.dq, components.qi]) {
      expect(part.every((b) => b === 0)).toBe(true);
    }
  });
});
