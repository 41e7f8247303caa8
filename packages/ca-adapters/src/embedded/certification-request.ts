/**
 * PKCS#10 certification requests (RFC 2986) as the CA receives them: decode, describe the
 * subject public key, pull the requested subjectAltName out of the PKCS#9 extensionRequest
 * attribute (RFC 2985 §5.4.2), and check the self-signature — the requester's proof of
 * possession of the private key (RFC 2986 §3, RFC 4211 §4).
 *
 * Input that is not a well-formed, correctly self-signed request throws `CA_INVALID_REQUEST`;
 * deciding whether a good request is acceptable is the job of `issuance-rules.ts`.
 */
import { CardwrightError, type ErrorDetails } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { ExtensionOid, Pkcs9Oid, PublicKeyOid } from "../oids.js";
import { cryptoEngine, toArrayBuffer } from "./crypto-engine.js";

/** What the subject public key is, as far as issuance rules care. */
export type RequestPublicKey =
  | { kind: "RSA"; modulusBits: number }
  | { kind: "EC"; curveOid: string }
  | { kind: "other"; algorithmOid: string };

/** A decoded, self-signature-checked PKCS#10 request. */
export interface CertificationRequestInfo {
  /** Subject as encoded in the request; copied to the certificate byte for byte. */
  subject: pkijs.RelativeDistinguishedNames;
  publicKeyInfo: pkijs.PublicKeyInfo;
  publicKey: RequestPublicKey;
  /** The requested subjectAltName extension value (DER GeneralNames), verbatim. */
  subjectAltName?: { critical: boolean; value: Uint8Array };
}

function invalid(message: string, cause?: unknown): CardwrightError {
  return new CardwrightError("CA_INVALID_REQUEST", `invalid PKCS#10 request: ${message}`, { cause });
}

function describePublicKey(info: pkijs.PublicKeyInfo): RequestPublicKey {
  const algorithmOid = info.algorithm.algorithmId;
  if (algorithmOid === PublicKeyOid.rsaEncryption) {
    if (!(info.parsedKey instanceof pkijs.RSAPublicKey)) throw invalid("the RSA public key does not decode");
    const modulus = new Uint8Array(info.parsedKey.modulus.valueBlock.valueHexView);
    let start = 0;
    while (start < modulus.length && modulus[start] === 0) start++;
    const first = modulus[start] ?? 0;
    const modulusBits = first === 0 ? 0 : (modulus.length - start - 1) * 8 + (32 - Math.clz32(first));
    return { kind: "RSA", modulusBits };
  }
  if (algorithmOid === PublicKeyOid.ecPublicKey) {
    const params = info.algorithm.algorithmParams;
    if (!(params instanceof asn1js.ObjectIdentifier)) throw invalid("the EC public key has no named curve");
    return { kind: "EC", curveOid: params.valueBlock.toString() };
  }
  return { kind: "other", algorithmOid };
}

function requestedSubjectAltName(request: pkijs.CertificationRequest): CertificationRequestInfo["subjectAltName"] {
  const attributes = (request.attributes ?? []).filter((a) => a.type === Pkcs9Oid.extensionRequest);
  if (attributes.length === 0) return undefined;
  if (attributes.length > 1 || attributes[0]?.values.length !== 1) {
    throw invalid("extensionRequest must appear once with a single value (RFC 2985 §5.4.2)");
  }
  let extensions: pkijs.Extensions;
  try {
    extensions = new pkijs.Extensions({ schema: attributes[0].values[0] });
  } catch (cause) {
    throw invalid("extensionRequest is not a SEQUENCE of Extension", cause);
  }
  const sans = extensions.extensions.filter((e) => e.extnID === ExtensionOid.subjectAltName);
  if (sans.length > 1) throw invalid("subjectAltName is requested twice");
  const san = sans[0];
  if (san === undefined) return undefined;
  const value = new Uint8Array(san.extnValue.valueBlock.valueHexView);
  try {
    // Decode once to refuse garbage; the certificate gets the original octets.
    const names = pkijs.AltName.fromBER(toArrayBuffer(value));
    if (names.altNames.length === 0) throw new Error("no GeneralName");
  } catch (cause) {
    throw invalid("the requested subjectAltName is not a non-empty GeneralNames (RFC 5280 §4.2.1.6)", cause);
  }
  return { critical: san.critical, value };
}

/**
 * Decode a DER PKCS#10 request and verify its self-signature.
 * @throws CardwrightError `CA_INVALID_REQUEST` when the bytes are not one DER
 * CertificationRequest, its extensionRequest is malformed, or the signature does not verify
 * against the enclosed public key.
 */
export async function readCertificationRequest(der: Uint8Array): Promise<CertificationRequestInfo> {
  const asn1 = asn1js.fromBER(toArrayBuffer(der));
  if (asn1.offset === -1) throw invalid(`not DER (${asn1.result.error || "undecodable"})`);
  if (asn1.offset !== der.byteLength) throw invalid(`${der.byteLength - asn1.offset} stray octets after the request`);
  let request: pkijs.CertificationRequest;
  try {
    request = new pkijs.CertificationRequest({ schema: asn1.result });
  } catch (cause) {
    throw invalid("not a CertificationRequest structure", cause);
  }
  if (request.version !== 0) throw invalid(`version ${request.version}, expected v1 (0)`);

  const publicKey = describePublicKey(request.subjectPublicKeyInfo);
  const subjectAltName = requestedSubjectAltName(request);

  let verified: boolean;
  try {
    verified = await request.verify(cryptoEngine());
  } catch (cause) {
    throw invalid(`the signature (${request.signatureAlgorithm.algorithmId}) could not be checked`, cause);
  }
  if (!verified) throw invalid("the signature does not verify with the enclosed public key (no proof of possession)");

  return {
    subject: request.subject,
    publicKeyInfo: request.subjectPublicKeyInfo,
    publicKey,
    ...(subjectAltName === undefined ? {} : { subjectAltName }),
  };
}

/**
 * {@link readCertificationRequest} for a submitted request: its errors also carry `details`
 * (the request's id), so the operator can tell which request was refused.
 * @throws CardwrightError `CA_INVALID_REQUEST` as {@link readCertificationRequest}.
 */
export async function readSubmittedCertificationRequest(
  der: Uint8Array,
  details: ErrorDetails,
): Promise<CertificationRequestInfo> {
  try {
    return await readCertificationRequest(der);
  } catch (err) {
    if (err instanceof CardwrightError) {
      throw new CardwrightError(err.code, err.message, { details: { ...err.details, ...details }, cause: err.cause });
    }
    throw err;
  }
}
