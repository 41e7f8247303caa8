/**
 * The `CertificateAuthority` contract against EstCertificateAuthority and RECORDED EXCHANGES:
 * no EST server can be installed here, so `support/est-server.ts` answers per RFC 7030 §4 (and
 * its Appendix A examples) with certificates signed by an openssl-made CA. Its `manual` label
 * holds requests (202 + Retry-After) for the approval cases; the operator's refusal comes back
 * as HTTP 403 with the reason text.
 *
 * What EST cannot do, declared below: revocation and certificate hold (RFC 7030 defines neither).
 * What the recording cannot show: a real EST product's policy checks and quirks.
 */
import { createHash } from "node:crypto";
import { EstCertificateAuthority, MemoryEstRequestLedger } from "../src/index.js";
import { describeCertificateAuthorityContract } from "./contract/ca-contract.js";
import { EST_PASSWORD, EST_USER, type EstServer, startEstServer } from "./support/est-server.js";
import { pivAuthProfile } from "./support/x509.js";

let server: EstServer | undefined;

describeCertificateAuthorityContract("EstCertificateAuthority (recorded RFC 7030 exchanges)", {
  capabilities: {
    renewal: { sameKey: true, rekey: true },
    pending: true,
    revocation: { unsupported: "RFC 7030 defines no revocation" },
    hold: { unsupported: "RFC 7030 defines no certificate hold" },
  },
  async start() {
    server = await startEstServer();
    const running = server;
    const options = {
      baseUrl: running.baseUrl,
      http: { ca: running.tlsCa },
      credentials: async () => ({ username: EST_USER, password: EST_PASSWORD }),
    };
    const ca = new EstCertificateAuthority({ id: "est", ...options });
    const heldLedger = new MemoryEstRequestLedger();
    const held = new EstCertificateAuthority({
      id: "est-manual",
      ...options,
      defaultLabel: "manual",
      ledger: heldLedger,
    });
    /** The server keys held requests by their bytes (EST has no request ids); find them through the ledger. */
    const serverId = async (caRequestId: string) => {
      const entry = await heldLedger.get(caRequestId);
      if (entry === undefined) throw new Error(`no ledger entry ${caRequestId}`);
      return createHash("sha256").update(Buffer.from(entry.csrBase64, "base64")).digest("hex");
    };
    return {
      ca,
      profile: pivAuthProfile,
      pending: {
        ca: held,
        approve: async (caRequestId) => running.approve(await serverId(caRequestId)),
        reject: async (caRequestId, reason) => running.reject(await serverId(caRequestId), reason),
      },
      issuedCount: async () => running.issuedCount(),
    };
  },
  async stop() {
    await server?.close();
  },
});
