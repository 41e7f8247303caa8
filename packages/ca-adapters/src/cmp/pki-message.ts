/**
 * RFC 4210 §5.1 PKIMessage and §5.1.3 ProtectedPart. Protection covers the DER of
 * `SEQUENCE { header, body }`; for a received message it is rebuilt from the bytes exactly as
 * received, so a CA's encoding quirks cannot break verification.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import {
  badResponse,
  contextTag,
  decodeDer,
  encode,
  explicit,
  receivedBytes,
  sequenceItems,
  unwrapExplicit,
} from "./der.js";
import { bodyTypeName } from "./pki-body.js";
import { decodePkiHeader, encodePkiHeader, type PkiHeader, type PkiHeaderInput } from "./pki-header.js";

/** A decoded PKIMessage. */
export interface PkiMessage {
  header: PkiHeader;
  /** PKIBody CHOICE tag (see `BodyType`). */
  bodyType: number;
  /** The body's content, inside its explicit tag. */
  body: asn1js.AsnType;
  /** DER ProtectedPart, to verify `protection` against. */
  protectedPart: Uint8Array;
  protection?: Uint8Array;
  /** DER certificates of extraCerts. */
  extraCerts: Uint8Array[];
}

/** DER length octets. */
function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** DER of `SEQUENCE { parts... }` from already encoded parts. */
export function derSequence(...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, p) => sum + p.byteLength, 0);
  const head = Uint8Array.of(0x30, ...derLength(length));
  const out = new Uint8Array(head.byteLength + length);
  out.set(head, 0);
  let at = head.byteLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A PKIMessage ready to protect: its header and body DER, and the ProtectedPart they make. */
export interface UnprotectedMessage {
  header: Uint8Array;
  body: Uint8Array;
  protectedPart: Uint8Array;
}

/** Encode header and body (RFC 4210 §5.1.3 ProtectedPart) before computing the protection. */
export function prepareMessage(header: PkiHeaderInput, bodyType: number, content: asn1js.AsnType): UnprotectedMessage {
  const h = encode(encodePkiHeader(header));
  const b = encode(explicit(bodyType, content));
  return { header: h, body: b, protectedPart: derSequence(h, b) };
}

/** The final PKIMessage DER with its protection and extraCerts (RFC 4210 §5.1). */
export function finishMessage(
  message: UnprotectedMessage,
  protection: Uint8Array,
  extraCerts: readonly Uint8Array[],
): Uint8Array {
  const parts = [
    message.header,
    message.body,
    encode(explicit(0, new asn1js.BitString({ valueHex: new Uint8Array(protection).buffer }))),
  ];
  if (extraCerts.length > 0) {
    const certs = extraCerts.map((der) => decodeDer(der, "extraCerts certificate"));
    parts.push(encode(explicit(1, new asn1js.Sequence({ value: certs }))));
  }
  return derSequence(...parts);
}

/**
 * Decode a PKIMessage.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed.
 */
export function decodePkiMessage(der: Uint8Array): PkiMessage {
  const [headerBlock, bodyBlock, ...rest] = sequenceItems(decodeDer(der, "PKIMessage"), "PKIMessage");
  if (headerBlock === undefined || bodyBlock === undefined) throw badResponse("PKIMessage lacks header or body");
  const bodyType = contextTag(bodyBlock);
  if (bodyType === undefined) throw badResponse("PKIBody is not a tagged CHOICE");
  const message: PkiMessage = {
    header: decodePkiHeader(headerBlock),
    bodyType,
    body: unwrapExplicit(bodyBlock, `PKIBody ${bodyTypeName(bodyType)}`),
    protectedPart: derSequence(receivedBytes(headerBlock), receivedBytes(bodyBlock)),
    extraCerts: [],
  };
  for (const item of rest) {
    const tag = contextTag(item);
    const inner = unwrapExplicit(item, `PKIMessage field [${tag}]`);
    if (tag === 0) {
      if (!(inner instanceof asn1js.BitString)) throw badResponse("PKIMessage.protection is not a BIT STRING");
      message.protection = new Uint8Array(inner.valueBlock.valueHexView);
    } else if (tag === 1) {
      message.extraCerts = sequenceItems(inner, "PKIMessage.extraCerts").map(receivedBytes);
    } else {
      throw badResponse(`PKIMessage has an unknown field [${String(tag)}]`);
    }
  }
  return message;
}

/** The NULL-DN: an empty directory name (RFC 9483 §3.1 for senders known by senderKID only). */
export function nullDn(): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames();
}
