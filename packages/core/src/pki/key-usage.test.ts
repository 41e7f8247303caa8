import { describe, expect, it } from "vitest";
import { keyUsageBitString, keyUsagesOf } from "./key-usage.js";

const hex = (bits: { toBER(): ArrayBuffer }) => Buffer.from(bits.toBER()).toString("hex");

describe("keyUsage BIT STRING (RFC 5280 §4.2.1.3, X.690 §11.2.2)", () => {
  it("encodes byte-exact DER with trailing zero bits dropped", () => {
    expect(hex(keyUsageBitString(["digitalSignature"]))).toBe("03020780");
    expect(hex(keyUsageBitString(["keyCertSign", "cRLSign"]))).toBe("03020106");
    expect(hex(keyUsageBitString(["digitalSignature", "keyEncipherment"]))).toBe("030205a0");
    expect(hex(keyUsageBitString(["digitalSignature", "nonRepudiation"]))).toBe("030206c0");
    expect(hex(keyUsageBitString(["keyAgreement"]))).toBe("03020308");
  });

  it("decodes back to the same set", () => {
    expect(keyUsagesOf(keyUsageBitString(["keyEncipherment", "digitalSignature"]))).toEqual([
      "digitalSignature",
      "keyEncipherment",
    ]);
  });

  it("refuses an empty set", () => {
    expect(() => keyUsageBitString([])).toThrow(RangeError);
  });
});
