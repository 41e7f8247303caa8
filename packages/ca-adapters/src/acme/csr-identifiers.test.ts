import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { csrIdentifiers } from "./csr-identifiers.js";

/** A CSR made by openssl with the given subjectAltName (an independent encoder). */
function opensslCsr(san: string | undefined): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "cardwright-ids-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(dir, "k.pem"),
        "-subj",
        "/CN=host",
        ...(san === undefined ? [] : ["-addext", `subjectAltName=${san}`]),
        "-outform",
        "DER",
        "-out",
        join(dir, "r.der"),
      ],
      { stdio: "ignore" },
    );
    return new Uint8Array(readFileSync(join(dir, "r.der")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("csrIdentifiers (RFC 8555 §7.1.4, RFC 8738, RFC 8823)", () => {
  it("maps dNSName, iPAddress (RFC 5952 text) and rfc822Name, without duplicates", () => {
    const csr = opensslCsr(
      "DNS:Host.Example.org,DNS:host.example.org,IP:10.0.0.1,IP:2001:db8:0:0:1:0:0:1,IP:fe80:0:0:0:0:0:0:0,email:ops@example.org",
    );
    expect(csrIdentifiers(csr)).toEqual([
      { type: "dns", value: "host.example.org" },
      { type: "ip", value: "10.0.0.1" },
      { type: "ip", value: "2001:db8::1:0:0:1" },
      { type: "ip", value: "fe80::" },
      { type: "email", value: "ops@example.org" },
    ]);
  });

  it("refuses a CSR with no name ACME can validate, and bytes that are not a CSR", () => {
    expect(() => csrIdentifiers(opensslCsr(undefined))).toThrow(/no dNSName/);
    expect(() => csrIdentifiers(opensslCsr("URI:https://example.org/"))).toThrow(/no dNSName/);
    expect(() => csrIdentifiers(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toThrow(/PKCS#10/);
  });
});
