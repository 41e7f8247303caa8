/**
 * RFC 4210 §5.1.3 message protection, both ways: how cardwright protects what it sends (a
 * shared secret with PasswordBasedMac, or a certificate and its key) and how it checks what the
 * CA sends back. RFC 9483 §3.2 requires every response to be protected; an unprotected or
 * wrongly protected response is never trusted.
 */
import type * as pkijs from "pkijs";
import { badResponse, encode } from "./der.js";
import {
  defaultPbmParameter,
  ID_PASSWORD_BASED_MAC,
  passwordBasedMac,
  pbmAlgorithm,
  readPbmParameter,
  verifyPasswordBasedMac,
} from "./password-based-mac.js";
import type { PkiMessage } from "./pki-message.js";
import { nullDn } from "./pki-message.js";
import { type ProtectionSigner, protectionAlgorithmFor, verifySignatureProtection } from "./signature-protection.js";

/** Protects outgoing messages. */
export interface MessageProtector {
  sender: pkijs.RelativeDistinguishedNames;
  senderKid?: Uint8Array;
  extraCerts: readonly Uint8Array[];
  /** The protectionAlg of the next message and how to compute its protection (fresh salt per message). */
  next(): { algorithm: pkijs.AlgorithmIdentifier; protect(protectedPart: Uint8Array): Promise<Uint8Array> };
}

/** PasswordBasedMac protection with a shared secret; the reference goes in senderKID (RFC 9483 §3.1). */
export function macProtector(
  reference: Uint8Array,
  secret: Uint8Array,
  salt: () => Uint8Array,
  iterationCount?: number,
): MessageProtector {
  return {
    sender: nullDn(),
    senderKid: reference,
    extraCerts: [],
    next() {
      const params = defaultPbmParameter(salt(), iterationCount);
      return { algorithm: pbmAlgorithm(params), protect: async (data) => passwordBasedMac(secret, params, data) };
    },
  };
}

/** The SubjectKeyIdentifier of a certificate, the senderKID of signed messages (RFC 9483 §3.1). */
function subjectKeyIdentifier(certificate: pkijs.Certificate): Uint8Array | undefined {
  const ext = certificate.extensions?.find((e) => e.extnID === "2.5.29.14");
  const parsed = ext?.parsedValue as { valueBlock?: { valueHexView?: Uint8Array } } | undefined;
  const bytes = parsed?.valueBlock?.valueHexView;
  return bytes === undefined ? undefined : new Uint8Array(bytes);
}

/** Signature protection with `certificate`'s key via `sign`; the certificate (and chain) go in extraCerts. */
export function signatureProtector(
  certificateDer: Uint8Array,
  certificate: pkijs.Certificate,
  sign: ProtectionSigner,
  chain: readonly Uint8Array[] = [],
): MessageProtector {
  const { algorithm, hash } = protectionAlgorithmFor(certificate);
  const kid = subjectKeyIdentifier(certificate);
  return {
    sender: certificate.subject,
    ...(kid === undefined ? {} : { senderKid: kid }),
    extraCerts: [certificateDer, ...chain],
    next: () => ({ algorithm, protect: (data) => sign(data, hash) }),
  };
}

/** What the adapter can verify responses with. */
export interface ResponseTrust {
  /** The shared secret, for PasswordBasedMac-protected responses. */
  secret?: Uint8Array;
  /** The pinned CMP server certificate, for signature-protected responses. */
  serverCertificate?: pkijs.Certificate;
}

/**
 * Check a response's protection.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is unprotected, protected with something we
 * cannot check, or the protection does not verify.
 */
export function verifyResponseProtection(message: PkiMessage, trust: ResponseTrust): void {
  const alg = message.header.protectionAlg;
  if (alg === undefined || message.protection === undefined) {
    throw badResponse("the response is not protected (RFC 9483 §3.2 requires protection)");
  }
  if (alg.algorithmId === ID_PASSWORD_BASED_MAC) {
    if (trust.secret === undefined) {
      throw badResponse("the response is MAC-protected but no shared secret is configured to check it");
    }
    if (!verifyPasswordBasedMac(trust.secret, readPbmParameter(alg), message.protectedPart, message.protection)) {
      throw badResponse("the response's PasswordBasedMac does not verify: wrong secret or tampered message");
    }
    return;
  }
  if (trust.serverCertificate === undefined) {
    throw badResponse(`the response is signed (${alg.algorithmId}) but no serverCertificate is configured to check it`);
  }
  if (!verifySignatureProtection(trust.serverCertificate, alg, message.protectedPart, message.protection)) {
    throw badResponse("the response's signature does not verify with the configured serverCertificate");
  }
}

/** DER of a Name, for comparisons and records. */
export function nameDer(name: pkijs.RelativeDistinguishedNames): Uint8Array {
  return encode(name.toSchema());
}
