/**
 * Issuance by the embedded CA, cross-checked with OpenSSL: chain validation, the extensions a
 * PIV smart-card logon certificate needs, exact SAN survival, serial shape and validity caps.
 */
import { type CertificateProfile, isCardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CaKeyAlgorithm, EmbeddedCa, ExtensionOid, toPem } from "../src/index.js";
import { makeCsr, type TestKeyAlgorithm, tamper } from "./support/csr.js";
import { type OpensslWorkspace, opensslWorkspace } from "./support/openssl.js";
import { extensionOf, ManualClock, parseCertificate, pivAuthProfile } from "./support/x509.js";

let ws: OpensslWorkspace;
beforeAll(async () => {
  ws = await opensslWorkspace();
});
afterAll(async () => {
  await ws.dispose();
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isCardwrightError(error), `expected a CardwrightError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error;
}

const cases: [CaKeyAlgorithm, TestKeyAlgorithm, string][] = [
  ["ECCP256", "ECCP256", "ecdsa-with-SHA256"],
  ["ECCP384", "ECCP384", "ecdsa-with-SHA384"],
  ["RSA2048", "RSA2048", "sha256WithRSAEncryption"],
];

describe.each(cases)("a %s root issuing for a %s request", (caAlgorithm, keyAlgorithm, signatureName) => {
  it("issues a certificate OpenSSL validates, with the PIV logon extensions and the SAN intact", async () => {
    const ca = await EmbeddedCa.create({
      id: "root",
      subject: "CN=Cardwright Test Root,O=Cardwright",
      keyAlgorithm: caAlgorithm,
      validityDays: 3650,
      crlUrl: "http://pki.example/root.crl",
    });
    const csr = await makeCsr({
      keyAlgorithm,
      subject: "CN=Alice Example,OU=Staff,O=Example",
      upn: "alice@corp.example",
      email: "alice.example@example.com",
    });
    const result = await ca.submit({ requestId: `req-${keyAlgorithm}`, csr: csr.der, profile: pivAuthProfile });
    expect(result.status).toBe("issued");
    if (result.status !== "issued") return;
    expect(result.chain).toEqual([ca.certificate]);

    const tag = `${caAlgorithm}-${keyAlgorithm}`;
    await ws.write(`root-${tag}.pem`, ca.certificatePem());
    await ws.write(`cert-${tag}.pem`, toPem(result.certificate, "CERTIFICATE"));
    await ws.write(`csr-${tag}.pem`, toPem(csr.der, "CERTIFICATE REQUEST"));

    const reqVerify = await ws.run("req", "-verify", "-noout", "-in", `csr-${tag}.pem`);
    expect(reqVerify.code).toBe(0);
    expect(reqVerify.stderr + reqVerify.stdout).toMatch(/verify OK/);

    const verify = await ws.run("verify", "-CAfile", `root-${tag}.pem`, `cert-${tag}.pem`);
    expect(verify.stdout + verify.stderr).toBe(`cert-${tag}.pem: OK\n`);
    expect(verify.code).toBe(0);

    const text = (await ws.run("x509", "-noout", "-text", "-in", `cert-${tag}.pem`)).stdout;
    expect(text).toContain(`Signature Algorithm: ${signatureName}`);
    expect(text).toContain("Subject: O = Example, OU = Staff, CN = Alice Example");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage: \s+TLS Web Client Authentication, Microsoft Smartcard Login/);
    expect(text).toContain("othername: UPN::alice@corp.example");
    expect(text).toContain("email:alice.example@example.com");
    expect(text).toContain("URI:http://pki.example/root.crl");
    expect(text).toMatch(/Subject Key Identifier/);

    const rootText = (await ws.run("x509", "-noout", "-text", "-in", `root-${tag}.pem`)).stdout;
    expect(rootText).toMatch(/Basic Constraints: critical\s+CA:TRUE\n/);
    expect(rootText).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    const rootSki = /Subject Key Identifier: \s+([0-9A-F:]+)/.exec(rootText)?.[1];
    expect(rootSki).toBeDefined();
    expect(text).toMatch(new RegExp(`Authority Key Identifier: \\s+(keyid:)?${rootSki}`));

    // Byte-level: the key, the subject and the SAN are the requested ones.
    const cert = parseCertificate(result.certificate);
    const request = pkijs.CertificationRequest.fromBER(Uint8Array.from(csr.der));
    expect(new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER())).toEqual(csr.spki);
    expect(Buffer.from(cert.subject.toSchema().toBER())).toEqual(Buffer.from(request.subject.toSchema().toBER()));
    const requested = new pkijs.Extensions({ schema: request.attributes?.[0]?.values[0] }).extensions[0];
    const issuedSan = extensionOf(cert, ExtensionOid.subjectAltName);
    expect(Buffer.from(issuedSan?.extnValue.valueBlock.valueHexView ?? [])).toEqual(
      Buffer.from(requested?.extnValue.valueBlock.valueHexView ?? [1]),
    );

    // RFC 5280 §4.1.2.2: 16 octets, positive, no sign octet.
    const serial = new Uint8Array(cert.serialNumber.valueBlock.valueHexView);
    expect(serial.length).toBe(16);
    expect(serial[0]).toBeGreaterThan(0);
    expect(serial[0]).toBeLessThan(0x80);
    const serialOut = (await ws.run("x509", "-noout", "-serial", "-in", `cert-${tag}.pem`)).stdout;
    expect(serialOut.trim()).toBe(`serial=${Buffer.from(serial).toString("hex").toUpperCase()}`);
  });
});

describe("issuing CA under a root", () => {
  it("chains issuing → root, and OpenSSL validates the leaf with the issuing CA untrusted", async () => {
    const root = await EmbeddedCa.create({
      id: "root",
      subject: "CN=Chain Root,O=Cardwright",
      keyAlgorithm: "RSA3072",
      validityDays: 3650,
    });
    const issuing = await EmbeddedCa.createIssuing({
      parent: root,
      id: "issuing",
      subject: "CN=Chain Issuing CA,O=Cardwright",
      keyAlgorithm: "ECCP384",
      validityDays: 1825,
    });
    expect(await issuing.chain()).toEqual([issuing.certificate, root.certificate]);
    const csr = await makeCsr({ keyAlgorithm: "RSA2048", subject: "CN=Bob,O=Example", upn: "bob@corp.example" });
    const result = await issuing.submit({ requestId: "chain-1", csr: csr.der, profile: pivAuthProfile });
    if (result.status !== "issued") throw new Error(`expected issued, got ${result.status}`);
    expect(result.chain).toEqual([issuing.certificate, root.certificate]);

    await ws.write("chain-root.pem", root.certificatePem());
    await ws.write("chain-issuing.pem", issuing.certificatePem());
    await ws.write("chain-leaf.pem", toPem(result.certificate, "CERTIFICATE"));
    const verify = await ws.run(
      "verify",
      "-CAfile",
      "chain-root.pem",
      "-untrusted",
      "chain-issuing.pem",
      "chain-leaf.pem",
    );
    expect(verify.stdout + verify.stderr).toBe("chain-leaf.pem: OK\n");
    // Without the issuing CA there is no path: proves the leaf is not signed by the root.
    const noPath = await ws.run("verify", "-CAfile", "chain-root.pem", "chain-leaf.pem");
    expect(noPath.code).not.toBe(0);

    const issuingText = (await ws.run("x509", "-noout", "-text", "-in", "chain-issuing.pem")).stdout;
    expect(issuingText).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(issuingText).toContain("Issuer: O = Cardwright, CN = Chain Root");
    expect(issuingText).toContain("Signature Algorithm: sha256WithRSAEncryption");

    // The root recorded the issuing CA's certificate, so it can revoke it.
    const issuingSerial = Buffer.from(
      parseCertificate(issuing.certificate).serialNumber.valueBlock.valueHexView,
    ).toString("hex");
    expect((await root.certificateStatus(issuingSerial)).subject).toBe("CN=Chain Issuing CA,O=Cardwright");
  });
});

describe("validity", () => {
  it("backdates notBefore by five minutes and caps notAfter at the CA's notAfter", async () => {
    const clock = new ManualClock(new Date("2031-03-01T08:00:00Z"));
    const ca = await EmbeddedCa.create({
      id: "short",
      subject: "CN=Short Root",
      keyAlgorithm: "ECCP256",
      validityDays: 30,
      clock,
    });
    clock.advance(24 * 3600_000);
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Eve" });
    const profile: CertificateProfile = { ...pivAuthProfile, validityDays: 365 };
    const capped = await ca.submit({ requestId: "long", csr: csr.der, profile });
    if (capped.status !== "issued") throw new Error("expected issued");
    const cert = parseCertificate(capped.certificate);
    expect(cert.notBefore.value.toISOString()).toBe("2031-03-02T07:55:00.000Z");
    expect(cert.notAfter.value).toEqual(ca.notAfter);
    expect(ca.notAfter.toISOString()).toBe("2031-03-31T08:00:00.000Z");

    const short = await ca.submit({
      requestId: "short",
      csr: csr.der,
      profile: { ...pivAuthProfile, validityDays: 7 },
    });
    if (short.status !== "issued") throw new Error("expected issued");
    expect(parseCertificate(short.certificate).notAfter.value.toISOString()).toBe("2031-03-09T08:00:00.000Z");

    clock.advance(40 * 24 * 3600_000);
    const late = await ca.submit({ requestId: "late", csr: csr.der, profile });
    expect(late).toMatchObject({ status: "rejected", reason: expect.stringMatching(/CA certificate expired/) });
  });
});

describe("profiles", () => {
  it("passes through whatever EKU OIDs the profile gives, in order, and names resolve", async () => {
    const ca = await EmbeddedCa.create({
      id: "eku",
      subject: "CN=EKU Root",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
    });
    const csr = await makeCsr({ keyAlgorithm: "RSA2048", subject: "CN=Signer", email: "signer@example.com" });
    const result = await ca.submit({
      requestId: "eku-1",
      csr: csr.der,
      profile: {
        templateId: "signing",
        keyUsage: ["digitalSignature", "nonRepudiation"],
        extendedKeyUsage: ["emailProtection", "1.3.6.1.4.1.311.10.3.12", "1.3.6.1.5.5.7.3.36", "1.2.3.4.5.6"],
        validityDays: 30,
      },
    });
    if (result.status !== "issued") throw new Error("expected issued");
    const eku = extensionOf(parseCertificate(result.certificate), ExtensionOid.extKeyUsage);
    expect(eku?.critical).toBe(false);
    const purposes = pkijs.ExtKeyUsage.fromBER(
      Uint8Array.from(eku?.extnValue.valueBlock.valueHexView ?? []),
    ).keyPurposes;
    expect(purposes).toEqual(["1.3.6.1.5.5.7.3.4", "1.3.6.1.4.1.311.10.3.12", "1.3.6.1.5.5.7.3.36", "1.2.3.4.5.6"]);
    const ku = extensionOf(parseCertificate(result.certificate), ExtensionOid.keyUsage);
    expect(ku?.critical).toBe(true);
    const bits = asn1js.fromBER(Uint8Array.from(ku?.extnValue.valueBlock.valueHexView ?? []))
      .result as asn1js.BitString;
    expect(Buffer.from(bits.toBER()).toString("hex")).toBe("030206c0");
  });

  it("throws CA_INVALID_REQUEST for a malformed profile or a CMC request", async () => {
    const ca = await EmbeddedCa.create({ id: "p", subject: "CN=P", keyAlgorithm: "ECCP256", validityDays: 365 });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=X" });
    await expectCode(
      ca.submit({ requestId: "a", csr: csr.der, profile: { ...pivAuthProfile, validityDays: 0 } }),
      "CA_INVALID_REQUEST",
    );
    await expectCode(
      ca.submit({ requestId: "b", csr: csr.der, profile: { ...pivAuthProfile, extendedKeyUsage: ["smartCardLogin"] } }),
      "CA_INVALID_REQUEST",
    );
    await expectCode(
      ca.submit({ requestId: "c", csr: csr.der, cmc: csr.der, profile: pivAuthProfile }),
      "CA_INVALID_REQUEST",
    );
    // Nothing was recorded for them: a good retry with the same id is issued.
    expect((await ca.submit({ requestId: "a", csr: csr.der, profile: pivAuthProfile })).status).toBe("issued");
  });
});

describe("garbage versus policy refusals", () => {
  it("throws CA_INVALID_REQUEST for a tampered signature or garbage, carrying the requestId", async () => {
    const ca = await EmbeddedCa.create({ id: "g", subject: "CN=G", keyAlgorithm: "ECCP256", validityDays: 365 });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Trudy,O=Example" });
    const tampered = await expectCode(
      ca.submit({ requestId: "t", csr: tamper(csr.der, "Trudy"), profile: pivAuthProfile }),
      "CA_INVALID_REQUEST",
    );
    expect((tampered as unknown as { details: { requestId?: string } }).details.requestId).toBe("t");
    await expectCode(
      ca.submit({ requestId: "g1", csr: Uint8Array.of(0x30, 0x03, 0x02, 0x01), profile: pivAuthProfile }),
      "CA_INVALID_REQUEST",
    );
    await expectCode(
      ca.submit({ requestId: "g2", csr: new Uint8Array(64).fill(0xa5), profile: pivAuthProfile }),
      "CA_INVALID_REQUEST",
    );
    expect(await ca.listPending()).toEqual([]);
  });

  it("answers rejected, with a reason, for well-formed requests that break a rule — and stays rejected", async () => {
    const ca = await EmbeddedCa.create({ id: "r", subject: "CN=R", keyAlgorithm: "ECCP256", validityDays: 365 });
    const weak = await makeCsr({ keyAlgorithm: "RSA1024", subject: "CN=Weak" });
    const first = await ca.submit({ requestId: "weak", csr: weak.der, profile: pivAuthProfile });
    expect(first).toMatchObject({ status: "rejected", reason: expect.stringMatching(/RSA-1024/) });
    expect(await ca.submit({ requestId: "weak", csr: weak.der, profile: pivAuthProfile })).toEqual(first);
    if (first.status === "rejected" && first.caRequestId !== undefined)
      expect(await ca.poll(first.caRequestId)).toEqual(first);

    const anonymous = await makeCsr({ keyAlgorithm: "ECCP256", subject: "", email: "x@example.com" });
    expect(await ca.submit({ requestId: "anon", csr: anonymous.der, profile: pivAuthProfile })).toMatchObject({
      status: "rejected",
      reason: expect.stringMatching(/empty subject/),
    });
    const ec = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Enc" });
    expect(
      await ca.submit({
        requestId: "ec-enc",
        csr: ec.der,
        profile: { ...pivAuthProfile, keyUsage: ["keyEncipherment"] },
      }),
    ).toMatchObject({ status: "rejected", reason: expect.stringMatching(/keyEncipherment/) });
    expect(
      await ca.submit({ requestId: "ee-ca", csr: ec.der, profile: { ...pivAuthProfile, keyUsage: ["keyCertSign"] } }),
    ).toMatchObject({ status: "rejected", reason: expect.stringMatching(/keyCertSign/) });
  });
});

describe("idempotency on requestId", () => {
  it("returns the same certificate without issuing again, even for concurrent or garbage resubmits", async () => {
    const ca = await EmbeddedCa.create({ id: "i", subject: "CN=I", keyAlgorithm: "ECCP256", validityDays: 365 });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Once" });
    const [a, b] = await Promise.all([
      ca.submit({ requestId: "once", csr: csr.der, profile: pivAuthProfile }),
      ca.submit({ requestId: "once", csr: csr.der, profile: pivAuthProfile }),
    ]);
    if (a.status !== "issued" || b.status !== "issued") throw new Error("expected issued");
    expect(b.caRequestId).toBe(a.caRequestId);
    expect(b.certificate).toEqual(a.certificate);
    const again = await ca.submit({ requestId: "once", csr: Uint8Array.of(1, 2, 3), profile: pivAuthProfile });
    expect(again).toEqual(a);
    const other = await ca.submit({ requestId: "twice", csr: csr.der, profile: pivAuthProfile });
    if (other.status !== "issued") throw new Error("expected issued");
    expect(other.certificate).not.toEqual(a.certificate);
  });

  it("poll of an unknown caRequestId throws CA_UNKNOWN_REQUEST", async () => {
    const ca = await EmbeddedCa.create({ id: "u", subject: "CN=U", keyAlgorithm: "ECCP256", validityDays: 365 });
    await expectCode(ca.poll("no-such-request"), "CA_UNKNOWN_REQUEST");
    await expectCode(ca.approve("no-such-request"), "CA_UNKNOWN_REQUEST");
    await expectCode(ca.reject("no-such-request", "no"), "CA_UNKNOWN_REQUEST");
  });
});
