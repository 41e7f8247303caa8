/**
 * The `CertificateAuthority` contract for the CMP adapter against OpenSSL 3.0's CMP mock server
 * (`openssl cmp -port`), PasswordBasedMac-protected both ways. The mock answers with one fixed
 * certificate, so a front (test/cmp-mock-router.ts) starts a mock per enrolment with the
 * certificate a backing embedded CA signed for that CSR; chain and issued counts come from it.
 *
 * What the mock cannot do, as declared below:
 * - pending: it releases a waiting request by itself after `-poll_count` polls; there is no
 *   operator to approve or reject (the waiting/pollReq path is tested in cmp.mock-server.test.ts
 *   and end to end in packages/cli/test/ca-cmp-pending.e2e.test.ts);
 * - renewal: OpenSSL 3.0's mock answers kur only for its own -rsp_cert (it checks oldCertID
 *   against it), so a renewal cannot get a new serial as the contract expects; the adapter runs
 *   with `keyUpdate: false` here, and kur is tested in cmp.mock-server.test.ts;
 * - revocation state: the mock accepts rr for its certificate but keeps no CRL or status, so
 *   revoke/hold are checked for the CA's acceptance only, not for a published status.
 * A serial the adapter never enrolled has no known issuer to put in rr: `CA_UNKNOWN_CERTIFICATE`.
 */
import { writeFile } from "node:fs/promises";
import type { CertificateProfile } from "@cardwright/core";
import { CmpCertificateAuthority, EmbeddedCa, toPem } from "../src/index.js";
import { type CmpMockRouter, startCmpMockRouter } from "./cmp-mock-router.js";
import { MOCK_REF, MOCK_SECRET } from "./cmp-mock-server.js";
import { describeCertificateAuthorityContract } from "./contract/ca-contract.js";
import { type OpensslWorkspace, opensslWorkspace } from "./support/openssl.js";

let ws: OpensslWorkspace | undefined;
let router: CmpMockRouter | undefined;

const profile: CertificateProfile = {
  templateId: "piv-auth",
  keyUsage: ["digitalSignature"],
  extendedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
  validityDays: 30,
};

describeCertificateAuthorityContract("CmpCertificateAuthority (openssl 3.0 cmp mock server, PBM)", {
  capabilities: {
    renewal: { sameKey: false, rekey: false },
    pending: {
      unsupported: "the OpenSSL mock releases a waiting request after -poll_count polls; no operator decides",
    },
    revocation: true,
    hold: true,
  },
  async start() {
    ws = await opensslWorkspace();
    const backing = await EmbeddedCa.create({
      id: "cmp-backing",
      subject: "CN=CMP Contract CA,O=cardwright",
      keyAlgorithm: "ECCP256",
      validityDays: 3650,
    });
    const caCertPath = `${ws.dir}/ca.crt`;
    await writeFile(caCertPath, toPem((await backing.chain())[0] as Uint8Array, "CERTIFICATE"));
    router = await startCmpMockRouter({ dir: ws.dir, backing, caCertPath, profile });
    const ca = new CmpCertificateAuthority({
      id: "cmp",
      url: router.url,
      protection: { kind: "mac", reference: MOCK_REF, secret: MOCK_SECRET, iterationCount: 1_000 },
      keyUpdate: false,
      supportsRemoveFromCrl: true,
    });
    return {
      ca,
      profile,
      issuedCount: async () => (await backing.listIssued()).length,
      unknownCaRequestId: "00".repeat(16),
    };
  },
  async stop() {
    await router?.stop();
    await ws?.dispose();
  },
});
