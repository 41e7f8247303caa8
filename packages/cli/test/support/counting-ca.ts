/** A wrapper around the real embedded CA that records revocations and can fail chosen ones. */
import type { EmbeddedCa } from "@cardwright/ca-adapters";
import { CardwrightError, type CertificateAuthority, type RevocationReason } from "@cardwright/core";

/**
 * The real CA, recording every revocation (RFC 5280 §5.3.1 reason included) and failing, with CA_UNAVAILABLE and
 * before the CA sees it, each revocation call whose 1-based number is in `failRevokeCalls`. Everything else is
 * passed through unchanged.
 */
export class CountingCa implements CertificateAuthority {
  readonly revokeCalls: Array<{ serialHex: string; reason: RevocationReason }> = [];
  failRevokeCalls = new Set<number>();
  constructor(private readonly ca: EmbeddedCa) {}
  get id() {
    return this.ca.id;
  }
  get renewal() {
    return this.ca.renewal;
  }
  submit: CertificateAuthority["submit"] = (r) => this.ca.submit(r);
  poll: CertificateAuthority["poll"] = (id) => this.ca.poll(id);
  renew: CertificateAuthority["renew"] = (r) => this.ca.renew(r);
  suspend: CertificateAuthority["suspend"] = (s) => this.ca.suspend(s);
  unsuspend: CertificateAuthority["unsuspend"] = (s) => this.ca.unsuspend(s);
  chain: CertificateAuthority["chain"] = () => this.ca.chain();
  async revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    this.revokeCalls.push({ serialHex, reason });
    if (this.failRevokeCalls.has(this.revokeCalls.length)) {
      throw new CardwrightError("CA_UNAVAILABLE", "injected: the CA did not answer the revocation", {
        details: { serialHex },
      });
    }
    await this.ca.revoke(serialHex, reason);
  }
}
