import { describe, expect, it } from "vitest";
import { assertEnrollmentAgent } from "./enrollment-agent.js";

describe("assertEnrollmentAgent", () => {
  it("refuses a certificate that is not DER X.509, and a missing signer, with CONFIG_INVALID naming the field", () => {
    const sign = async () => new Uint8Array();
    expect(() => assertEnrollmentAgent({ certificate: new Uint8Array([1, 2, 3]), sign })).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID", details: { field: "enrollmentAgent.certificate" } }),
    );
    expect(() => assertEnrollmentAgent({ certificate: new Uint8Array([0x30, 0]), sign: undefined as never })).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID", details: { field: "enrollmentAgent.sign" } }),
    );
  });
});
