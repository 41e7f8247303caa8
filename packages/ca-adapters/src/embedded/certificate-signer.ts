/**
 * Signs X.509 v3 certificates (RFC 5280 §4.1) and CRLs v2 (RFC 5280 §5.1) with a CA key.
 * The issuer name is the CA certificate's subject as decoded, so issuer/subject matching in
 * path validation (§7.1) is byte-exact.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { CaSignatureHash } from "./ca-key.js";
import { authorityKeyIdentifierExtension, crlNumberExtension, reasonCodeExtension } from "./certificate-extensions.js";
import { cryptoEngine, toArrayBuffer } from "./crypto-engine.js";
import { x509Time } from "./x509-time.js";

/** What a CA signs with. */
export interface CaSigner {
  privateKey: CryptoKey;
  hash: CaSignatureHash;
  /** The CA certificate's subject, which becomes every issued certificate's issuer. */
  name: pkijs.RelativeDistinguishedNames;
  /** The CA's subjectKeyIdentifier, for authorityKeyIdentifier. */
  keyIdentifier: Uint8Array;
}

/** The to-be-signed fields of a certificate. */
export interface CertificateFields {
  serialNumber: Uint8Array;
  subject: pkijs.RelativeDistinguishedNames;
  publicKeyInfo: pkijs.PublicKeyInfo;
  notBefore: Date;
  notAfter: Date;
  extensions: pkijs.Extension[];
}

/** Sign an X.509 v3 certificate; returns its DER. */
export async function signCertificate(signer: CaSigner, fields: CertificateFields): Promise<Uint8Array> {
  const certificate = new pkijs.Certificate({
    version: 2,
    serialNumber: new asn1js.Integer({ valueHex: toArrayBuffer(fields.serialNumber) }),
    issuer: signer.name,
    subject: fields.subject,
    subjectPublicKeyInfo: fields.publicKeyInfo,
    notBefore: x509Time(fields.notBefore),
    notAfter: x509Time(fields.notAfter),
    extensions: fields.extensions,
  });
  await certificate.sign(signer.privateKey, signer.hash, cryptoEngine());
  return new Uint8Array(certificate.toSchema(true).toBER(false));
}

/** One revoked certificate on a CRL. */
export interface CrlEntry {
  serialNumber: Uint8Array;
  revocationDate: Date;
  /** RFC 5280 §5.3.1 CRLReason code; omitted for `unspecified` as §5.3.1 asks. */
  reasonCode?: number;
}

/** The fields of a CRL. */
export interface CrlFields {
  crlNumber: number;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: readonly CrlEntry[];
}

/** Sign a complete CRL v2 with cRLNumber and authorityKeyIdentifier (§5.2.1, §5.2.3); returns its DER. */
export async function signCrl(signer: CaSigner, fields: CrlFields): Promise<Uint8Array> {
  const crl = new pkijs.CertificateRevocationList({
    version: 1,
    issuer: signer.name,
    thisUpdate: x509Time(fields.thisUpdate),
    nextUpdate: x509Time(fields.nextUpdate),
    crlExtensions: new pkijs.Extensions({
      extensions: [authorityKeyIdentifierExtension(signer.keyIdentifier), crlNumberExtension(fields.crlNumber)],
    }),
  });
  if (fields.entries.length > 0) {
    // §5.1.2.6: the list is absent, not empty, when nothing is revoked.
    crl.revokedCertificates = fields.entries.map(
      (entry) =>
        new pkijs.RevokedCertificate({
          userCertificate: new asn1js.Integer({ valueHex: toArrayBuffer(entry.serialNumber) }),
          revocationDate: x509Time(entry.revocationDate),
          ...(entry.reasonCode === undefined
            ? {}
            : { crlEntryExtensions: new pkijs.Extensions({ extensions: [reasonCodeExtension(entry.reasonCode)] }) }),
        }),
    );
  }
  await crl.sign(signer.privateKey, signer.hash, cryptoEngine());
  return new Uint8Array(crl.toSchema(true).toBER(false));
}
