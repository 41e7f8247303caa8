/**
 * What the EJBCA adapter sends and how it reads answers, against the recording server built
 * from EJBCA's published REST API v1 description (NO REAL EJBCA RUNS HERE; see
 * ejbca.contract.test.ts). Covers the exact request fields, TLS client authentication, the
 * enrollment code staying secret, and every failure mapping.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  EjbcaCertificateAuthority,
  type EjbcaCertificateAuthorityOptions,
  EmbeddedCa,
  MemoryEjbcaLedger,
  toPem,
} from "../src/index.js";
import { makeCsr } from "./support/csr.js";
import {
  EJBCA_TEST_CONFIG,
  type EjbcaRecordingServer,
  startEjbcaRecordingServer,
} from "./support/ejbca-recording-server.js";
import { errorOf } from "./support/errors.js";
import { pivAuthProfile, serialHexOf } from "./support/x509.js";

const SECRET = "exchanges-test-enrollment-secret";
let server: EjbcaRecordingServer;

beforeAll(async () => {
  server = await startEjbcaRecordingServer();
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(() => {
  server.override(undefined);
  server.exchanges.length = 0;
});

function options(overrides: Partial<EjbcaCertificateAuthorityOptions> = {}): EjbcaCertificateAuthorityOptions {
  return {
    id: "ejbca",
    url: server.url,
    ca: server.tlsCaPem,
    clientCertificate: server.clientCertificatePem,
    clientKey: server.clientKeyPem,
    certificateAuthorityName: EJBCA_TEST_CONFIG.caName,
    issuerDn: EJBCA_TEST_CONFIG.issuerDn,
    certificateProfileName: EJBCA_TEST_CONFIG.certificateProfile,
    endEntityProfileName: EJBCA_TEST_CONFIG.endEntityProfile,
    enrollmentSecret: SECRET,
    ...overrides,
  };
}

describe("EJBCA requests", () => {
  it("enrolls with exactly the spec's fields, over TLS client authentication", async () => {
    const ca = new EjbcaCertificateAuthority(options());
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Field Check,O=Example", upn: "f@corp.example" });
    const result = await ca.submit({ requestId: "fields-1", csr: csr.der, profile: pivAuthProfile });
    expect(result.status).toBe("issued");
    const enroll = server.exchanges.find((e) => e.path.endsWith("/v1/certificate/pkcs10enroll"));
    expect(enroll).toMatchObject({ method: "POST", clientCn: EJBCA_TEST_CONFIG.adminCn, status: 201 });
    const body = enroll?.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      [
        "certificate_authority_name",
        "certificate_profile_name",
        "certificate_request",
        "end_entity_profile_name",
        "include_chain",
        "password",
        "username",
      ].sort(),
    );
    expect(body).toMatchObject({
      certificate_request: toPem(csr.der, "CERTIFICATE REQUEST"),
      certificate_profile_name: EJBCA_TEST_CONFIG.certificateProfile,
      end_entity_profile_name: EJBCA_TEST_CONFIG.endEntityProfile,
      certificate_authority_name: EJBCA_TEST_CONFIG.caName,
      username: "cardwright-fields-1",
      include_chain: true,
    });
    // The enrollment code is derived from the secret, never the secret itself.
    expect(typeof body.password).toBe("string");
    expect(String(body.password)).not.toContain(SECRET);
    expect(String(body.password).length).toBe(32);
    expect(server.violations).toEqual([]);
  });

  it("takes the certificate profile from the template's caProfile when it has one", async () => {
    const ca = new EjbcaCertificateAuthority(options());
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Profile" });
    const result = await ca.submit({
      requestId: "profile-1",
      csr: csr.der,
      profile: { ...pivAuthProfile, caProfile: EJBCA_TEST_CONFIG.approvalProfile },
    });
    expect(result.status).toBe("pending");
    const body = server.exchanges.at(-1)?.body as Record<string, unknown>;
    expect(body.certificate_profile_name).toBe(EJBCA_TEST_CONFIG.approvalProfile);
  });

  it("revokes with EJBCA's reason names and an upper-case hex serial, URL-encoding the issuer DN", async () => {
    const ca = new EjbcaCertificateAuthority(options());
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Revoke" });
    const result = await ca.submit({ requestId: "rev-1", csr: csr.der, profile: pivAuthProfile });
    if (result.status !== "issued") throw new Error(result.status);
    const serial = serialHexOf(result.certificate);
    await ca.revoke(serial, "affiliationChanged");
    const put = server.exchanges.find((e) => e.method === "PUT");
    expect(put?.path).toBe(
      `/ejbca/ejbca-rest-api/v1/certificate/${encodeURIComponent(EJBCA_TEST_CONFIG.issuerDn)}/${serial.toUpperCase()}/revoke`,
    );
    expect(put?.query).toEqual({ reason: "AFFILIATION_CHANGED" });
    expect(await ca.revocationStatus(serial)).toMatchObject({ revoked: true, reason: "affiliationChanged" });
    expect((await errorOf(ca.suspend(serial))).code).toBe("CA_WRONG_STATE");
    expect((await errorOf(ca.unsuspend(serial))).code).toBe("CA_WRONG_STATE");
  });

  it("refuses to renew a certificate another CA issued, without calling pkcs10enroll", async () => {
    const ca = new EjbcaCertificateAuthority(options());
    const elsewhere = await EmbeddedCa.create({
      id: "o",
      subject: "CN=Other",
      keyAlgorithm: "ECCP256",
      validityDays: 30,
    });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=foreign" });
    const foreign = await elsewhere.submit({ requestId: "f", csr: csr.der, profile: pivAuthProfile });
    if (foreign.status !== "issued") throw new Error(foreign.status);
    const error = await errorOf(
      ca.renew({
        requestId: "renew-foreign",
        csr: csr.der,
        profile: pivAuthProfile,
        previousCertificate: foreign.certificate,
        previousSerialHex: serialHexOf(foreign.certificate),
        rekey: false,
      }),
    );
    expect(error.code).toBe("CA_UNKNOWN_CERTIFICATE");
    expect(server.exchanges.some((e) => e.path.endsWith("/pkcs10enroll"))).toBe(false);
  });

  it("downloads the chain issuing CA first and checks issued certificates against it", async () => {
    const ca = new EjbcaCertificateAuthority(options());
    expect(await ca.chain()).toEqual(await server.ca.chain());
  });
});

describe("EJBCA approvals", () => {
  it("finalizes with the same derived enrollment code after approval, and never twice", async () => {
    const ledger = new MemoryEjbcaLedger();
    const first = new EjbcaCertificateAuthority(
      options({ certificateProfileName: EJBCA_TEST_CONFIG.approvalProfile, ledger }),
    );
    const csr = await makeCsr({ keyAlgorithm: "ECCP384", subject: "CN=Approve" });
    const pending = await first.submit({ requestId: "appr-1", csr: csr.der, profile: pivAuthProfile });
    if (pending.status !== "pending") throw new Error(pending.status);
    expect(pending.caRequestId).toMatch(/^approval--?\d+$/);
    const id = Number(pending.caRequestId.slice("approval-".length));
    server.approve(id);
    // Another adapter instance with the same secret and ledger finalizes: nothing secret was stored.
    const ca = new EjbcaCertificateAuthority(
      options({ certificateProfileName: EJBCA_TEST_CONFIG.approvalProfile, ledger }),
    );
    const issued = await ca.poll(pending.caRequestId);
    expect(issued.status).toBe("issued");
    const finalize = server.exchanges.find((e) => e.path.endsWith(`/v1/certificate/${id}/finalize`));
    expect(finalize?.body).toEqual({ response_format: "DER", password: expect.any(String) });
    const enroll = server.exchanges.find((e) => e.path.endsWith("/pkcs10enroll"));
    expect((finalize?.body as { password?: string } | undefined)?.password).toBe(
      (enroll?.body as { password?: string } | undefined)?.password,
    );
    const finalizes = server.exchanges.filter((e) => e.path.endsWith("/finalize")).length;
    expect(await ca.poll(pending.caRequestId)).toEqual(issued);
    expect(server.exchanges.filter((e) => e.path.endsWith("/finalize")).length).toBe(finalizes);
  });

  it("reads a 202 without an approval id as CA_BAD_RESPONSE", async () => {
    server.override((req, res) => {
      if (!req.url?.endsWith("/pkcs10enroll")) return false;
      res.writeHead(202, { "content-type": "application/json" });
      res.end(JSON.stringify({ status_code: 202, info_message: "Added for approval." }));
      return true;
    });
    const ca = new EjbcaCertificateAuthority(options());
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=NoId" });
    expect((await errorOf(ca.submit({ requestId: "noid", csr: csr.der, profile: pivAuthProfile }))).code).toBe(
      "CA_BAD_RESPONSE",
    );
  });
});

describe("EJBCA failures", () => {
  const submit = async (ca: EjbcaCertificateAuthority, requestId: string) => {
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: `CN=${requestId}` });
    return errorOf(ca.submit({ requestId, csr: csr.der, profile: pivAuthProfile }));
  };

  it("maps an untrusted client certificate (handshake refused) to CA_UNAVAILABLE and a 403 to CONFIG_INVALID", async () => {
    const stranger = new EjbcaCertificateAuthority(
      options({ clientCertificate: server.strangerCertificatePem, clientKey: server.strangerKeyPem }),
    );
    expect((await submit(stranger, "tls-1")).code).toBe("CA_UNAVAILABLE");
    server.override((_req, res) => {
      res.writeHead(403, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error_code: 403, error_message: "Not authorized to resource /ca/CardwrightIssuingCA." }),
      );
      return true;
    });
    const denied = await submit(new EjbcaCertificateAuthority(options()), "tls-2");
    expect(denied.code).toBe("CONFIG_INVALID");
    expect(denied.message).toContain("administrator role");
  });

  it("maps unknown CA or profile names to CA_INVALID_REQUEST, and EJBCA refusals to rejected", async () => {
    const wrongProfile = await submit(
      new EjbcaCertificateAuthority(options({ certificateProfileName: "NOPE" })),
      "p-1",
    );
    expect(wrongProfile.code).toBe("CA_INVALID_REQUEST");
    expect(wrongProfile.message).toContain("NOPE");
    server.override((req, res) => {
      if (!req.url?.endsWith("/pkcs10enroll")) return false;
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error_code: 400, error_message: "Public key is not unique." }));
      return true;
    });
    const ca = new EjbcaCertificateAuthority(options());
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=refused" });
    expect(await ca.submit({ requestId: "refused", csr: csr.der, profile: pivAuthProfile })).toEqual({
      status: "rejected",
      reason: "EJBCA refused the enrollment: Public key is not unique.",
    });
  });

  it("maps 5xx and timeouts to CA_UNAVAILABLE, and garbage to CA_BAD_RESPONSE", async () => {
    server.override((_req, res) => {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error_code: 503, error_message: "CA is offline." }));
      return true;
    });
    const offline = await submit(new EjbcaCertificateAuthority(options()), "f-503");
    expect(offline.code).toBe("CA_UNAVAILABLE");
    expect(offline.message).toContain("CA is offline");
    server.override(() => true); // never answers
    const slow = await submit(new EjbcaCertificateAuthority(options({ timeoutMs: 300 })), "f-slow");
    expect(slow.code).toBe("CA_UNAVAILABLE");
    server.override((req, res) => {
      if (!req.url?.endsWith("/pkcs10enroll")) return false;
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ certificate: "bm90IGEgY2VydGlmaWNhdGU=", response_format: "DER" }));
      return true;
    });
    expect((await submit(new EjbcaCertificateAuthority(options()), "f-garbage")).code).toBe("CA_BAD_RESPONSE");
  });

  it("refuses a certificate for another key or from another CA with CA_BAD_RESPONSE", async () => {
    const stranger = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=stranger" });
    const other = await server.ca.submit({ requestId: "stranger-cert", csr: stranger.der, profile: pivAuthProfile });
    if (other.status !== "issued") throw new Error(other.status);
    const answerWith = (der: Uint8Array) =>
      server.override((req, res) => {
        if (!req.url?.endsWith("/pkcs10enroll")) return false;
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ certificate: Buffer.from(der).toString("base64"), response_format: "DER" }));
        return true;
      });
    answerWith(other.certificate);
    const wrongKey = await submit(new EjbcaCertificateAuthority(options()), "k-1");
    expect(wrongKey.code).toBe("CA_BAD_RESPONSE");
    expect(wrongKey.message).toContain("different public key");

    const elsewhere = await EmbeddedCa.create({
      id: "x",
      subject: "CN=Elsewhere",
      keyAlgorithm: "ECCP256",
      validityDays: 30,
    });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=right key" });
    const foreign = await elsewhere.submit({ requestId: "f", csr: csr.der, profile: pivAuthProfile });
    if (foreign.status !== "issued") throw new Error(foreign.status);
    answerWith(foreign.certificate);
    const ca = new EjbcaCertificateAuthority(options());
    const error = await errorOf(ca.submit({ requestId: "k-2", csr: csr.der, profile: pivAuthProfile }));
    expect(error.code).toBe("CA_BAD_RESPONSE");
    expect(error.message).toContain("was not signed by");
  });

  it("never puts the enrollment secret or code in errors", async () => {
    server.override((_req, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error_code: 400, error_message: "Wrong username or password" }));
      return true;
    });
    const ca = new EjbcaCertificateAuthority(options());
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=secret" });
    const result = await ca.submit({ requestId: "secret", csr: csr.der, profile: pivAuthProfile });
    expect(JSON.stringify(result)).not.toContain(SECRET);
    server.override(undefined);
    const revoked = await errorOf(ca.revoke("7e11", "keyCompromise"));
    expect(revoked.code).toBe("CA_UNKNOWN_CERTIFICATE");
    expect(revoked.json).not.toContain(SECRET);
    expect(() => new EjbcaCertificateAuthority(options({ enrollmentSecret: "short" }))).toThrow(/16 bytes/);
    expect(() => new EjbcaCertificateAuthority(options({ url: "http://127.0.0.1:1" }))).toThrow(/https/);
  });

  it("refuses CMC and CSRs whose self-signature does not verify before calling EJBCA", async () => {
    const ca = new EjbcaCertificateAuthority(options());
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=cmc" });
    const bad = csr.der.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    expect(
      (
        await errorOf(
          ca.submit({ requestId: "c1", csr: csr.der, cmc: new Uint8Array([0x30, 0]), profile: pivAuthProfile }),
        )
      ).code,
    ).toBe("CA_INVALID_REQUEST");
    expect((await errorOf(ca.submit({ requestId: "c2", csr: bad, profile: pivAuthProfile }))).code).toBe(
      "CA_INVALID_REQUEST",
    );
    expect(server.exchanges).toEqual([]);
  });
});
