/**
 * AdcsCertificateAuthority against RECORDED PROTOCOL EXCHANGES, not a real AD CS: no Windows CA
 * can run on this machine, so `support/adcs-server.ts` is a local HTTPS server answering like the
 * Certificate Enrollment Web Service (MS-WSTEP), the Enrollment Policy Web Service (MS-XCEP) and
 * the /certsrv pages, with message shapes built from the Microsoft open specifications' examples,
 * and real certificates from an openssl-made CA. What it cannot show: Kerberos/NTLM (out of scope),
 * the exact HTML of localized certsrv pages, and a real policy module's checks.
 */
import { buildCmcFullPkiRequest, isCardwrightError, parseCertificate, spkiEquals } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdcsCertificateAuthority, type AdcsCertificateAuthorityOptions } from "../src/index.js";
import {
  ADCS_PASSWORD,
  ADCS_USER,
  type AdcsServer,
  CEP_PATH,
  CES_PATH,
  startAdcsServer,
} from "./support/adcs-server.js";
import { makeEnrollmentAgent } from "./support/cmc-agent.js";
import { makeCsr } from "./support/csr.js";
import { freePort } from "./support/net.js";
import { pem } from "./support/openssl-ca.js";
import { pivAuthProfile } from "./support/x509.js";

let server: AdcsServer;
let counter = 0;

beforeAll(async () => {
  server = await startAdcsServer();
}, 60_000);

afterAll(async () => {
  await server?.close();
});

const credentials = async () => ({ username: ADCS_USER, password: ADCS_PASSWORD });

function ces(extra: Partial<AdcsCertificateAuthorityOptions> = {}): AdcsCertificateAuthority {
  return new AdcsCertificateAuthority({
    id: "adcs",
    enrollmentServiceUrl: `${server.origin}${CES_PATH}`,
    policyServiceUrl: `${server.origin}${CEP_PATH}`,
    credentials,
    http: { ca: server.tlsCa, timeoutMs: 10_000 },
    ...extra,
  });
}

function certsrv(extra: Partial<AdcsCertificateAuthorityOptions> = {}): AdcsCertificateAuthority {
  return new AdcsCertificateAuthority({
    id: "adcs-web",
    webEnrollmentUrl: `${server.origin}/certsrv`,
    credentials,
    http: { ca: server.tlsCa, timeoutMs: 10_000 },
    ...extra,
  });
}

async function request(template: string | undefined) {
  const csr = await makeCsr({
    keyAlgorithm: "ECCP256",
    subject: `CN=ADCS User ${counter},O=Example`,
    upn: `user${counter}@corp.example`,
  });
  const profile = template === undefined ? pivAuthProfile : { ...pivAuthProfile, caProfile: template };
  return { csr, request: { requestId: `adcs-${counter++}`, csr: csr.der, profile } };
}

async function opensslVerify(certificate: Uint8Array, chain: Uint8Array[]): Promise<number> {
  await server.workspace.write("v-root.pem", pem(chain[chain.length - 1] ?? new Uint8Array()));
  await server.workspace.write(
    "v-untrusted.pem",
    chain
      .slice(0, -1)
      .map((c) => pem(c))
      .join(""),
  );
  await server.workspace.write("v-leaf.pem", pem(certificate));
  return (await server.workspace.run("verify", "-CAfile", "v-root.pem", "-untrusted", "v-untrusted.pem", "v-leaf.pem"))
    .code;
}

describe("AdcsCertificateAuthority over MS-WSTEP / MS-XCEP (recorded exchanges)", () => {
  it("reads the templates, their OIDs, validity and enrollment URIs from GetPolicies (MS-XCEP)", async () => {
    const templates = await ces().policies();
    expect(templates.map((t) => t.name)).toEqual(["CardwrightUser", "CardwrightApproval"]);
    expect(templates[0]).toEqual({
      name: "CardwrightUser",
      oid: "1.3.6.1.4.1.311.21.8.100.1",
      validitySeconds: 31536000,
      enrollmentUris: [
        { uri: `${server.origin}${CES_PATH}`, clientAuthentication: 4, priority: 1, renewalOnly: false },
      ],
    });
    expect(server.records.at(-1)).toMatchObject({ channel: "cep", authenticatedAs: ADCS_USER, status: 200 });
  });

  it("finds the enrollment service for the template through the policy service when no CES URL is configured", async () => {
    const ca = ces({ enrollmentServiceUrl: undefined });
    const before = server.records.length;
    const first = await ca.submit((await request("CardwrightUser")).request);
    expect(first.status).toBe("issued");
    const second = await ca.submit((await request("CardwrightApproval")).request);
    expect(second.status).toBe("pending");
    if (second.status !== "pending") return;
    expect((await ca.poll(second.caRequestId)).status).toBe("pending");
    // One GetPolicies, cached; the enrollments and the poll went to the CES URI the policy lists.
    expect(server.records.slice(before).map((r) => r.channel)).toEqual(["cep", "ces", "ces", "ces"]);
    await expect(ca.submit((await request("NotInPolicy")).request)).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("does not offer template"),
    });
    const noAuth = ces({ enrollmentServiceUrl: undefined, credentials: undefined });
    await expect(noAuth.submit((await request("CardwrightUser")).request)).rejects.toMatchObject({
      code: "CA_INVALID_REQUEST",
      message: expect.stringContaining("verifying security"),
    });
  });

  it("enrolls a PKCS#10 for the profile's template and returns the certificate with the CA chain", async () => {
    const { csr, request: req } = await request("CardwrightUser");
    const result = await ces().submit(req);
    expect(result.status).toBe("issued");
    if (result.status !== "issued") return;
    expect(result.caRequestId).toMatch(/^\d+$/);
    expect(spkiEquals(parseCertificate(result.certificate).spki, csr.spki)).toBe(true);
    expect(result.chain.map((c) => Buffer.from(c).toString("hex"))).toEqual(
      server.ca.chain.map((c) => Buffer.from(c).toString("hex")),
    );
    expect(await opensslVerify(result.certificate, result.chain)).toBe(0);
    expect(server.records.at(-1)).toMatchObject({
      channel: "ces",
      operation: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
      template: "CardwrightUser",
      valueType: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10",
      authenticatedAs: ADCS_USER,
    });
  });

  it("answers 'taken under submission' as pending with the CA request id, and retrieves it once approved", async () => {
    const ca = ces();
    const { csr, request: req } = await request("CardwrightApproval");
    const first = await ca.submit(req);
    expect(first).toMatchObject({ status: "pending", retryAfterSeconds: 300 });
    if (first.status !== "pending") return;
    expect(await ca.poll(first.caRequestId)).toMatchObject({ status: "pending", caRequestId: first.caRequestId });
    expect(server.records.at(-1)?.operation).toBe(
      "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/QueryTokenStatus",
    );
    await server.approve(first.caRequestId);
    const done = await ces().poll(first.caRequestId);
    expect(done.status).toBe("issued");
    if (done.status !== "issued") return;
    // A fresh adapter has no ledger entry, so it could not check the key; the first one can.
    const mine = await ca.poll(first.caRequestId);
    expect(mine).toMatchObject({ status: "issued", caRequestId: first.caRequestId });
    if (mine.status !== "issued") return;
    expect(spkiEquals(parseCertificate(mine.certificate).spki, csr.spki)).toBe(true);
    const calls = server.records.length;
    expect(await ca.submit(req)).toEqual(mine);
    expect(server.records.length).toBe(calls);
  });

  it("reports a policy-module denial as rejected with the HRESULT, and an officer's denial on poll", async () => {
    const denied = await ces().submit((await request("Forbidden")).request);
    expect(denied).toMatchObject({ status: "rejected", reason: expect.stringContaining("0x80094012") });
    expect(denied.caRequestId).toMatch(/^\d+$/);
    const unsupported = await ces().submit((await request("NoSuchTemplate")).request);
    expect(unsupported).toMatchObject({
      status: "rejected",
      reason: expect.stringContaining("not supported by this CA"),
    });

    const ca = ces();
    const held = await ca.submit((await request("CardwrightApproval")).request);
    if (held.status !== "pending") throw new Error("expected pending");
    server.deny(held.caRequestId);
    expect(await ca.poll(held.caRequestId)).toMatchObject({
      status: "rejected",
      reason: expect.stringContaining("Denied by"),
    });
  });

  it("sends a CMC request signed by an enrollment agent as a PKCS#7 token; the certificate is for the device's key", async () => {
    const agent = await makeEnrollmentAgent(server.workspace, "Enrollment Agent");
    const { csr, request: req } = await request("CardwrightUser");
    const cmc = await buildCmcFullPkiRequest({
      csr: req.csr,
      agentCertificate: agent.certificate,
      agentSigner: agent.signer,
    });
    const result = await ces().submit({ ...req, cmc });
    expect(result.status).toBe("issued");
    if (result.status !== "issued") return;
    expect(spkiEquals(parseCertificate(result.certificate).spki, csr.spki)).toBe(true);
    expect(server.records.at(-1)?.valueType).toBe("http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS7");

    // The same CMC through the web enrollment pages.
    const web = await certsrv().submit({ ...req, requestId: `${req.requestId}-web`, cmc });
    expect(web.status).toBe("issued");
    if (web.status !== "issued") return;
    expect(spkiEquals(parseCertificate(web.certificate).spki, csr.spki)).toBe(true);

    // A CMC whose signature is broken is refused, not issued.
    const broken = cmc.slice();
    const at = Buffer.from(broken).indexOf(Buffer.from(`ADCS User`));
    broken[at] = (broken[at] as number) ^ 0x20;
    const refused = await ces().submit({ ...req, requestId: `${req.requestId}-broken`, cmc: broken });
    expect(refused).toMatchObject({ status: "rejected", reason: expect.stringContaining("CMC signature") });
  });

  it("maps refused credentials, unknown request ids, a foreign key and missing templates to typed errors", async () => {
    const wrong = await ces({ credentials: async () => ({ username: ADCS_USER, password: "not-the-password-123" }) })
      .submit((await request("CardwrightUser")).request)
      .catch((e: unknown) => e);
    expect(isCardwrightError(wrong, "CA_INVALID_REQUEST")).toBe(true);
    expect(JSON.stringify(wrong)).not.toContain("not-the-password-123");
    await expect(ces().poll("987654")).rejects.toMatchObject({ code: "CA_UNKNOWN_REQUEST" });
    await expect(ces().poll("not-a-number")).rejects.toMatchObject({ code: "CA_UNKNOWN_REQUEST" });
    await expect(ces().submit((await request("CardwrightWrongKey")).request)).rejects.toMatchObject({
      code: "CA_BAD_RESPONSE",
    });
    await expect(ces().submit((await request(undefined)).request)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    await expect(ces().revoke("01", "keyCompromise")).rejects.toMatchObject({ code: "CA_UNSUPPORTED" });
  });
});

describe("AdcsCertificateAuthority over /certsrv web enrollment (recorded exchanges)", () => {
  it("posts certfnsh.asp with CertificateTemplate:<name>, then downloads certnew.cer and the chain", async () => {
    const { csr, request: req } = await request("CardwrightUser");
    const result = await certsrv().submit(req);
    expect(result.status).toBe("issued");
    if (result.status !== "issued") return;
    expect(spkiEquals(parseCertificate(result.certificate).spki, csr.spki)).toBe(true);
    expect(await opensslVerify(result.certificate, result.chain)).toBe(0);
    const ops = server.records.slice(-3).map((r) => [r.operation, r.template]);
    expect(ops).toEqual([
      ["/certsrv/certfnsh.asp", "CardwrightUser"],
      ["/certsrv/certnew.cer", undefined],
      ["/certsrv/certnew.p7b", undefined],
    ]);
  });

  it("reads the pending page's request id, then retrieves with certnew.cer once approved; denial and unknown ids", async () => {
    const ca = certsrv();
    const first = await ca.submit((await request("CardwrightApproval")).request);
    expect(first.status).toBe("pending");
    if (first.status !== "pending") return;
    expect((await ca.poll(first.caRequestId)).status).toBe("pending");
    await server.approve(first.caRequestId);
    expect((await ca.poll(first.caRequestId)).status).toBe("issued");
    expect(await certsrv().submit((await request("Forbidden")).request)).toMatchObject({
      status: "rejected",
      reason: expect.stringContaining("permissions on the certificate template"),
    });
    await expect(certsrv().poll("424242")).rejects.toMatchObject({ code: "CA_UNKNOWN_REQUEST" });
    await expect(
      certsrv({ credentials: undefined }).submit((await request("CardwrightUser")).request),
    ).rejects.toMatchObject({
      code: "CA_INVALID_REQUEST",
    });
  });

  it("falls back to certsrv when the enrollment web service is down; CA_UNAVAILABLE when both are", async () => {
    server.cesDown = true;
    try {
      const both = ces({ webEnrollmentUrl: `${server.origin}/certsrv` });
      const result = await both.submit((await request("CardwrightUser")).request);
      expect(result.status).toBe("issued");
      const recent = server.records.slice(-4).map((r) => `${r.channel}:${r.status}`);
      expect(recent[0]).toBe("ces:503");
      expect(recent.slice(1).every((r) => r.startsWith("certsrv:200"))).toBe(true);
      await expect(ces().submit((await request("CardwrightUser")).request)).rejects.toMatchObject({
        code: "CA_UNAVAILABLE",
      });
    } finally {
      server.cesDown = false;
    }
    const port = await freePort();
    await expect(
      ces({
        enrollmentServiceUrl: `https://127.0.0.1:${port}/ces`,
        webEnrollmentUrl: `https://127.0.0.1:${port}/certsrv`,
      }).submit((await request("CardwrightUser")).request),
    ).rejects.toMatchObject({ code: "CA_UNAVAILABLE" });
  });
});
