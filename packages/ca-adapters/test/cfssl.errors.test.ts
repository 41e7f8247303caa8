/**
 * The cfssl adapter beyond the contract: plain `/sign`, cfssl's refusals and how they map
 * (against a real `cfssl serve`), revocation without a certificate database, and transport
 * failures and lying answers (against a small local HTTP server playing a broken cfssl).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { CertificateProfile } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CfsslCertificateAuthority, EmbeddedCa, toPem } from "../src/index.js";
import { CFSSL_TEST_AUTH_KEY, CFSSL_TEST_VALIDITY_DAYS, type CfsslServer, startCfssl } from "./support/cfssl-server.js";
import { makeCsr } from "./support/csr.js";
import { errorOf } from "./support/errors.js";
import { freePort } from "./support/net.js";
import { serialHexOf } from "./support/x509.js";

const profile = (caProfile: string | undefined, overrides: Partial<CertificateProfile> = {}): CertificateProfile => ({
  templateId: "piv-auth",
  ...(caProfile === undefined ? {} : { caProfile }),
  keyUsage: ["digitalSignature"],
  extendedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
  validityDays: CFSSL_TEST_VALIDITY_DAYS,
  ...overrides,
});

describe("against cfssl serve", () => {
  let cfssl: CfsslServer;
  let noDb: CfsslServer;
  beforeAll(async () => {
    [cfssl, noDb] = await Promise.all([startCfssl(), startCfssl({ database: false })]);
  });
  afterAll(async () => {
    await Promise.all([cfssl?.stop(), noDb?.stop()]);
  });

  it("signs through plain /sign for a profile without auth_key, with the CSR's key", async () => {
    const ca = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url });
    const csr = await makeCsr({ keyAlgorithm: "RSA2048", subject: "CN=plain,O=Example", email: "plain@example.com" });
    const result = await ca.submit({ requestId: "plain-1", csr: csr.der, profile: profile("piv-auth") });
    if (result.status !== "issued") throw new Error(`expected issued, got ${JSON.stringify(result)}`);
    expect(result.caRequestId).toBe(serialHexOf(result.certificate));
    expect(result.chain).toEqual([cfssl.caCertificate]);
    const rows = await cfssl.sql("SELECT count(*) FROM certificates");
    expect(rows).toEqual(["1"]);
  });

  it("refuses a missing or wrong auth key with CONFIG_INVALID, never echoing the key", async () => {
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=auth" });
    const none = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url });
    const missing = await errorOf(none.submit({ requestId: "a1", csr: csr.der, profile: profile("piv-auth-hmac") }));
    expect(missing.code).toBe("CONFIG_INVALID");
    expect(missing.message).toContain("authKey");
    const wrongKey = "00112233445566778899aabbccddeeff";
    const wrong = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url, authKey: wrongKey });
    const refused = await errorOf(wrong.submit({ requestId: "a2", csr: csr.der, profile: profile("piv-auth-hmac") }));
    expect(refused.code).toBe("CONFIG_INVALID");
    expect(refused.json).not.toContain(wrongKey);
    expect(refused.json).not.toContain(CFSSL_TEST_AUTH_KEY);
    expect(() => new CfsslCertificateAuthority({ id: "x", url: cfssl.url, authKey: "not hex" })).toThrow(/hex/);
  });

  it("answers a cfssl policy refusal (name_whitelist) as rejected, and the same again for the same requestId", async () => {
    const ca = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=intruder.example" });
    const first = await ca.submit({ requestId: "wl-1", csr: csr.der, profile: profile("restricted") });
    expect(first.status).toBe("rejected");
    if (first.status === "rejected") expect(first.reason).toMatch(/^cfssl refused to sign: 5\d{3} /);
    const allowed = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=allowed.example" });
    // The ledger answers the repeat: even a CSR cfssl would sign gets the first outcome.
    expect(await ca.submit({ requestId: "wl-1", csr: allowed.der, profile: profile("restricted") })).toEqual(first);
    expect((await ca.submit({ requestId: "wl-2", csr: allowed.der, profile: profile("restricted") })).status).toBe(
      "issued",
    );
  });

  it("refuses a template cfssl's profile does not match, before signing (cfssl would fall back to its default)", async () => {
    const ca = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=mismatch" });
    const before = await cfssl.sql("SELECT count(*) FROM certificates");
    const eku = await errorOf(
      ca.submit({
        requestId: "m1",
        csr: csr.der,
        profile: profile("piv-auth", { extendedKeyUsage: ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"] }),
      }),
    );
    expect(eku.code).toBe("CA_INVALID_REQUEST");
    expect(eku.message).toContain("extKeyUsage");
    const validity = await errorOf(
      ca.submit({ requestId: "m2", csr: csr.der, profile: profile("no-such-profile", { validityDays: 30 }) }),
    );
    expect(validity.code).toBe("CA_INVALID_REQUEST");
    expect(validity.message).toContain("720 h");
    expect(await cfssl.sql("SELECT count(*) FROM certificates")).toEqual(before);
  });

  it("throws CA_INVALID_REQUEST for a CSR cfssl cannot decode and for CMC", async () => {
    const ca = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=cmc" });
    expect(
      (
        await errorOf(
          ca.submit({ requestId: "c1", csr: csr.der, cmc: new Uint8Array([0x30, 0]), profile: profile("piv-auth") }),
        )
      ).code,
    ).toBe("CA_INVALID_REQUEST");
    expect(
      (await errorOf(ca.submit({ requestId: "c2", csr: new Uint8Array([1, 2, 3]), profile: profile("piv-auth") })))
        .code,
    ).toBe("CA_INVALID_REQUEST");
  });

  it("refuses to renew a certificate another CA signed", async () => {
    const ca = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url });
    const other = await EmbeddedCa.create({ id: "o", subject: "CN=Other", keyAlgorithm: "ECCP256", validityDays: 10 });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=foreign" });
    const foreign = await other.submit({
      requestId: "f",
      csr: csr.der,
      profile: { templateId: "t", keyUsage: ["digitalSignature"], extendedKeyUsage: [], validityDays: 5 },
    });
    if (foreign.status !== "issued") throw new Error(foreign.status);
    const error = await errorOf(
      ca.renew({
        requestId: "rf",
        csr: csr.der,
        profile: profile("piv-auth"),
        previousCertificate: foreign.certificate,
        previousSerialHex: serialHexOf(foreign.certificate),
        rekey: false,
      }),
    );
    expect(error.code).toBe("CA_UNKNOWN_CERTIFICATE");
  });

  it("says revocation is unsupported when cfssl runs without a certificate database", async () => {
    const ca = new CfsslCertificateAuthority({ id: "cfssl", url: noDb.url });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=nodb" });
    const result = await ca.submit({ requestId: "n1", csr: csr.der, profile: profile("piv-auth") });
    if (result.status !== "issued") throw new Error(result.status);
    const error = await errorOf(ca.revoke(serialHexOf(result.certificate), "keyCompromise"));
    expect(error.code).toBe("CA_UNSUPPORTED");
    expect(error.message).toContain("-db-config");
  });
});

describe("against a broken cfssl", () => {
  let server: Server;
  let url: string;
  let signer: EmbeddedCa;
  let handler: (req: IncomingMessage, body: string, res: ServerResponse) => void = () => undefined;

  const json = (res: ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  const info = () => ({
    success: true,
    result: { certificate: signer.certificatePem(), usages: ["digital signature", "client auth"], expiry: "8760h" },
    errors: [],
    messages: [],
  });

  beforeAll(async () => {
    signer = await EmbeddedCa.create({
      id: "fake",
      subject: "CN=Fake cfssl",
      keyAlgorithm: "ECCP256",
      validityDays: 400,
    });
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on("end", () => {
        if (req.url === "/api/v1/cfssl/info") return json(res, 200, info());
        handler(req, body, res);
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const submit = async (requestId: string, timeoutMs = 5_000) => {
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: `CN=${requestId}` });
    const ca = new CfsslCertificateAuthority({ id: "broken", url, timeoutMs });
    return { csr, ca, outcome: errorOf(ca.submit({ requestId, csr: csr.der, profile: profile("piv-auth") })) };
  };

  it("maps connection refused to CA_UNAVAILABLE", async () => {
    const closed = await freePort();
    const ca = new CfsslCertificateAuthority({ id: "down", url: `http://127.0.0.1:${closed}` });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=down" });
    const error = await errorOf(ca.submit({ requestId: "d", csr: csr.der, profile: profile("piv-auth") }));
    expect(error.code).toBe("CA_UNAVAILABLE");
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("maps a 5xx to CA_UNAVAILABLE and a silent server to CA_UNAVAILABLE after the timeout", async () => {
    handler = (_req, _body, res) => json(res, 503, { success: false, errors: [{ code: 1000, message: "busy" }] });
    expect((await (await submit("s503")).outcome).code).toBe("CA_UNAVAILABLE");
    handler = () => undefined; // never answers
    const started = Date.now();
    const timedOut = await (await submit("slow", 300)).outcome;
    expect(timedOut.code).toBe("CA_UNAVAILABLE");
    expect(timedOut.message).toContain("300 ms");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("maps garbage to CA_BAD_RESPONSE", async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>proxy login</html>");
    };
    expect((await (await submit("html")).outcome).code).toBe("CA_BAD_RESPONSE");
    handler = (_req, _body, res) => json(res, 200, { success: true, result: { certificate: "not pem" } });
    expect((await (await submit("notpem")).outcome).code).toBe("CA_BAD_RESPONSE");
    handler = (_req, _body, res) => json(res, 200, { hello: "world" });
    expect((await (await submit("noenvelope")).outcome).code).toBe("CA_BAD_RESPONSE");
  });

  it("refuses a certificate for another key, or from another CA, with CA_BAD_RESPONSE", async () => {
    const stranger = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=stranger" });
    const strangerCert = await signer.submit({
      requestId: "stranger",
      csr: stranger.der,
      profile: profile(undefined),
    });
    if (strangerCert.status !== "issued") throw new Error(strangerCert.status);
    handler = (_req, _body, res) =>
      json(res, 200, { success: true, result: { certificate: toPem(strangerCert.certificate, "CERTIFICATE") } });
    const other = await submit("otherkey");
    const wrongKey = await other.outcome;
    expect(wrongKey.code).toBe("CA_BAD_RESPONSE");
    expect(wrongKey.message).toContain("different public key");

    const elsewhere = await EmbeddedCa.create({
      id: "e",
      subject: "CN=Elsewhere",
      keyAlgorithm: "ECCP256",
      validityDays: 400,
    });
    const attempt = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=right-key" });
    const fromElsewhere = await elsewhere.submit({ requestId: "x", csr: attempt.der, profile: profile(undefined) });
    if (fromElsewhere.status !== "issued") throw new Error(fromElsewhere.status);
    handler = (_req, _body, res) =>
      json(res, 200, { success: true, result: { certificate: toPem(fromElsewhere.certificate, "CERTIFICATE") } });
    const ca = new CfsslCertificateAuthority({ id: "broken", url });
    const error = await errorOf(ca.submit({ requestId: "elsewhere", csr: attempt.der, profile: profile("piv-auth") }));
    expect(error.code).toBe("CA_BAD_RESPONSE");
    expect(error.message).toContain("did not sign");
  });

  it("sends the CSR as PEM with the profile, and maps cfssl CSR errors to CA_INVALID_REQUEST", async () => {
    let seen: Record<string, unknown> | undefined;
    handler = (_req, body, res) => {
      seen = JSON.parse(body) as Record<string, unknown>;
      json(res, 400, { success: false, result: null, errors: [{ code: 9002, message: "CSR Decode failed" }] });
    };
    const { csr, outcome } = await submit("csrerr");
    expect((await outcome).code).toBe("CA_INVALID_REQUEST");
    expect(seen).toEqual({ certificate_request: toPem(csr.der, "CERTIFICATE REQUEST"), profile: "piv-auth" });
  });
});
