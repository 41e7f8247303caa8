/**
 * CA certificates (RFC 5280 §4.2.1.9, §4.2.1.3): a self-signed root or an issuing CA signed by
 * a parent, with basicConstraints cA (critical), keyUsage keyCertSign + cRLSign (critical),
 * subjectKeyIdentifier and authorityKeyIdentifier — and the loaded form a CA signs with.
 */
import { CardwrightError, nameToString } from "@cardwright/core";
import * as pkijs from "pkijs";
import { type CaKeyAlgorithm, importPkcs8, signatureHash } from "./ca-key.js";
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  crlDistributionPointsExtension,
  keyIdentifier,
  keyUsageExtension,
  subjectKeyIdentifierExtension,
} from "./certificate-extensions.js";
import { type CaSigner, signCertificate } from "./certificate-signer.js";
import { cryptoEngine, toArrayBuffer } from "./crypto-engine.js";
import type { Validity } from "./validity.js";

/** What goes into a CA certificate. */
export interface CaCertificateFields {
  serialNumber: Uint8Array;
  subject: pkijs.RelativeDistinguishedNames;
  publicKeyInfo: pkijs.PublicKeyInfo;
  validity: Validity;
  /** basicConstraints pathLenConstraint; omitted for a root (no limit). */
  pathLenConstraint?: number;
  /** The parent's CRL, for an issuing CA's cRLDistributionPoints. */
  crlUrl?: string;
}

/**
 * Sign a CA certificate; `issuer` is the CA itself for a root (its keyIdentifier then equals
 * the subject's).
 */
export async function signCaCertificate(issuer: CaSigner, fields: CaCertificateFields): Promise<Uint8Array> {
  const subjectKeyId = await keyIdentifier(fields.publicKeyInfo);
  const extensions = [
    basicConstraintsExtension(true, fields.pathLenConstraint),
    keyUsageExtension(["keyCertSign", "cRLSign"]),
    subjectKeyIdentifierExtension(subjectKeyId),
    authorityKeyIdentifierExtension(issuer.keyIdentifier),
  ];
  if (fields.crlUrl !== undefined) extensions.push(crlDistributionPointsExtension(fields.crlUrl));
  return signCertificate(issuer, {
    serialNumber: fields.serialNumber,
    subject: fields.subject,
    publicKeyInfo: fields.publicKeyInfo,
    notBefore: fields.validity.notBefore,
    notAfter: fields.validity.notAfter,
    extensions,
  });
}

/** The SubjectPublicKeyInfo of a WebCrypto public key. */
export async function publicKeyInfoOf(publicKey: CryptoKey): Promise<pkijs.PublicKeyInfo> {
  const info = new pkijs.PublicKeyInfo();
  await info.importKey(publicKey, cryptoEngine());
  return info;
}

/** A CA ready to sign: its key, certificate and chain. */
export interface CaIdentity {
  keyAlgorithm: CaKeyAlgorithm;
  signer: CaSigner;
  certificate: pkijs.Certificate;
  /** DER chain, this CA first. */
  chain: Uint8Array[];
  notAfter: Date;
  subject: string;
}

/** JWK members that identify a public key. */
const PUBLIC_JWK_MEMBERS = ["n", "e", "crv", "x", "y"] as const;

/**
 * Load a CA from its PKCS#8 key and DER chain, checking the key belongs to the certificate.
 * @throws CardwrightError `CONFIG_INVALID` when the certificate does not decode or the key
 * does not match it.
 */
export async function loadCaIdentity(
  keyAlgorithm: CaKeyAlgorithm,
  privateKeyDer: Uint8Array,
  chain: Uint8Array[],
): Promise<CaIdentity> {
  const own = chain[0];
  if (own === undefined) throw new RangeError("a CA chain holds at least the CA certificate");
  let certificate: pkijs.Certificate;
  try {
    certificate = pkijs.Certificate.fromBER(toArrayBuffer(own));
  } catch (cause) {
    throw new CardwrightError("CONFIG_INVALID", "the CA certificate does not decode as X.509", { cause });
  }
  const privateKey = await importPkcs8(privateKeyDer, keyAlgorithm);
  const privateJwk = await globalThis.crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await certificate.getPublicKey(undefined, cryptoEngine());
  const publicJwk = await globalThis.crypto.subtle.exportKey("jwk", publicKey);
  if (PUBLIC_JWK_MEMBERS.some((member) => privateJwk[member] !== publicJwk[member])) {
    throw new CardwrightError("CONFIG_INVALID", "the CA private key does not belong to the CA certificate", {
      details: { keyAlgorithm },
    });
  }
  return {
    keyAlgorithm,
    signer: {
      privateKey,
      hash: signatureHash(keyAlgorithm),
      name: certificate.subject,
      keyIdentifier: await keyIdentifier(certificate.subjectPublicKeyInfo),
    },
    certificate,
    chain: chain.map((der) => der.slice()),
    notAfter: certificate.notAfter.value,
    subject: nameToString(certificate.subject),
  };
}
