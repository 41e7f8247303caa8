/**
 * The `CertificateAuthority` contract against AdcsCertificateAuthority and RECORDED PROTOCOL
 * EXCHANGES: no AD CS can run here, so `support/adcs-server.ts` answers as the Certificate
 * Enrollment Web Service (MS-WSTEP) would, built from the Microsoft open specifications'
 * examples, with certificates from an openssl-made CA. The `CardwrightApproval` template is taken
 * under submission for the approval cases.
 *
 * What AD CS cannot do over these interfaces, declared below: revocation and hold (AD CS revokes
 * through MS-CSRA/DCOM, not CES or certsrv). An officer's denial carries no reason text in AD CS
 * ("Denied by <officer>"), so the operator's reason is not expected back.
 */
import { AdcsCertificateAuthority } from "../src/index.js";
import { describeCertificateAuthorityContract } from "./contract/ca-contract.js";
import { ADCS_PASSWORD, ADCS_USER, type AdcsServer, CES_PATH, startAdcsServer } from "./support/adcs-server.js";
import { pivAuthProfile } from "./support/x509.js";

let server: AdcsServer | undefined;

describeCertificateAuthorityContract("AdcsCertificateAuthority (recorded MS-WSTEP exchanges)", {
  capabilities: {
    renewal: { sameKey: true, rekey: true },
    pending: true,
    revocation: { unsupported: "AD CS revokes through MS-CSRA (DCOM), not over its enrollment web services" },
    hold: { unsupported: "AD CS holds and releases through MS-CSRA (DCOM), not over its enrollment web services" },
  },
  async start() {
    server = await startAdcsServer();
    const running = server;
    const options = {
      enrollmentServiceUrl: `${running.origin}${CES_PATH}`,
      webEnrollmentUrl: `${running.origin}/certsrv`,
      credentials: async () => ({ username: ADCS_USER, password: ADCS_PASSWORD }),
      http: { ca: running.tlsCa },
    };
    return {
      ca: new AdcsCertificateAuthority({ id: "adcs", ...options, defaultTemplate: "CardwrightUser" }),
      profile: pivAuthProfile,
      pending: {
        ca: new AdcsCertificateAuthority({ id: "adcs-approval", ...options, defaultTemplate: "CardwrightApproval" }),
        approve: (caRequestId) => running.approve(caRequestId),
        reject: async (caRequestId) => running.deny(caRequestId),
        reasonReported: false,
      },
      issuedCount: async () => running.ca.issuedCount(),
      unknownCaRequestId: "987654",
    };
  },
  async stop() {
    await server?.close();
  },
});
