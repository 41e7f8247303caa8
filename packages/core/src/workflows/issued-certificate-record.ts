/**
 * The inventory record of a certificate a CA issued for one of our requests: what the issue and
 * update workflows store, `valid` until it is written to the card. Its id is the request id, so
 * a resumed run finds the record it may already have made.
 */
import type { CertificateRecord, RequestRecord } from "../domain/card.js";
import type { CertificateTemplate } from "../domain/policy.js";
import { parseCertificate } from "../pki/certificate.js";
import type { NewRecord } from "../ports/store.js";

/** What the record is made of besides the certificate itself. */
export interface IssuedCertificate {
  request: Pick<RequestRecord, "id" | "archivedKey">;
  cardId: string;
  userId?: string;
  template: Pick<CertificateTemplate, "id" | "slot" | "caId">;
  /** DER, as the CA returned it. */
  certificate: Uint8Array;
  /** The template's tracked attribute values the certificate was issued with. */
  trackedAttributes?: Readonly<Record<string, string>>;
}

/**
 * The new record, with the serial, names and validity read from the certificate.
 * @throws CardwrightError from {@link parseCertificate} when the CA returned no X.509 certificate.
 */
export function issuedCertificateRecord(issued: IssuedCertificate): NewRecord<CertificateRecord> & {
  serialHex: string;
} {
  const summary = parseCertificate(issued.certificate);
  const { request, template: t } = issued;
  return {
    id: request.id,
    cardId: issued.cardId,
    ...(issued.userId === undefined ? {} : { userId: issued.userId }),
    templateId: t.id,
    slot: t.slot,
    status: "valid",
    requestId: request.id,
    caId: t.caId,
    serialHex: summary.serialHex,
    subject: summary.subject,
    issuer: summary.issuer,
    notBefore: summary.notBefore,
    notAfter: summary.notAfter,
    certificate: Buffer.from(issued.certificate).toString("base64"),
    ...(request.archivedKey === undefined ? {} : { archivedKey: request.archivedKey }),
    ...(issued.trackedAttributes === undefined ? {} : { trackedAttributes: issued.trackedAttributes }),
  };
}
