/**
 * The `CertificateAuthority` contract against a real `cfssl serve` (Debian golang-cfssl 1.2,
 * with a SQLite certificate database), through `/authsign` with an HMAC-SHA256 key.
 *
 * What cfssl cannot do, as declared below: it has no approval step (never `pending`, the
 * approval cases are skipped), and no way to lift a certificate hold (the adapter refuses
 * `suspend`/`unsuspend` with `CA_UNSUPPORTED`, which the suite checks). Revocation status is
 * read from cfssl's own certificate database, the store its OCSP refresher signs from; cfssl 1.2
 * has no CRL endpoint. Issued counts come from the same database.
 */
import type { RevocationReason } from "@cardwright/core";
import { CfsslCertificateAuthority, CrlReasonCode } from "../src/index.js";
import { describeCertificateAuthorityContract } from "./contract/ca-contract.js";
import { CFSSL_TEST_AUTH_KEY, CFSSL_TEST_VALIDITY_DAYS, type CfsslServer, startCfssl } from "./support/cfssl-server.js";

let server: CfsslServer | undefined;

const reasonByCode = new Map<number, RevocationReason>(
  (Object.entries(CrlReasonCode) as [RevocationReason, number][]).map(([name, code]) => [code, name]),
);

describeCertificateAuthorityContract("CfsslCertificateAuthority (cfssl serve 1.2, authsign)", {
  capabilities: {
    renewal: { sameKey: true, rekey: true },
    pending: { unsupported: "cfssl signs or refuses at once; it has no approval step" },
    revocation: true,
    hold: { unsupported: "cfssl cannot lift a certificateHold once recorded" },
  },
  async start() {
    server = await startCfssl();
    const cfssl = server;
    const ca = new CfsslCertificateAuthority({ id: "cfssl", url: cfssl.url, authKey: CFSSL_TEST_AUTH_KEY });
    return {
      ca,
      profile: {
        templateId: "piv-auth",
        caProfile: "piv-auth-hmac",
        keyUsage: ["digitalSignature"],
        extendedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
        validityDays: CFSSL_TEST_VALIDITY_DAYS,
      },
      async revocationStatus(serialHex) {
        const rows = await cfssl.sql(
          `SELECT status, reason FROM certificates WHERE serial_number = '${BigInt(`0x${serialHex}`).toString(10)}'`,
        );
        if (rows.length !== 1) throw new Error(`cfssl's database has ${rows.length} rows for ${serialHex}`);
        const [status, reason] = (rows[0] as string).split("|");
        if (status === "good") return { status: "good" };
        const name = reasonByCode.get(Number(reason));
        if (status !== "revoked" || name === undefined) throw new Error(`unexpected cfssl status ${rows[0]}`);
        return { status: "revoked", reason: name };
      },
      issuedCount: async () => Number((await cfssl.sql("SELECT count(*) FROM certificates"))[0]),
    };
  },
  async stop() {
    await server?.stop();
  },
});
