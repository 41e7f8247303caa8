/** RFC 4210 §5.3.22 PollReqContent and PollRepContent: asking again about a waiting request. */
import * as asn1js from "asn1js";
import { badResponse, freeText, integerValue, sequenceItems } from "./der.js";

/** One entry of a PollRepContent. */
export interface PollRep {
  certReqId: number;
  /** Seconds the CA asks us to wait before polling again. */
  checkAfter: number;
  reason: string[];
}

/** Encode a PollReqContent for the given certReqIds. */
export function encodePollReqContent(certReqIds: readonly number[]): asn1js.Sequence {
  return new asn1js.Sequence({
    value: certReqIds.map((id) => new asn1js.Sequence({ value: [new asn1js.Integer({ value: id })] })),
  });
}

/**
 * Decode a PollRepContent.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed or empty.
 */
export function decodePollRepContent(block: asn1js.AsnType): PollRep[] {
  const entries = sequenceItems(block, "PollRepContent").map((entry) => {
    const [certReqId, checkAfter, reason] = sequenceItems(entry, "PollRepContent entry");
    const checkAfterSeconds = integerValue(checkAfter, "PollRepContent.checkAfter");
    if (checkAfterSeconds < 0) throw badResponse("PollRepContent.checkAfter is negative");
    return {
      certReqId: integerValue(certReqId, "PollRepContent.certReqId"),
      checkAfter: checkAfterSeconds,
      reason: reason === undefined ? [] : freeText(reason, "PollRepContent.reason"),
    };
  });
  if (entries.length === 0) throw badResponse("PollRepContent is empty");
  return entries;
}
