/**
 * Revocation, holds and CRLs (RFC 5280 §5), checked with `openssl crl -verify` and
 * `openssl verify -crl_check`.
 */
import { isCardwrightError } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedCa, toPem } from "../src/index.js";
import { makeCsr } from "./support/csr.js";
import { type OpensslWorkspace, opensslWorkspace } from "./support/openssl.js";
import { ManualClock, pivAuthProfile, serialHexOf } from "./support/x509.js";

let ws: OpensslWorkspace;
beforeAll(async () => {
  ws = await opensslWorkspace();
});
afterAll(async () => {
  await ws.dispose();
});

async function issue(ca: EmbeddedCa, requestId: string): Promise<{ der: Uint8Array; serial: string }> {
  const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: `CN=${requestId}` });
  const result = await ca.submit({ requestId, csr: csr.der, profile: pivAuthProfile });
  if (result.status !== "issued") throw new Error(`expected issued, got ${result.status}`);
  return { der: result.certificate, serial: serialHexOf(result.certificate) };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  return isCardwrightError(error) ? error.code : `not a CardwrightError: ${String(error)}`;
}

/** Write the CA's next CRL and return `openssl crl -text` of it after checking its signature. */
async function crlText(ca: EmbeddedCa, name: string, caFile: string): Promise<string> {
  await ws.write(name, toPem(await ca.crl(), "X509 CRL"));
  const verified = await ws.run("crl", "-noout", "-verify", "-CAfile", caFile, "-in", name);
  expect(verified.stderr + verified.stdout).toMatch(/verify OK/);
  expect(verified.code).toBe(0);
  return (await ws.run("crl", "-noout", "-text", "-in", name)).stdout;
}

describe("revocation and CRLs", () => {
  it("revokes with reason codes, puts on and lifts holds, and OpenSSL enforces the CRL", async () => {
    // An hour in the past, so advancing it never dates a CRL after the real time OpenSSL checks with.
    const clock = new ManualClock(new Date(Date.now() - 3600_000));
    const ca = await EmbeddedCa.create({
      id: "rev",
      subject: "CN=Revocation Root,O=Cardwright",
      keyAlgorithm: "ECCP384",
      validityDays: 365,
      crlValidityHours: 12,
      clock,
    });
    await ws.write("rev-root.pem", ca.certificatePem());
    const lost = await issue(ca, "lost");
    const held = await issue(ca, "held");
    const fine = await issue(ca, "fine");
    for (const [name, cert] of Object.entries({ lost, held, fine })) {
      await ws.write(`rev-${name}.pem`, toPem(cert.der, "CERTIFICATE"));
    }

    const empty = await crlText(ca, "rev-0.crl", "rev-root.pem");
    expect(empty).toContain("No Revoked Certificates.");
    expect(empty).toMatch(/X509v3 CRL Number: \s+1\n/);
    expect(empty).toContain("Issuer: O = Cardwright, CN = Revocation Root");
    expect(empty).toMatch(/Authority Key Identifier/);
    expect(empty).toContain("Signature Algorithm: ecdsa-with-SHA384");

    await ca.revoke(lost.serial, "keyCompromise");
    await ca.revoke(lost.serial.toUpperCase(), "superseded"); // idempotent: the first reason stays
    await ca.suspend(held.serial);
    await ca.suspend(held.serial); // idempotent
    clock.advance(1000);
    const text = await crlText(ca, "rev-1.crl", "rev-root.pem");
    expect(text).toMatch(/X509v3 CRL Number: \s+2\n/);
    expect(text).toContain(`Serial Number: ${lost.serial.toUpperCase()}`);
    expect(text).toContain(`Serial Number: ${held.serial.toUpperCase()}`);
    expect(text).not.toContain(fine.serial.toUpperCase());
    expect(text).toMatch(new RegExp(`${lost.serial.toUpperCase()}[\\s\\S]*?CRL Reason Code:\\s+Key Compromise`));
    expect(text).toMatch(new RegExp(`${held.serial.toUpperCase()}[\\s\\S]*?CRL Reason Code:\\s+Certificate Hold`));
    expect(text).not.toContain("Superseded");
    const thisUpdate = /Last Update: (.+)\n/.exec(text)?.[1];
    const nextUpdate = /Next Update: (.+)\n/.exec(text)?.[1];
    expect(Date.parse(nextUpdate ?? "") - Date.parse(thisUpdate ?? "")).toBe(12 * 3600_000);

    const check = (leaf: string) =>
      ws.run("verify", "-crl_check", "-CAfile", "rev-root.pem", "-CRLfile", "rev-1.crl", leaf);
    const revoked = await check("rev-lost.pem");
    expect(revoked.code).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toMatch(/certificate revoked/);
    expect((await check("rev-held.pem")).stdout + (await check("rev-held.pem")).stderr).toMatch(/certificate revoked/);
    const fineCheck = await check("rev-fine.pem");
    expect(fineCheck.stdout + fineCheck.stderr).toBe("rev-fine.pem: OK\n");

    // Lifting the hold takes the entry off the next CRL; the permanent revocation stays.
    await ca.unsuspend(held.serial);
    await ca.unsuspend(held.serial); // idempotent
    await crlText(ca, "rev-2.crl", "rev-root.pem");
    const after = await ws.run(
      "verify",
      "-crl_check",
      "-CAfile",
      "rev-root.pem",
      "-CRLfile",
      "rev-2.crl",
      "rev-held.pem",
    );
    expect(after.stdout).toBe("rev-held.pem: OK\n");
    const stillRevoked = await ws.run(
      "verify",
      "-crl_check",
      "-CAfile",
      "rev-root.pem",
      "-CRLfile",
      "rev-2.crl",
      "rev-lost.pem",
    );
    expect(stillRevoked.stdout + stillRevoked.stderr).toMatch(/certificate revoked/);
    expect((await ca.certificateStatus(lost.serial)).revocation?.reason).toBe("keyCompromise");
    expect((await ca.certificateStatus(held.serial)).revocation).toBeUndefined();
  });

  it("turns a hold into a permanent revocation, and refuses holds on revoked certificates", async () => {
    const ca = await EmbeddedCa.create({
      id: "hold",
      subject: "CN=Hold Root",
      keyAlgorithm: "RSA2048",
      validityDays: 365,
    });
    await ws.write("hold-root.pem", ca.certificatePem());
    const cert = await issue(ca, "h1");
    await ca.revoke(cert.serial, "certificateHold");
    expect((await ca.certificateStatus(cert.serial)).revocation?.reason).toBe("certificateHold");
    await ca.revoke(cert.serial, "cessationOfOperation");
    expect(await codeOf(ca.suspend(cert.serial))).toBe("CA_WRONG_STATE");
    expect(await codeOf(ca.unsuspend(cert.serial))).toBe("CA_WRONG_STATE");
    expect(await codeOf(ca.revoke(cert.serial, "removeFromCRL"))).toBe("CA_WRONG_STATE");
    const text = await crlText(ca, "hold.crl", "hold-root.pem");
    expect(text).toContain("Cessation Of Operation");
    expect(text).toContain("Signature Algorithm: sha256WithRSAEncryption");

    const unspecified = await issue(ca, "h2");
    await ca.revoke(unspecified.serial, "unspecified");
    const text2 = await crlText(ca, "hold2.crl", "hold-root.pem");
    // RFC 5280 §5.3.1: reasonCode unspecified SHOULD be absent.
    expect(text2).toMatch(
      new RegExp(
        `Serial Number: ${unspecified.serial.toUpperCase()}\\s+Revocation Date: [^\\n]+\\n(?!\\s+CRL entry extensions)`,
      ),
    );
  });

  it("throws typed errors for unknown serials and reasons", async () => {
    const ca = await EmbeddedCa.create({
      id: "unk",
      subject: "CN=Unknown Root",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
    });
    expect(await codeOf(ca.revoke("0123456789abcdef", "keyCompromise"))).toBe("CA_UNKNOWN_CERTIFICATE");
    expect(await codeOf(ca.suspend("0123456789abcdef"))).toBe("CA_UNKNOWN_CERTIFICATE");
    expect(await codeOf(ca.unsuspend("not hex"))).toBe("CA_UNKNOWN_CERTIFICATE");
    const cert = await issue(ca, "x");
    expect(await codeOf(ca.revoke(cert.serial, "bogus" as never))).toBe("CA_INVALID_REQUEST");
  });

  it("an issuing CA signs its own CRL; the root can revoke the issuing CA", async () => {
    const root = await EmbeddedCa.create({
      id: "r",
      subject: "CN=CRL Root",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
    });
    const issuing = await EmbeddedCa.createIssuing({
      parent: root,
      id: "i",
      subject: "CN=CRL Issuing",
      keyAlgorithm: "ECCP256",
      validityDays: 300,
    });
    await ws.write("ci-root.pem", root.certificatePem());
    await ws.write("ci-chain.pem", root.certificatePem() + issuing.certificatePem());
    await ws.write("ci-issuing.pem", issuing.certificatePem());
    const leaf = await issue(issuing, "leaf");
    await ws.write("ci-leaf.pem", toPem(leaf.der, "CERTIFICATE"));
    await issuing.revoke(leaf.serial, "affiliationChanged");
    const text = await crlText(issuing, "ci-issuing.crl", "ci-chain.pem");
    expect(text).toContain("Affiliation Changed");
    expect(text).toContain("Issuer: CN = CRL Issuing");
    const check = await ws.run(
      "verify",
      "-crl_check",
      "-CAfile",
      "ci-root.pem",
      "-untrusted",
      "ci-issuing.pem",
      "-CRLfile",
      "ci-issuing.crl",
      "ci-leaf.pem",
    );
    expect(check.stdout + check.stderr).toMatch(/certificate revoked/);

    await root.revoke(serialHexOf(issuing.certificate), "cACompromise");
    expect(await crlText(root, "ci-root.crl", "ci-root.pem")).toContain("CA Compromise");
  });
});
