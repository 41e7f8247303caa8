import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCardwrightError, parseCertificate, type RenewalRequest } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertRenewalOfIssued, signedBy } from "./renewal-checks.js";

/** Certificates and CSRs made by openssl (an independent encoder and signer). */
let dir: string;
let caCertificate: Uint8Array;
let otherCa: Uint8Array;
let leaf: Uint8Array;
let sameKeyCsr: Uint8Array;
let newKeyCsr: Uint8Array;

const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
const der = (name: string) => new Uint8Array(readFileSync(join(dir, name)));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cardwright-renewal-"));
  for (const name of ["ca", "other"]) {
    openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-subj",
      `/CN=${name}`,
      "-days",
      "2",
    );
    openssl("x509", "-in", `${name}.pem`, "-outform", "DER", "-out", `${name}.der`);
  }
  openssl("req", "-new", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=leaf");
  openssl(
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-set_serial",
    "0x0a1b2c",
    "-days",
    "2",
    "-outform",
    "DER",
    "-out",
    "leaf.der",
  );
  openssl("req", "-new", "-key", "leaf.key", "-subj", "/CN=leaf", "-outform", "DER", "-out", "same.der");
  openssl("req", "-new", ...ec, "-keyout", "new.key", "-subj", "/CN=leaf", "-outform", "DER", "-out", "new.der");
  caCertificate = der("ca.der");
  otherCa = der("other.der");
  leaf = der("leaf.der");
  sameKeyCsr = der("same.der");
  newKeyCsr = der("new.der");
});
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function renewal(overrides: Partial<RenewalRequest> = {}): RenewalRequest {
  return {
    requestId: "r-1",
    csr: sameKeyCsr,
    profile: { templateId: "piv-auth", keyUsage: ["digitalSignature"], extendedKeyUsage: [], validityDays: 2 },
    previousCertificate: leaf,
    previousSerialHex: parseCertificate(leaf).serialHex,
    rekey: false,
    ...overrides,
  };
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isCardwrightError(error)) throw new Error(`expected a CardwrightError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

describe("signedBy (RFC 5280 §6.1.3)", () => {
  it("is true only for the issuer's key, and false for bytes that are not certificates", async () => {
    expect(await signedBy(leaf, caCertificate)).toBe(true);
    expect(await signedBy(leaf, otherCa)).toBe(false);
    expect(await signedBy(new Uint8Array([1, 2, 3]), caCertificate)).toBe(false);
  });
});

describe("assertRenewalOfIssued", () => {
  it("accepts a same-key renewal without rekey and a new-key renewal with rekey, returning the serial", async () => {
    const serial = parseCertificate(leaf).serialHex;
    expect(await assertRenewalOfIssued(renewal(), caCertificate, "signed by CA x")).toBe(serial);
    expect(await assertRenewalOfIssued(renewal({ csr: newKeyCsr, rekey: true }), caCertificate, "signed by CA x")).toBe(
      serial,
    );
  });

  it("refuses a serial that is not the previous certificate's", async () => {
    const error = await codeOf(assertRenewalOfIssued(renewal({ previousSerialHex: "ff" }), caCertificate, "x"));
    expect(error.code).toBe("CA_INVALID_REQUEST");
    expect(error.message).toContain("is not the serial of previousCertificate");
  });

  it("refuses a certificate another CA signed, or any when the CA published none, naming this CA", async () => {
    const other = await codeOf(assertRenewalOfIssued(renewal(), otherCa, 'signed by the cfssl CA "c1"'));
    expect(other.code).toBe("CA_UNKNOWN_CERTIFICATE");
    expect(other.message).toMatch(/^renewal: certificate \w+ was not signed by the cfssl CA "c1"$/);
    const none = await codeOf(assertRenewalOfIssued(renewal(), undefined, "issued by EJBCA CA"));
    expect(none.code).toBe("CA_UNKNOWN_CERTIFICATE");
  });

  it("refuses a CSR whose key contradicts rekey", async () => {
    const sameButRekey = await codeOf(assertRenewalOfIssued(renewal({ rekey: true }), caCertificate, "x"));
    expect(sameButRekey).toMatchObject({
      code: "CA_INVALID_REQUEST",
      message: expect.stringContaining("rekey is set"),
    });
    const newWithoutRekey = await codeOf(assertRenewalOfIssued(renewal({ csr: newKeyCsr }), caCertificate, "x"));
    expect(newWithoutRekey).toMatchObject({
      code: "CA_INVALID_REQUEST",
      message: expect.stringContaining("rekey is not set"),
    });
  });
});
