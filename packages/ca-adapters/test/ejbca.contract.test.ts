/**
 * The `CertificateAuthority` contract against `EjbcaCertificateAuthority`.
 *
 * NO REAL EJBCA RUNS IN THIS TEST. EJBCA needs a Java application server and a database, which
 * this machine does not have. The peer is a local HTTPS server (test/support/ejbca-recording-server.ts)
 * built from EJBCA's published REST API v1 description: it requires the TLS client certificate,
 * checks every request field by field against the spec, and answers with the status codes and
 * fields the spec gives, while a real cardwright EmbeddedCa signs and revokes behind it. What
 * this proves is that the adapter speaks the API as published and meets the contract; it does
 * not prove that a given EJBCA version behaves exactly so. The approval flow (202 then
 * finalize) follows EJBCA's REST resource code; EJBCA does not return an operator's rejection
 * comment through REST, hence `reasonReported: false`.
 */
import { afterAll, expect } from "vitest";
import { EjbcaCertificateAuthority, type EjbcaCertificateAuthorityOptions } from "../src/index.js";
import { describeCertificateAuthorityContract } from "./contract/ca-contract.js";
import {
  EJBCA_TEST_CONFIG,
  type EjbcaRecordingServer,
  startEjbcaRecordingServer,
} from "./support/ejbca-recording-server.js";

let server: EjbcaRecordingServer | undefined;

afterAll(() => {
  // Every request the adapter sent through the whole suite was within the spec.
  expect(server?.violations ?? []).toEqual([]);
});

function approvalId(caRequestId: string): number {
  const match = /^approval-(-?\d+)$/.exec(caRequestId);
  if (match?.[1] === undefined) throw new Error(`not an approval request id: ${caRequestId}`);
  return Number(match[1]);
}

describeCertificateAuthorityContract("EjbcaCertificateAuthority (recorded EJBCA REST API v1)", {
  capabilities: {
    renewal: { sameKey: true, rekey: true },
    pending: true,
    revocation: true,
    hold: true,
  },
  async start() {
    server = await startEjbcaRecordingServer();
    const ejbca = server;
    const options = (certificateProfileName: string): EjbcaCertificateAuthorityOptions => ({
      id: "ejbca",
      url: ejbca.url,
      ca: ejbca.tlsCaPem,
      clientCertificate: ejbca.clientCertificatePem,
      clientKey: ejbca.clientKeyPem,
      certificateAuthorityName: EJBCA_TEST_CONFIG.caName,
      issuerDn: EJBCA_TEST_CONFIG.issuerDn,
      certificateProfileName,
      endEntityProfileName: EJBCA_TEST_CONFIG.endEntityProfile,
      enrollmentSecret: "contract-test-enrollment-secret",
    });
    const ca = new EjbcaCertificateAuthority(options(EJBCA_TEST_CONFIG.certificateProfile));
    const held = new EjbcaCertificateAuthority(options(EJBCA_TEST_CONFIG.approvalProfile));
    return {
      ca,
      // What the EJBCA certificate profile PIV_AUTH gives (the server's backing CA issues so).
      profile: {
        templateId: "piv-auth",
        keyUsage: ["digitalSignature"],
        extendedKeyUsage: ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"],
        validityDays: 365,
      },
      pending: {
        ca: held,
        approve: async (caRequestId) => ejbca.approve(approvalId(caRequestId)),
        reject: async (caRequestId) => ejbca.reject(approvalId(caRequestId)),
        reasonReported: false,
      },
      async revocationStatus(serialHex) {
        const status = await ca.revocationStatus(serialHex);
        return status.revoked ? { status: "revoked", reason: status.reason } : { status: "good" };
      },
      issuedCount: async () => ejbca.issuedCount(),
      unknownCaRequestId: "approval-424242",
    };
  },
  async stop() {
    await server?.stop();
  },
});
