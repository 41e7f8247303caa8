/**
 * End-entity certificates from a verified PKCS#10 request and a profile (RFC 5280 §4.1):
 * subject and subjectAltName as requested, keyUsage and extKeyUsage from the profile,
 * basicConstraints cA:false, key identifiers, and the CRL distribution point when configured.
 */
import { type CertificateProfile, ekuOid } from "@cardwright/core";
import { ExtensionOid } from "../oids.js";
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  crlDistributionPointsExtension,
  extendedKeyUsageExtension,
  keyIdentifier,
  keyUsageExtension,
  subjectKeyIdentifierExtension,
  verbatimExtension,
} from "./certificate-extensions.js";
import { type CaSigner, signCertificate } from "./certificate-signer.js";
import type { CertificationRequestInfo } from "./certification-request.js";
import type { Validity } from "./validity.js";

/** Everything an end-entity certificate is made from. */
export interface EndEntityFields {
  request: CertificationRequestInfo;
  profile: CertificateProfile;
  serialNumber: Uint8Array;
  validity: Validity;
  crlUrl?: string;
}

/** Sign an end-entity certificate; returns its DER. */
export async function signEndEntityCertificate(signer: CaSigner, fields: EndEntityFields): Promise<Uint8Array> {
  const { request, profile } = fields;
  const extensions = [basicConstraintsExtension(false), keyUsageExtension(profile.keyUsage)];
  if (profile.extendedKeyUsage.length > 0) {
    extensions.push(extendedKeyUsageExtension(profile.extendedKeyUsage.map(ekuOid)));
  }
  if (request.subjectAltName !== undefined) {
    // Octets copied as requested so UPN otherNames and rfc822Names survive exactly. Non-critical
    // because the subject is never empty here (RFC 5280 §4.2.1.6).
    extensions.push(verbatimExtension(ExtensionOid.subjectAltName, false, request.subjectAltName.value));
  }
  extensions.push(subjectKeyIdentifierExtension(await keyIdentifier(request.publicKeyInfo)));
  extensions.push(authorityKeyIdentifierExtension(signer.keyIdentifier));
  if (fields.crlUrl !== undefined) extensions.push(crlDistributionPointsExtension(fields.crlUrl));
  return signCertificate(signer, {
    serialNumber: fields.serialNumber,
    subject: request.subject,
    publicKeyInfo: request.publicKeyInfo,
    notBefore: fields.validity.notBefore,
    notAfter: fields.validity.notAfter,
    extensions,
  });
}
