/**
 * Checks on what a remote CA returns, shared by the protocol adapters: the certificate must be
 * an X.509 certificate for the key the CSR carried (RFC 2986 §4; a CA that signs another key
 * is answering someone else's request), and PKCS#7 certs-only bundles (RFC 5652 §5, RFC 7030
 * §4.1.3) are read into DER certificates.
 */
import { CardwrightError, csrPublicKey, parseCertificate, spkiEquals } from "@cardwright/core";
import type * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const engine = new pkijs.CryptoEngine({ name: "webcrypto", crypto: globalThis.crypto });

/**
 * Check a PKCS#10's self-signature (RFC 2986 §4.2, proof of possession) before it leaves for a
 * remote CA: some CAs (pebble among them) sign whatever key a request names.
 * @throws CardwrightError `CA_INVALID_REQUEST` when `csr` is not PKCS#10 or its signature does not verify.
 */
export async function assertCsrSelfSigned(csr: Uint8Array): Promise<void> {
  let valid = false;
  let cause: unknown;
  try {
    valid = await pkijs.CertificationRequest.fromBER(new Uint8Array(csr)).verify(engine);
  } catch (err) {
    cause = err;
  }
  if (!valid) {
    throw new CardwrightError(
      "CA_INVALID_REQUEST",
      "the PKCS#10 request's self-signature does not verify (RFC 2986 §4.2); rebuild it on the device",
      cause === undefined ? {} : { cause },
    );
  }
}

/**
 * Check that `certificate` is a DER certificate for the CSR's public key; returns its serial.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is not a certificate or certifies another key.
 */
export function assertIssuedForCsr(certificate: Uint8Array, csr: Uint8Array, context: string): string {
  const summary = parseCertificate(certificate);
  if (!spkiEquals(summary.spki, csrPublicKey(csr))) {
    throw new CardwrightError(
      "CA_BAD_RESPONSE",
      `${context}: the CA returned a certificate for a different public key than the request's; refusing it`,
      { details: { serialHex: summary.serialHex } },
    );
  }
  return summary.serialHex;
}

/**
 * The certificates of a DER CMS SignedData "certs-only" message (degenerate PKCS#7), in order.
 * @throws CardwrightError `CA_BAD_RESPONSE` when `der` is not SignedData with certificates.
 */
export function certificatesFromPkcs7(der: Uint8Array, context: string): Uint8Array[] {
  try {
    const info = pkijs.ContentInfo.fromBER(new Uint8Array(der));
    if (info.contentType !== OID_SIGNED_DATA) throw new Error(`content type ${info.contentType}`);
    const signed = new pkijs.SignedData({ schema: info.content });
    const certs = (signed.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
    if (certs.length === 0) throw new Error("no certificates");
    return certs.map((c) => new Uint8Array(c.toSchema().toBER(false)));
  } catch (err) {
    throw new CardwrightError(
      "CA_BAD_RESPONSE",
      `${context}: the CA answered something that is not a PKCS#7 certificate bundle`,
      { cause: err },
    );
  }
}

/**
 * Order a bundle as leaf then issuers: the certificate whose key matches `spki` first, then each
 * certificate's issuer in turn (PKCS#7 SET OF has no order). Certificates that chain nowhere go last.
 */
export function orderChain(certificates: Uint8Array[], leafSpki: Uint8Array): Uint8Array[] {
  const parsed = certificates.map((der) => ({ der, cert: pkijs.Certificate.fromBER(new Uint8Array(der)) }));
  const leaf = parsed.find((p) =>
    spkiEquals(new Uint8Array(p.cert.subjectPublicKeyInfo.toSchema().toBER(false)), leafSpki),
  );
  if (leaf === undefined) return certificates;
  const ordered = [leaf];
  const rest = parsed.filter((p) => p !== leaf);
  for (let current = leaf; ; ) {
    const issuerIndex = rest.findIndex((p) => p.cert.subject.isEqual(current.cert.issuer));
    if (issuerIndex < 0 || current.cert.subject.isEqual(current.cert.issuer)) break;
    const [issuer] = rest.splice(issuerIndex, 1);
    if (issuer === undefined) break;
    ordered.push(issuer);
    current = issuer;
  }
  return [...ordered, ...rest].map((p) => p.der);
}

/**
 * CA certificates (from EST /cacerts, a PKCS#7 bundle…) ordered issuing CA first: start from the
 * one that issued none of the others, then follow issuers up to the root.
 */
export function orderCaCertificates(certificates: Uint8Array[]): Uint8Array[] {
  const parsed = certificates.map((der) => pkijs.Certificate.fromBER(new Uint8Array(der)));
  const bottom = parsed.findIndex(
    (c) => !parsed.some((other) => other !== c && other.issuer.isEqual(c.subject) && !other.subject.isEqual(c.subject)),
  );
  const start = parsed[bottom];
  if (start === undefined) return certificates;
  return orderChain(certificates, new Uint8Array(start.subjectPublicKeyInfo.toSchema().toBER(false)));
}

/** DER of a degenerate PKCS#7 (no signers) holding `certificates`, for tests and servers. */
export function certsOnlyPkcs7(certificates: Uint8Array[]): Uint8Array {
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: "1.2.840.113549.1.7.1" }),
    certificates: certificates.map((c) => pkijs.Certificate.fromBER(new Uint8Array(c))),
    signerInfos: [],
  });
  const info = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signed.toSchema(true) });
  return new Uint8Array((info.toSchema() as asn1js.Sequence).toBER(false));
}
