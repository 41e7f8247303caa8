/**
 * EstCertificateAuthority (RFC 7030) against RECORDED EXCHANGES, not a real EST product: no EST
 * server can be installed on this machine, so `support/est-server.ts` is a local HTTPS server
 * that answers as RFC 7030 §4 and its Appendix A examples show, checks what we send, and signs
 * real certificates with an openssl-made CA. What it cannot show: a vendor server's quirks
 * (e.g. non-base64 DER bodies, multipart responses), a CA's own CMC policy (here: sign what a
 * verifying agent signature wraps), server-side key generation (§4.4) and CSR attributes (§4.5),
 * which the adapter does not implement.
 */
import { buildCmcFullPkiRequest, isCardwrightError, parseCertificate, spkiEquals } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EstCertificateAuthority, type EstCertificateAuthorityOptions, MemoryEstRequestLedger } from "../src/index.js";
import { makeEnrollmentAgent } from "./support/cmc-agent.js";
import { makeCsr } from "./support/csr.js";
import { EST_PASSWORD, EST_USER, type EstServer, startEstServer } from "./support/est-server.js";
import { freePort } from "./support/net.js";
import { pivAuthProfile } from "./support/x509.js";

let server: EstServer;
let counter = 0;

beforeAll(async () => {
  server = await startEstServer();
}, 60_000);

afterAll(async () => {
  await server?.close();
});

function est(extra: Partial<EstCertificateAuthorityOptions> = {}): EstCertificateAuthority {
  return new EstCertificateAuthority({
    id: "est",
    baseUrl: server.baseUrl,
    http: { ca: server.tlsCa, timeoutMs: 10_000 },
    credentials: async () => ({ username: EST_USER, password: EST_PASSWORD }),
    ...extra,
  });
}

async function request(caProfile?: string, subject = `CN=EST Device ${counter},O=Example`) {
  const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject });
  return {
    csr,
    request: {
      requestId: `est-${counter++}`,
      csr: csr.der,
      profile: caProfile === undefined ? pivAuthProfile : { ...pivAuthProfile, caProfile },
    },
  };
}

async function opensslVerify(certificate: Uint8Array, chain: Uint8Array[]): Promise<number> {
  const pem = (der: Uint8Array) =>
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64")}\n-----END CERTIFICATE-----\n`;
  const root = chain[chain.length - 1] ?? new Uint8Array();
  await server.workspace.write("v-root.pem", pem(root));
  await server.workspace.write("v-untrusted.pem", chain.slice(0, -1).map(pem).join(""));
  await server.workspace.write("v-leaf.pem", pem(certificate));
  const res = await server.workspace.run(
    "verify",
    "-CAfile",
    "v-root.pem",
    "-untrusted",
    "v-untrusted.pem",
    "v-leaf.pem",
  );
  return res.code;
}

describe("EstCertificateAuthority (RFC 7030, recorded exchanges)", () => {
  it("reads /cacerts (PKCS#7 certs-only, base64) as the chain, issuing CA first", async () => {
    const chain = await est().chain();
    expect(chain.map((c) => Buffer.from(c).toString("hex"))).toEqual(
      server.caChain.map((c) => Buffer.from(c).toString("hex")),
    );
    expect(server.exchanges.at(-1)).toMatchObject({ method: "GET", path: "/.well-known/est/cacerts", status: 200 });
  });

  it("enrolls with simpleenroll over HTTP basic auth: base64 PKCS#10 in, certificate for our key out", async () => {
    const { csr, request: req } = await request();
    const result = await est().submit(req);
    expect(result.status).toBe("issued");
    if (result.status !== "issued") return;
    expect(spkiEquals(parseCertificate(result.certificate).spki, csr.spki)).toBe(true);
    expect(await opensslVerify(result.certificate, result.chain)).toBe(0);
    expect(result.chain).toHaveLength(2);
    expect(server.exchanges.find((e) => e.path === "/.well-known/est/simpleenroll")).toMatchObject({
      method: "POST",
      contentType: "application/pkcs10",
      transferEncoding: "base64",
      basicUser: EST_USER,
      status: 200,
    });
  });

  it("authenticates with a TLS client certificate instead of basic auth (§3.3.2)", async () => {
    const ca = est({
      credentials: undefined,
      http: { ca: server.tlsCa, clientCertificate: server.clientCertificate, clientKey: server.clientKey },
    });
    const { request: req } = await request();
    expect((await ca.submit(req)).status).toBe("issued");
    expect(server.exchanges.at(-2)).toMatchObject({ clientCertSubject: "est-client", status: 200 });
    expect(server.exchanges.at(-2)?.basicUser).toBeUndefined();
  });

  it("turns 401 into CA_INVALID_REQUEST without the password in the error", async () => {
    const ca = est({ credentials: async () => ({ username: EST_USER, password: "wrong-password-xyz" }) });
    const err = await ca.submit((await request()).request).catch((e: unknown) => e);
    expect(isCardwrightError(err, "CA_INVALID_REQUEST")).toBe(true);
    const json = JSON.stringify(err);
    expect(json).not.toContain("wrong-password-xyz");
    expect(String(err)).not.toContain("wrong-password-xyz");
  });

  it("uses the profile's caProfile as the CA label (§3.2.2) and refuses labels that are not one segment", async () => {
    const { request: req } = await request("piv");
    expect((await est().submit(req)).status).toBe("issued");
    expect(server.exchanges.some((e) => e.path === "/.well-known/est/piv/simpleenroll" && e.status === 200)).toBe(true);
    const bad = await request("../admin");
    await expect(est().submit(bad.request)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
  });

  it("answers 202 + Retry-After as pending, polls by re-sending the same request, then issues once approved", async () => {
    const ledger = new MemoryEstRequestLedger();
    const { csr, request: req } = await request("manual");
    const first = await est({ ledger }).submit(req);
    expect(first).toEqual({ status: "pending", caRequestId: req.requestId, retryAfterSeconds: 1 });
    const resumed = est({ ledger });
    expect((await resumed.poll(req.requestId)).status).toBe("pending");
    const held = server.heldIds();
    expect(held).toHaveLength(1);
    server.approve(held[0] as string);
    const before = server.issuedCount();
    const done = await resumed.poll(req.requestId);
    expect(done.status).toBe("issued");
    if (done.status !== "issued") return;
    expect(spkiEquals(parseCertificate(done.certificate).spki, csr.spki)).toBe(true);
    expect(await resumed.poll(req.requestId)).toEqual(done);
    expect(await resumed.submit(req)).toEqual(done);
    expect(server.issuedCount()).toBe(before + 1);
    const sent = server.exchanges.filter((e) => e.path === "/.well-known/est/manual/simpleenroll");
    expect(sent.map((e) => e.status)).toEqual([202, 202, 200]);
  });

  it("reports the server's refusal text as rejected", async () => {
    const { request: req } = await request("manual");
    const ca = est();
    expect((await ca.submit(req)).status).toBe("pending");
    const id = server.heldIds()[0] as string;
    server.reject(id, "subject not allowed for this label");
    expect(await ca.poll(req.requestId)).toEqual({
      status: "rejected",
      caRequestId: req.requestId,
      reason: "HTTP 403: subject not allowed for this label",
    });
  });

  it("renews through simplereenroll (§4.2.2), refusing a CSR whose subject differs from the certificate's", async () => {
    const ca = est();
    const subject = "CN=EST Renewal Device,O=Example";
    const first = await ca.submit((await request(undefined, subject)).request);
    if (first.status !== "issued") throw new Error("issuance failed");
    const renewal = async (csrSubject: string) => ({
      ...(await request(undefined, csrSubject)).request,
      previousCertificate: first.certificate,
      previousSerialHex: parseCertificate(first.certificate).serialHex,
      rekey: true,
    });
    const renewed = await ca.renew(await renewal(subject));
    expect(renewed.status).toBe("issued");
    expect(server.exchanges.at(-2)).toMatchObject({ path: "/.well-known/est/simplereenroll", status: 200 });
    const sent = server.exchanges.length;
    await expect(ca.renew(await renewal("CN=Someone Else,O=Example"))).rejects.toMatchObject({
      code: "CA_INVALID_REQUEST",
    });
    expect(server.exchanges.length).toBe(sent);
  });

  it("maps 503, garbage, a foreign key and a closed port to typed errors", async () => {
    const down = await est()
      .submit((await request("down")).request)
      .catch((e: unknown) => e);
    expect(isCardwrightError(down, "CA_UNAVAILABLE")).toBe(true);
    expect((down as { details: { retryAfterSeconds?: number } }).details.retryAfterSeconds).toBe(30);
    await expect(est().submit((await request("garbage")).request)).rejects.toMatchObject({ code: "CA_BAD_RESPONSE" });
    await expect(est().submit((await request("wrongkey")).request)).rejects.toMatchObject({
      code: "CA_BAD_RESPONSE",
      message: expect.stringContaining("different public key"),
    });
    const closed = est({ baseUrl: `https://127.0.0.1:${await freePort()}` });
    await expect(closed.submit((await request()).request)).rejects.toMatchObject({ code: "CA_UNAVAILABLE" });
  });

  it("sends a CMC request (issuing on behalf) to /fullcmc and reads the Simple and Full PKI Responses (§4.3)", async () => {
    const agent = await makeEnrollmentAgent(server.workspace, "EST Enrollment Agent");
    const onBehalf = async (caProfile?: string) => {
      const { csr, request: req } = await request(caProfile);
      const cmc = await buildCmcFullPkiRequest({
        csr: req.csr,
        agentCertificate: agent.certificate,
        agentSigner: agent.signer,
      });
      return { csr, request: { ...req, cmc } };
    };
    const ok = await onBehalf();
    const issued = await est().submit(ok.request);
    expect(issued.status).toBe("issued");
    if (issued.status !== "issued") return;
    expect(spkiEquals(parseCertificate(issued.certificate).spki, ok.csr.spki)).toBe(true);
    expect(server.exchanges.find((e) => e.path === "/.well-known/est/fullcmc")).toMatchObject({
      contentType: "application/pkcs7-mime; smime-type=CMC-request",
      status: 200,
    });
    const refused = await est().submit((await onBehalf("cmcfail")).request);
    expect(refused).toMatchObject({
      status: "rejected",
      reason: "CMC failed: the enrollment agent may not request this profile",
    });
  });

  it("has no revocation or hold, and no request ids of its own", async () => {
    await expect(est().revoke("01", "keyCompromise")).rejects.toMatchObject({ code: "CA_UNSUPPORTED" });
    await expect(est().suspend("01")).rejects.toMatchObject({ code: "CA_UNSUPPORTED" });
    await expect(est().poll("never-submitted")).rejects.toMatchObject({ code: "CA_UNKNOWN_REQUEST" });
  });
});
