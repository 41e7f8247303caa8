/** RFC 4210 §5.3.4 CertRepMessage (the content of ip, cp and kup). */
import * as asn1js from "asn1js";
import { badResponse, contextTag, integerValue, receivedBytes, sequenceItems, unwrapExplicit } from "./der.js";
import { decodePkiStatusInfo, type PkiStatusInfo } from "./pki-status.js";

/** One CertResponse. */
export interface CertResponse {
  certReqId: number;
  status: PkiStatusInfo;
  /** DER certificate when the CA issued one in the clear. */
  certificate?: Uint8Array;
  /** The CA returned the certificate encrypted (RFC 4210 §5.2.2), which cardwright does not request. */
  encrypted: boolean;
}

/** A decoded CertRepMessage. */
export interface CertRepMessage {
  /** DER CA certificates of caPubs. */
  caPubs: Uint8Array[];
  responses: CertResponse[];
}

function certResponse(block: asn1js.AsnType): CertResponse {
  const [certReqId, status, certifiedKeyPair] = sequenceItems(block, "CertResponse");
  const out: CertResponse = {
    certReqId: integerValue(certReqId, "CertResponse.certReqId"),
    status: decodePkiStatusInfo(status),
    encrypted: false,
  };
  if (certifiedKeyPair instanceof asn1js.Sequence) {
    const [certOrEncCert] = sequenceItems(certifiedKeyPair, "CertifiedKeyPair");
    if (certOrEncCert === undefined) throw badResponse("CertifiedKeyPair is empty");
    const tag = contextTag(certOrEncCert);
    if (tag === 0) out.certificate = receivedBytes(unwrapExplicit(certOrEncCert, "CertOrEncCert.certificate"));
    else if (tag === 1) out.encrypted = true;
    else throw badResponse("CertOrEncCert has an unknown alternative");
  }
  return out;
}

/**
 * Decode a CertRepMessage.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed.
 */
export function decodeCertRepMessage(block: asn1js.AsnType): CertRepMessage {
  const items = sequenceItems(block, "CertRepMessage");
  const out: CertRepMessage = { caPubs: [], responses: [] };
  for (const item of items) {
    if (contextTag(item) === 1) {
      out.caPubs = sequenceItems(unwrapExplicit(item, "CertRepMessage.caPubs"), "caPubs").map(receivedBytes);
    } else {
      out.responses = sequenceItems(item, "CertRepMessage.response").map(certResponse);
    }
  }
  return out;
}
