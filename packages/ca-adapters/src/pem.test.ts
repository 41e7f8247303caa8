import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { fromPem, fromPemAll, toPem } from "./pem.js";

describe("PEM (RFC 7468)", () => {
  it("wraps base64 at 64 characters between BEGIN and END lines", () => {
    const der = new Uint8Array(100).map((_, i) => i);
    const pem = toPem(der, "CERTIFICATE");
    const lines = pem.trimEnd().split("\n");
    expect(lines[0]).toBe("-----BEGIN CERTIFICATE-----");
    expect(lines.at(-1)).toBe("-----END CERTIFICATE-----");
    expect(lines.slice(1, -1).map((l) => l.length)).toEqual([64, 64, 8]);
    expect(fromPem(pem, "CERTIFICATE")).toEqual(der);
  });

  it("reads every block in order, skipping explanatory text and other labels", () => {
    const a = Uint8Array.of(1, 2, 3);
    const b = Uint8Array.of(4, 5);
    const text = `subject=CN=x\n${toPem(a, "CERTIFICATE")}junk\n${toPem(Uint8Array.of(9), "X509 CRL")}${toPem(b, "CERTIFICATE")}`;
    expect(fromPemAll(text, "CERTIFICATE").map((block) => block.der)).toEqual([a, b]);
    expect(fromPemAll(text).map((block) => block.label)).toEqual(["CERTIFICATE", "X509 CRL", "CERTIFICATE"]);
    expect(fromPem(text, "X509 CRL")).toEqual(Uint8Array.of(9));
  });

  it("throws CONFIG_INVALID when the label is missing or the body is not base64", () => {
    expect(() => fromPem(toPem(Uint8Array.of(1), "CERTIFICATE"), "PRIVATE KEY")).toThrow(/no PEM block labelled/);
    try {
      fromPem("-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n");
      expect.unreachable();
    } catch (err) {
      expect(isCardwrightError(err, "CONFIG_INVALID")).toBe(true);
    }
  });
});
