/**
 * CMC Full PKI Requests (RFC 5272 §3.2, transported per RFC 5273) for issuing on behalf: the
 * device's PKCS#10 goes into a PKIData as a TaggedCertificationRequest, and an enrollment agent
 * signs the PKIData as CMS SignedData (RFC 5652 §5) with eContentType id-cct-PKIData. The agent's
 * private key signs through a callback, so it may live on a card, in an HSM or in software.
 *
 * pkijs has CMS but no CMC schema, so PKIData is built with asn1js following the RFC 5272
 * ASN.1 module (IMPLICIT TAGS).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CardwrightError } from "../errors.js";
import type { HashAlgorithm } from "../ports/device.js";

/** id-cct-PKIData (RFC 5272 §3.2.1): the eContentType of a Full PKI Request. */
export const ID_CCT_PKIDATA = "1.3.6.1.5.5.7.12.2";
const OID_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME = "1.2.840.113549.1.9.5";
const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1";

const HASH_OIDS: Record<HashAlgorithm, string> = {
  "SHA-256": "2.16.840.1.101.3.4.2.1",
  "SHA-384": "2.16.840.1.101.3.4.2.2",
  "SHA-512": "2.16.840.1.101.3.4.2.3",
};
/** Signature algorithms: ecdsa-with-SHA* (RFC 5753 §2.1.1) and sha*WithRSAEncryption (RFC 4055 §5). */
const ECDSA_OIDS: Record<HashAlgorithm, string> = {
  "SHA-256": "1.2.840.10045.4.3.2",
  "SHA-384": "1.2.840.10045.4.3.3",
  "SHA-512": "1.2.840.10045.4.3.4",
};
const RSA_OIDS: Record<HashAlgorithm, string> = {
  "SHA-256": "1.2.840.113549.1.1.11",
  "SHA-384": "1.2.840.113549.1.1.12",
  "SHA-512": "1.2.840.113549.1.1.13",
};

/**
 * Signs with the enrollment agent's private key: returns the signature over `data` hashed with
 * `hash` — DER ECDSA-Sig-Value for EC keys, PKCS#1 v1.5 for RSA keys (as a PIV card returns them).
 */
export type CmcAgentSigner = (data: Uint8Array, hash: HashAlgorithm) => Promise<Uint8Array>;

/** Inputs of {@link buildCmcFullPkiRequest}. */
export interface CmcFullPkiRequestInput {
  /** DER PKCS#10 CertificationRequest (RFC 2986), signed by the device that holds the key. */
  csr: Uint8Array;
  /** DER certificate of the enrollment agent (usually with the Certificate Request Agent EKU). */
  agentCertificate: Uint8Array;
  /** Signs with the agent certificate's key. */
  agentSigner: CmcAgentSigner;
  /** Digest for messageDigest and the signature (default SHA-256). */
  hash?: HashAlgorithm;
  /** Signing time written as a signed attribute (default: now). */
  signingTime?: Date;
  /** BodyPartID of the request in the PKIData (RFC 5272 §3.2.2; default 1). */
  bodyPartId?: number;
}

/** A parsed Full PKI Request, as {@link readCmcFullPkiRequest} returns it. */
export interface CmcFullPkiRequest {
  /** The PKCS#10 requests, DER, with their BodyPartIDs. */
  requests: { bodyPartId: number; csr: Uint8Array }[];
  /** The DER certificate of the signer (found by issuerAndSerialNumber among the SignedData certificates). */
  signerCertificate: Uint8Array;
}

function der(block: asn1js.BaseBlock): Uint8Array {
  return new Uint8Array(block.toBER(false));
}

/**
 * PKIData ::= SEQUENCE { controlSequence, reqSequence, cmsSequence, otherMsgSequence }
 * (RFC 5272 §3.2.1) with one TaggedCertificationRequest: `tcr [0] IMPLICIT SEQUENCE
 * { bodyPartID, certificationRequest }` (§3.2.1.2.1). No controls: a bare Full PKI Request.
 */
function pkiData(csr: pkijs.CertificationRequest, bodyPartId: number): asn1js.Sequence {
  const tcr = new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 0 },
    value: [new asn1js.Integer({ value: bodyPartId }), csr.toSchema(false)],
  });
  return new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [] }),
      new asn1js.Sequence({ value: [tcr] }),
      new asn1js.Sequence({ value: [] }),
      new asn1js.Sequence({ value: [] }),
    ],
  });
}

function signatureAlgorithm(certificate: pkijs.Certificate, hash: HashAlgorithm): pkijs.AlgorithmIdentifier {
  const keyOid = certificate.subjectPublicKeyInfo.algorithm.algorithmId;
  if (keyOid === OID_EC_PUBLIC_KEY) return new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_OIDS[hash] });
  if (keyOid === OID_RSA_ENCRYPTION) {
    return new pkijs.AlgorithmIdentifier({ algorithmId: RSA_OIDS[hash], algorithmParams: new asn1js.Null() });
  }
  throw new CardwrightError(
    "CONFIG_INVALID",
    `the enrollment agent certificate has a ${keyOid} key; CMC signing supports EC and RSA agent keys`,
    { details: { keyAlgorithm: keyOid } },
  );
}

function parseOrThrow<T>(parse: () => T, what: string): T {
  try {
    return parse();
  } catch (err) {
    throw new CardwrightError("CA_INVALID_REQUEST", `${what} is not valid DER`, { cause: err });
  }
}

/**
 * Build a DER CMC Full PKI Request (RFC 5272 §3.2): a ContentInfo holding SignedData whose
 * encapsulated PKIData carries `csr`, signed by the enrollment agent. Signed attributes are
 * contentType, messageDigest (RFC 5652 §5.3, required because the content is not id-data) and
 * signingTime; the agent certificate goes into `certificates` so the CA can find the signer.
 * @throws CardwrightError `CA_INVALID_REQUEST` when `csr` is not a PKCS#10 request,
 * `CONFIG_INVALID` when the agent certificate is not a certificate or has an unsupported key;
 * whatever `agentSigner` throws.
 */
export async function buildCmcFullPkiRequest(input: CmcFullPkiRequestInput): Promise<Uint8Array> {
  const hash = input.hash ?? "SHA-256";
  const csr = parseOrThrow(() => pkijs.CertificationRequest.fromBER(new Uint8Array(input.csr)), "the PKCS#10 request");
  let agent: pkijs.Certificate;
  try {
    agent = pkijs.Certificate.fromBER(new Uint8Array(input.agentCertificate));
  } catch (err) {
    throw new CardwrightError("CONFIG_INVALID", "the enrollment agent certificate is not a DER X.509 certificate", {
      cause: err,
    });
  }
  const content = der(pkiData(csr, input.bodyPartId ?? 1));
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest(hash, content.slice()));
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({
    type: 0,
    attributes: [
      new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: ID_CCT_PKIDATA })] }),
      new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: digest })] }),
      new pkijs.Attribute({
        type: OID_SIGNING_TIME,
        values: [new asn1js.UTCTime({ valueDate: input.signingTime ?? new Date() })],
      }),
    ],
  });
  // The signature covers the signed attributes re-tagged as an explicit SET OF (RFC 5652 §5.4).
  const attrsSet = new asn1js.Set({ value: signedAttrs.attributes.map((a) => a.toSchema()) });
  const signature = await input.agentSigner(der(attrsSet), hash);
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: agent.issuer, serialNumber: agent.serialNumber }),
    digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OIDS[hash] }),
    signedAttrs,
    signatureAlgorithm: signatureAlgorithm(agent, hash),
    signature: new asn1js.OctetString({ valueHex: signature.slice().buffer }),
  });
  const signedData = new pkijs.SignedData({
    version: 3,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OIDS[hash] })],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: ID_CCT_PKIDATA,
      eContent: new asn1js.OctetString({ valueHex: content.slice().buffer }),
    }),
    certificates: [agent],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema(true) });
  return der(contentInfo.toSchema());
}

/**
 * Read a DER CMC Full PKI Request back: the PKCS#10 requests of its PKIData and the signer's
 * certificate. The signature is not verified here (a CA does that against its trust anchors).
 * @throws CardwrightError `CA_INVALID_REQUEST` when `cmc` is not SignedData over a PKIData.
 */
export function readCmcFullPkiRequest(cmc: Uint8Array): CmcFullPkiRequest {
  const invalid = (why: string, cause?: unknown) =>
    new CardwrightError("CA_INVALID_REQUEST", `not a CMC Full PKI Request: ${why}`, { cause });
  const info = parseOrThrow(() => pkijs.ContentInfo.fromBER(new Uint8Array(cmc)), "the CMC request");
  if (info.contentType !== OID_SIGNED_DATA) throw invalid(`content type ${info.contentType} is not SignedData`);
  const signed = parseOrThrow(() => new pkijs.SignedData({ schema: info.content }), "the CMC SignedData");
  if (signed.encapContentInfo.eContentType !== ID_CCT_PKIDATA) {
    throw invalid(`eContentType ${signed.encapContentInfo.eContentType} is not id-cct-PKIData`);
  }
  const eContent = signed.encapContentInfo.eContent;
  if (eContent === undefined) throw invalid("the PKIData is detached");
  const parsed = asn1js.fromBER(eContent.getValue());
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) throw invalid("PKIData is not a SEQUENCE");
  const reqSequence = parsed.result.valueBlock.value[1];
  if (!(reqSequence instanceof asn1js.Sequence)) throw invalid("reqSequence is missing");
  const requests: CmcFullPkiRequest["requests"] = [];
  for (const tagged of reqSequence.valueBlock.value) {
    // Only tcr [0] carries a PKCS#10; crm [1] and orm [2] are other request formats.
    if (tagged.idBlock.tagClass !== 3 || tagged.idBlock.tagNumber !== 0) continue;
    const [id, request] = (tagged as asn1js.Constructed).valueBlock.value;
    if (!(id instanceof asn1js.Integer) || request === undefined) throw invalid("malformed TaggedCertificationRequest");
    const csr = parseOrThrow(() => new pkijs.CertificationRequest({ schema: request }), "the tagged PKCS#10 request");
    requests.push({ bodyPartId: id.valueBlock.valueDec, csr: der(csr.toSchema()) });
  }
  const signerInfo = signed.signerInfos[0];
  if (signerInfo === undefined) throw invalid("no SignerInfo");
  const sid = signerInfo.sid;
  const signer = (signed.certificates ?? []).find(
    (c): c is pkijs.Certificate =>
      c instanceof pkijs.Certificate &&
      sid instanceof pkijs.IssuerAndSerialNumber &&
      c.issuer.isEqual(sid.issuer) &&
      c.serialNumber.isEqual(sid.serialNumber),
  );
  if (signer === undefined) throw invalid("the signer's certificate is not in the SignedData");
  return { requests, signerCertificate: der(signer.toSchema()) };
}

/** id-cct-PKIResponse (RFC 5272 §3.2.2): the eContentType of a Full PKI Response. */
export const ID_CCT_PKIRESPONSE = "1.3.6.1.5.5.7.12.3";
const OID_CMC_STATUS_INFO = "1.3.6.1.5.5.7.7.1";
const OID_CMC_STATUS_INFO_V2 = "1.3.6.1.5.5.7.7.25";

/** CMCStatus (RFC 5272 §6.1.1), by name. */
export type CmcStatus = "success" | "failed" | "pending" | "noSupport" | "confirmRequired" | "popRequired" | "partial";
const CMC_STATUS: Readonly<Record<number, CmcStatus>> = {
  0: "success",
  2: "failed",
  3: "pending",
  4: "noSupport",
  5: "confirmRequired",
  6: "popRequired",
  7: "partial",
};

/** A CMC response as far as enrollment needs it. */
export interface CmcResponse {
  /** The certificates of the SignedData (issued certificate and chain), DER. */
  certificates: Uint8Array[];
  /** From the CMCStatusInfo(V2) control of a Full PKI Response; absent in a Simple PKI Response. */
  status?: { status: CmcStatus; statusString?: string };
}

/**
 * Read a CMC response (RFC 5272 §3.2.2, §4): a Simple PKI Response (certs-only SignedData) or a
 * Full PKI Response whose PKIData carries a CMCStatusInfoV2 (or CMCStatusInfo) control.
 * The signature is not verified here.
 * @throws CardwrightError `CA_BAD_RESPONSE` when `bytes` is neither.
 */
export function readCmcResponse(bytes: Uint8Array): CmcResponse {
  const bad = (why: string, cause?: unknown) =>
    new CardwrightError("CA_BAD_RESPONSE", `not a CMC response: ${why}`, cause === undefined ? {} : { cause });
  let signed: pkijs.SignedData;
  try {
    const info = pkijs.ContentInfo.fromBER(new Uint8Array(bytes));
    if (info.contentType !== OID_SIGNED_DATA) throw new Error(`content type ${info.contentType}`);
    signed = new pkijs.SignedData({ schema: info.content });
  } catch (err) {
    throw bad("not CMS SignedData", err);
  }
  const certificates = (signed.certificates ?? [])
    .filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
    .map((c) => der(c.toSchema()));
  const response: CmcResponse = { certificates };
  if (signed.encapContentInfo.eContentType !== ID_CCT_PKIRESPONSE) return response;
  const content = signed.encapContentInfo.eContent;
  if (content === undefined) throw bad("the PKIResponse is detached");
  const parsed = asn1js.fromBER(content.getValue());
  const controls = parsed.result instanceof asn1js.Sequence ? parsed.result.valueBlock.value[0] : undefined;
  if (!(controls instanceof asn1js.Sequence)) throw bad("PKIResponse has no controlSequence");
  for (const tagged of controls.valueBlock.value) {
    const [, type, values] = (tagged as asn1js.Sequence).valueBlock.value;
    if (!(type instanceof asn1js.ObjectIdentifier) || !(values instanceof asn1js.Set)) continue;
    const oid = type.valueBlock.toString();
    if (oid !== OID_CMC_STATUS_INFO_V2 && oid !== OID_CMC_STATUS_INFO) continue;
    const info = values.valueBlock.value[0];
    if (!(info instanceof asn1js.Sequence)) throw bad("malformed CMCStatusInfo");
    const [code, , text] = info.valueBlock.value;
    if (!(code instanceof asn1js.Integer)) throw bad("malformed CMCStatusInfo");
    const status = CMC_STATUS[code.valueBlock.valueDec];
    if (status === undefined) throw bad(`unknown CMCStatus ${code.valueBlock.valueDec}`);
    response.status = {
      status,
      ...(text instanceof asn1js.Utf8String ? { statusString: text.valueBlock.value } : {}),
    };
    break;
  }
  return response;
}
