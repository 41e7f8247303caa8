/**
 * Small DER reading helpers for the CMP structures pkijs has no schema for. Every malformed
 * input becomes a `CA_BAD_RESPONSE` error, because everything decoded here came from the CA.
 */
import { CardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";

/** Tag class of context-specific tags ([n]) in asn1js's idBlock. */
const CONTEXT = 3;

/** A `CA_BAD_RESPONSE` error about the CMP response. */
export function badResponse(message: string, cause?: unknown): CardwrightError {
  return new CardwrightError("CA_BAD_RESPONSE", `cmp: ${message}`, cause === undefined ? {} : { cause });
}

/**
 * Decode exactly one DER element spanning all of `der`.
 * @throws CardwrightError `CA_BAD_RESPONSE` for malformed or trailing bytes.
 */
export function decodeDer(der: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || parsed.result.error !== "") throw badResponse(`${what} is not valid DER`);
  if (parsed.offset !== der.byteLength) throw badResponse(`${what} has trailing bytes after the DER element`);
  return parsed.result;
}

/** The encoding of `block` exactly as it was received (what protection and hashes cover). */
export function receivedBytes(block: asn1js.AsnType): Uint8Array {
  return new Uint8Array(block.valueBeforeDecodeView);
}

/** The DER encoding of `block`. */
export function encode(block: asn1js.AsnType): Uint8Array {
  return new Uint8Array(block.toBER(false));
}

/** `[tag] EXPLICIT inner`. */
export function explicit(tag: number, inner: asn1js.AsnType): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: CONTEXT, tagNumber: tag }, value: [inner] });
}

/** The elements of a SEQUENCE (or SEQUENCE OF). */
export function sequenceItems(block: asn1js.AsnType | undefined, what: string): asn1js.AsnType[] {
  if (!(block instanceof asn1js.Sequence)) throw badResponse(`${what} is not a SEQUENCE`);
  return block.valueBlock.value as asn1js.AsnType[];
}

/** The context tag number of `block`, or undefined when it is not context-specific. */
export function contextTag(block: asn1js.AsnType): number | undefined {
  return block.idBlock.tagClass === CONTEXT ? block.idBlock.tagNumber : undefined;
}

/** The single element inside an EXPLICIT context tag. */
export function unwrapExplicit(block: asn1js.AsnType, what: string): asn1js.AsnType {
  if (!(block instanceof asn1js.Constructed) || block.valueBlock.value.length !== 1) {
    throw badResponse(`${what} is not an explicitly tagged element`);
  }
  return block.valueBlock.value[0] as asn1js.AsnType;
}

/** A small non-negative or negative INTEGER as a number. */
export function integerValue(block: asn1js.AsnType | undefined, what: string): number {
  if (!(block instanceof asn1js.Integer)) throw badResponse(`${what} is not an INTEGER`);
  const bytes = block.valueBlock.valueHexView;
  if (bytes.byteLength > 6) throw badResponse(`${what} is too large`);
  return block.valueBlock.valueDec;
}

/** The contents of an OCTET STRING. */
export function octets(block: asn1js.AsnType | undefined, what: string): Uint8Array {
  if (!(block instanceof asn1js.OctetString)) throw badResponse(`${what} is not an OCTET STRING`);
  return new Uint8Array(block.valueBlock.valueHexView);
}

/** The dotted value of an OBJECT IDENTIFIER. */
export function oidValue(block: asn1js.AsnType | undefined, what: string): string {
  if (!(block instanceof asn1js.ObjectIdentifier)) throw badResponse(`${what} is not an OBJECT IDENTIFIER`);
  return block.valueBlock.toString();
}

/** The strings of an RFC 4210 §5.1.1 PKIFreeText (SEQUENCE OF UTF8String). */
export function freeText(block: asn1js.AsnType | undefined, what: string): string[] {
  return sequenceItems(block, what).map((item) => {
    if (!(item instanceof asn1js.Utf8String)) throw badResponse(`${what} holds a non-UTF8String`);
    return item.valueBlock.value;
  });
}

/** Encode an RFC 4210 §5.1.1 PKIFreeText. */
export function encodeFreeText(texts: readonly string[]): asn1js.Sequence {
  return new asn1js.Sequence({ value: texts.map((value) => new asn1js.Utf8String({ value })) });
}

/** Constant-time-free byte equality, for values that are not secrets (nonces, ids, keys). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

/** Hex of `bytes`, lowercase. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Bytes of a hex string, in their own buffer. */
export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "hex"));
}
