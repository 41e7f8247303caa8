import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  defaultPbmParameter,
  passwordBasedMac,
  pbmAlgorithm,
  readPbmParameter,
  verifyPasswordBasedMac,
} from "./password-based-mac.js";

const secret = new TextEncoder().encode("shared secret");
const salt = Uint8Array.from({ length: 16 }, (_, i) => i);
const data = new TextEncoder().encode("protected part");

describe("PasswordBasedMac (RFC 4210 §5.1.3.1)", () => {
  it("hashes secret‖salt iterationCount times in all, then HMACs with that key", () => {
    const params = { ...defaultPbmParameter(salt), iterationCount: 3 };
    let key = createHash("sha256").update(secret).update(salt).digest();
    key = createHash("sha256").update(key).digest();
    key = createHash("sha256").update(key).digest();
    const expected = createHmac("sha256", key).update(data).digest();
    expect(Buffer.from(passwordBasedMac(secret, params, data)).equals(expected)).toBe(true);
  });

  it("verifies its own MAC and refuses a changed message or secret", () => {
    const params = { ...defaultPbmParameter(salt), iterationCount: 200 };
    const mac = passwordBasedMac(secret, params, data);
    expect(verifyPasswordBasedMac(secret, params, data, mac)).toBe(true);
    expect(verifyPasswordBasedMac(secret, params, new TextEncoder().encode("protected parT"), mac)).toBe(false);
    expect(verifyPasswordBasedMac(new TextEncoder().encode("other"), params, data, mac)).toBe(false);
    expect(verifyPasswordBasedMac(secret, params, data, mac.subarray(1))).toBe(false);
  });

  it("reads back the parameters it writes, and refuses excessive or unknown ones", () => {
    const params = defaultPbmParameter(salt);
    expect(readPbmParameter(pbmAlgorithm(params))).toEqual(params);
    expect(() => readPbmParameter(pbmAlgorithm({ ...params, iterationCount: 1_000_000 }))).toThrow(
      expect.objectContaining({ code: "CA_BAD_RESPONSE" }),
    );
    expect(() => readPbmParameter(pbmAlgorithm({ ...params, owf: "1.2.840.113549.2.5" }))).toThrow(/one-way function/);
    expect(() => readPbmParameter(pbmAlgorithm({ ...params, mac: "1.2.3.4" }))).toThrow(/MAC/);
  });
});
