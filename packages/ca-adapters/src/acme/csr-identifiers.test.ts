import { describe, expect, it } from "vitest";
import { opensslCsr } from "../../test/support/openssl-csr.js";
import { csrIdentifiers } from "./csr-identifiers.js";

/** A CSR made by openssl with the given subjectAltName (an independent encoder). */
const csrWith = (san: string | undefined) =>
  opensslCsr({ subject: "/CN=host", ...(san === undefined ? {} : { subjectAltName: san }) });

describe("csrIdentifiers (RFC 8555 §7.1.4, RFC 8738, RFC 8823)", () => {
  it("maps dNSName, iPAddress (RFC 5952 text) and rfc822Name, without duplicates", () => {
    const csr = csrWith(
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
    expect(() => csrIdentifiers(csrWith(undefined))).toThrow(/no dNSName/);
    expect(() => csrIdentifiers(csrWith("URI:https://example.org/"))).toThrow(/no dNSName/);
    expect(() => csrIdentifiers(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toThrow(/PKCS#10/);
  });
});
