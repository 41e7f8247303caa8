/**
 * The `CertificateAuthority` contract against `EmbeddedCa`: an issuing CA under a root, kept in
 * a temporary directory (the file-backed state, as deployments use it), plus a second instance
 * opened on the same directory in manual approval mode for the pending cases. Revocation is
 * read back from the CA's signed CRL.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedCa } from "../src/index.js";
import { describeCertificateAuthorityContract, revocationStatusFromCrl } from "./contract/ca-contract.js";
import { pivAuthProfile } from "./support/x509.js";

let directory: string | undefined;

describeCertificateAuthorityContract("EmbeddedCa", {
  capabilities: {
    renewal: { sameKey: true, rekey: true },
    pending: true,
    revocation: true,
    hold: true,
  },
  async start() {
    directory = await mkdtemp(join(tmpdir(), "cardwright-embedded-contract-"));
    const root = await EmbeddedCa.create({
      id: "contract-root",
      subject: "CN=Contract Root,O=Cardwright",
      keyAlgorithm: "ECCP384",
      validityDays: 3650,
    });
    const ca = await EmbeddedCa.createIssuing({
      parent: root,
      id: "contract-issuing",
      subject: "CN=Contract Issuing CA,O=Cardwright",
      keyAlgorithm: "ECCP256",
      validityDays: 1825,
      directory: join(directory, "issuing"),
    });
    const held = await EmbeddedCa.open({ directory: join(directory, "issuing"), approvalMode: "manual" });
    return {
      ca,
      profile: pivAuthProfile,
      pending: {
        ca: held,
        approve: async (caRequestId) => {
          await held.approve(caRequestId);
        },
        reject: async (caRequestId, reason) => {
          await held.reject(caRequestId, reason);
        },
      },
      revocationStatus: async (serialHex) => revocationStatusFromCrl(await ca.crl(), ca.certificate, serialHex),
      issuedCount: async () => (await ca.listIssued()).length,
    };
  },
  async stop() {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  },
});
