/**
 * RFC 4210 §5.1.1 PKIHeader. The module is EXPLICIT TAGS, so every optional field is an
 * explicitly tagged `[n]`. Sender and recipient are `directoryName` GeneralNames, as the
 * lightweight profile requires (RFC 9483 §3.1).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import {
  badResponse,
  contextTag,
  encodeFreeText,
  explicit,
  freeText,
  integerValue,
  octets,
  receivedBytes,
  sequenceItems,
  unwrapExplicit,
} from "./der.js";

/** pvno cmp2000 (RFC 4210 §5.1.1); OpenSSL 3.0 and most CAs speak it. */
export const PVNO_CMP2000 = 2;

/** Field tags of PKIHeader. */
const Tag = {
  messageTime: 0,
  protectionAlg: 1,
  senderKID: 2,
  recipKID: 3,
  transactionID: 4,
  senderNonce: 5,
  recipNonce: 6,
  freeText: 7,
  generalInfo: 8,
} as const;

/** A PKIHeader to encode. */
export interface PkiHeaderInput {
  /** Sender's directory name (DER Name); NULL-DN (empty) when the sender is known by `senderKid` only. */
  sender: pkijs.RelativeDistinguishedNames;
  recipient: pkijs.RelativeDistinguishedNames;
  messageTime: Date;
  protectionAlg?: pkijs.AlgorithmIdentifier;
  senderKid?: Uint8Array;
  transactionId: Uint8Array;
  senderNonce: Uint8Array;
  recipNonce?: Uint8Array;
  freeText?: readonly string[];
}

/** A decoded PKIHeader. */
export interface PkiHeader {
  pvno: number;
  /** DER of the sender GeneralName. */
  sender: Uint8Array;
  protectionAlg?: pkijs.AlgorithmIdentifier;
  senderKid?: Uint8Array;
  transactionId?: Uint8Array;
  senderNonce?: Uint8Array;
  recipNonce?: Uint8Array;
  freeText?: string[];
}

function directoryName(name: pkijs.RelativeDistinguishedNames): asn1js.AsnType {
  return new pkijs.GeneralName({ type: 4, value: name }).toSchema() as asn1js.AsnType;
}

/** Encode a PKIHeader (RFC 4210 §5.1.1). */
export function encodePkiHeader(h: PkiHeaderInput): asn1js.Sequence {
  const value: asn1js.AsnType[] = [
    new asn1js.Integer({ value: PVNO_CMP2000 }),
    directoryName(h.sender),
    directoryName(h.recipient),
    explicit(Tag.messageTime, new asn1js.GeneralizedTime({ valueDate: h.messageTime })),
  ];
  if (h.protectionAlg !== undefined) value.push(explicit(Tag.protectionAlg, h.protectionAlg.toSchema()));
  if (h.senderKid !== undefined) {
    value.push(explicit(Tag.senderKID, new asn1js.OctetString({ valueHex: new Uint8Array(h.senderKid).buffer })));
  }
  value.push(explicit(Tag.transactionID, new asn1js.OctetString({ valueHex: new Uint8Array(h.transactionId).buffer })));
  value.push(explicit(Tag.senderNonce, new asn1js.OctetString({ valueHex: new Uint8Array(h.senderNonce).buffer })));
  if (h.recipNonce !== undefined) {
    value.push(explicit(Tag.recipNonce, new asn1js.OctetString({ valueHex: new Uint8Array(h.recipNonce).buffer })));
  }
  if (h.freeText !== undefined && h.freeText.length > 0) value.push(explicit(Tag.freeText, encodeFreeText(h.freeText)));
  return new asn1js.Sequence({ value });
}

/**
 * Decode a PKIHeader.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed.
 */
export function decodePkiHeader(block: asn1js.AsnType): PkiHeader {
  const items = sequenceItems(block, "PKIHeader");
  const [pvno, sender, recipient, ...rest] = items;
  if (sender === undefined || recipient === undefined) throw badResponse("PKIHeader lacks sender or recipient");
  const header: PkiHeader = { pvno: integerValue(pvno, "PKIHeader.pvno"), sender: receivedBytes(sender) };
  for (const item of rest) {
    const tag = contextTag(item);
    const inner = unwrapExplicit(item, `PKIHeader field [${tag}]`);
    switch (tag) {
      case Tag.protectionAlg:
        try {
          header.protectionAlg = new pkijs.AlgorithmIdentifier({ schema: inner });
        } catch (err) {
          throw badResponse("PKIHeader.protectionAlg is not an AlgorithmIdentifier", err);
        }
        break;
      case Tag.senderKID:
        header.senderKid = octets(inner, "PKIHeader.senderKID");
        break;
      case Tag.transactionID:
        header.transactionId = octets(inner, "PKIHeader.transactionID");
        break;
      case Tag.senderNonce:
        header.senderNonce = octets(inner, "PKIHeader.senderNonce");
        break;
      case Tag.recipNonce:
        header.recipNonce = octets(inner, "PKIHeader.recipNonce");
        break;
      case Tag.freeText:
        header.freeText = freeText(inner, "PKIHeader.freeText");
        break;
      case Tag.messageTime:
      case Tag.recipKID:
      case Tag.generalInfo:
        break;
      default:
        throw badResponse(`PKIHeader has an unknown field [${String(tag)}]`);
    }
  }
  return header;
}
