import { isCardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { makeCsr, tamper } from "../../test/support/csr.js";
import { readCertificationRequest } from "./certification-request.js";

async function invalidReason(der: Uint8Array): Promise<string> {
  try {
    await readCertificationRequest(der);
  } catch (err) {
    expect(isCardwrightError(err, "CA_INVALID_REQUEST")).toBe(true);
    return (err as Error).message;
  }
  throw new Error("expected CA_INVALID_REQUEST");
}

describe("PKCS#10 reading (RFC 2986)", () => {
  it("describes the key and keeps the requested SAN octets", async () => {
    const csr = await makeCsr({
      keyAlgorithm: "ECCP384",
      subject: "CN=Bob",
      upn: "bob@corp.example",
      email: "bob@example.com",
    });
    const info = await readCertificationRequest(csr.der);
    expect(info.publicKey).toEqual({ kind: "EC", curveOid: "1.3.132.0.34" });
    const san = Buffer.from(info.subjectAltName?.value ?? []);
    expect(san.includes(Buffer.from("bob@corp.example"))).toBe(true);
    expect(san.includes(Buffer.from("bob@example.com"))).toBe(true);
    const rsa = await readCertificationRequest((await makeCsr({ keyAlgorithm: "RSA2048", subject: "CN=Carol" })).der);
    expect(rsa.publicKey).toEqual({ kind: "RSA", modulusBits: 2048 });
    expect(rsa.subjectAltName).toBeUndefined();
  });

  it("refuses a request whose signature does not match (no proof of possession)", async () => {
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Mallory" });
    expect(await invalidReason(tamper(csr.der, "Mallory"))).toMatch(/does not verify/);
  });

  it("refuses garbage, truncated DER, trailing bytes and other structures", async () => {
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Dave" });
    expect(await invalidReason(Uint8Array.of(1, 2, 3, 4))).toMatch(/not DER|CertificationRequest/);
    expect(await invalidReason(csr.der.slice(0, csr.der.length - 10))).toMatch(/not DER/);
    expect(await invalidReason(Uint8Array.from([...csr.der, 0]))).toMatch(/stray octets/);
    const notACsr = new Uint8Array(new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 })] }).toBER());
    expect(await invalidReason(notACsr)).toMatch(/not a CertificationRequest/);
    expect(await invalidReason(new Uint8Array())).toMatch(/not DER/);
  });
});
