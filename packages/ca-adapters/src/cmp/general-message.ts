/**
 * RFC 4210 §5.3.19 GenMsgContent / GenRepContent (genm, genp), used to ask the CA for its
 * certificates: InfoTypeAndValue `id-it-caCerts` (RFC 9483 §4.3.1).
 */
import * as asn1js from "asn1js";
import { oidValue, receivedBytes, sequenceItems } from "./der.js";

/** id-it-caCerts (RFC 9483 §4.3.1, RFC 4210 §5.3.19.x). */
export const ID_IT_CA_CERTS = "1.3.6.1.5.5.7.4.17";

/** Encode a GenMsgContent asking for `infoType` (infoValue absent). */
export function encodeGenMsgContent(infoType: string): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: infoType })] })],
  });
}

/**
 * The certificates of an `id-it-caCerts` answer in a GenRepContent: `undefined` when the CA
 * sent no such InfoTypeAndValue or sent it without a value (it does not support the request).
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed.
 */
export function caCertsFromGenRep(block: asn1js.AsnType): Uint8Array[] | undefined {
  for (const itav of sequenceItems(block, "GenRepContent")) {
    const [type, value] = sequenceItems(itav, "InfoTypeAndValue");
    if (oidValue(type, "InfoTypeAndValue.infoType") !== ID_IT_CA_CERTS || value === undefined) continue;
    const certs = sequenceItems(value, "caCerts").map(receivedBytes);
    if (certs.length > 0) return certs;
  }
  return undefined;
}
