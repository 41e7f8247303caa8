/** RFC 4210 §5.3.21 ErrorMsgContent: the CA's answer when it cannot process a message. */
import * as asn1js from "asn1js";
import { freeText, integerValue, sequenceItems } from "./der.js";
import { decodePkiStatusInfo, type PkiStatusInfo } from "./pki-status.js";

/** A decoded ErrorMsgContent. */
export interface ErrorMsgContent {
  status: PkiStatusInfo;
  errorCode?: number;
  errorDetails: string[];
}

/**
 * Decode an ErrorMsgContent.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed.
 */
export function decodeErrorMsgContent(block: asn1js.AsnType): ErrorMsgContent {
  const [status, ...rest] = sequenceItems(block, "ErrorMsgContent");
  const out: ErrorMsgContent = { status: decodePkiStatusInfo(status), errorDetails: [] };
  for (const item of rest) {
    if (item instanceof asn1js.Integer) out.errorCode = integerValue(item, "ErrorMsgContent.errorCode");
    else out.errorDetails = freeText(item, "ErrorMsgContent.errorDetails");
  }
  return out;
}
