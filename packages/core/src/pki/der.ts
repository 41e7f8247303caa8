/**
 * Reading the few DER structures cardwright needs (X.690 §8 and §10) with one asn1js decode and
 * direct navigation. pkijs's `fromBER` checks every structure against a schema tree and builds an
 * object per field, which costs milliseconds per certificate; the checks kept here are the ones
 * that structure's ASN.1 definition imposes on the fields read.
 */
import * as asn1js from "asn1js";

/** The decoded outer element of `bytes`, or `undefined` when they are not BER. */
export function decodeDer(bytes: Uint8Array): asn1js.AsnType | undefined {
  const decoded = asn1js.fromBER(bytes);
  return decoded.offset === -1 ? undefined : decoded.result;
}

/** The children of a SEQUENCE, or `undefined` when `block` is not one. */
export function sequenceItems(block: unknown): asn1js.AsnType[] | undefined {
  return block instanceof asn1js.Sequence ? (block.valueBlock.value as asn1js.AsnType[]) : undefined;
}

/** True for a context-specific constructed tag `[n]` (e.g. `[0] EXPLICIT Version`). */
export function isContextTag(block: unknown, tagNumber: number): block is asn1js.Constructed {
  return (
    block instanceof asn1js.BaseBlock &&
    block.idBlock.tagClass === 3 &&
    block.idBlock.tagNumber === tagNumber &&
    block.idBlock.isConstructed
  );
}

/** True for `AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }` (RFC 5280 §4.1.1.2). */
export function isAlgorithmIdentifier(block: unknown): boolean {
  const items = sequenceItems(block);
  return (
    items !== undefined && (items.length === 1 || items.length === 2) && items[0] instanceof asn1js.ObjectIdentifier
  );
}

/** True for `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }` (RFC 5280 §4.1.2.7). */
export function isSubjectPublicKeyInfo(block: unknown): block is asn1js.Sequence {
  const items = sequenceItems(block);
  return (
    items !== undefined && items.length === 2 && isAlgorithmIdentifier(items[0]) && items[1] instanceof asn1js.BitString
  );
}

/**
 * DER of a decoded SubjectPublicKeyInfo, rebuilt around its algorithm OID, parameters and key
 * bits as pkijs's `PublicKeyInfo.toSchema()` does, so BER variations of one key encode alike.
 */
export function encodeSubjectPublicKeyInfo(spki: asn1js.Sequence): Uint8Array {
  const [algorithm, key] = spki.valueBlock.value as [asn1js.Sequence, asn1js.BitString];
  const [oid, ...parameters] = algorithm.valueBlock.value as [asn1js.ObjectIdentifier, ...asn1js.AsnType[]];
  const rebuilt = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: oid.valueBlock.toString() }), ...parameters],
      }),
      key,
    ],
  });
  return new Uint8Array(rebuilt.toBER(false));
}

/**
 * The attributes of a `Name` (RFC 5280 §4.1.2.4: SEQUENCE OF SET OF AttributeTypeAndValue), in
 * encoding order with multi-valued RDNs flattened; `undefined` when `block` is not a Name.
 */
export function nameAttributes(block: unknown): { type: string; value: asn1js.AsnType }[] | undefined {
  const rdns = sequenceItems(block);
  if (rdns === undefined) return undefined;
  const attributes: { type: string; value: asn1js.AsnType }[] = [];
  for (const rdn of rdns) {
    if (!(rdn instanceof asn1js.Set)) return undefined;
    for (const atv of rdn.valueBlock.value) {
      const pair = sequenceItems(atv);
      if (pair === undefined || pair.length !== 2 || !(pair[0] instanceof asn1js.ObjectIdentifier)) return undefined;
      attributes.push({ type: pair[0].valueBlock.toString(), value: pair[1] as asn1js.AsnType });
    }
  }
  return attributes;
}

/** The date of an X.509 `Time` (UTCTime or GeneralizedTime, RFC 5280 §4.1.2.5), or `undefined`. */
export function timeValue(block: unknown): Date | undefined {
  return block instanceof asn1js.UTCTime || block instanceof asn1js.GeneralizedTime ? block.toDate() : undefined;
}

/** DER tag-length-value (X.690 §8.1 with §10.1 definite, minimal lengths) around `contents`. */
export function derTlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const c of contents) length += c.length;
  const lengthOctets: number[] = [];
  if (length < 0x80) lengthOctets.push(length);
  else {
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthOctets.unshift(rest & 0xff);
    lengthOctets.unshift(0x80 | lengthOctets.length);
  }
  const out = new Uint8Array(1 + lengthOctets.length + length);
  out[0] = tag;
  out.set(lengthOctets, 1);
  let offset = 1 + lengthOctets.length;
  for (const c of contents) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** One DER element found by {@link readTlv}: offsets into the buffer it was read from. */
export interface Tlv {
  /** The identifier octet (low tag numbers only). */
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/**
 * The DER element at `offset`, ending by `limit`: low tag numbers, definite minimal lengths
 * (X.690 §10.1); `undefined` for anything else, which callers hand to the general BER path.
 */
export function readTlv(bytes: Uint8Array, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = bytes[offset] as number;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = bytes[offset + 1] as number;
  let p = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || p + octets > limit || bytes[p] === 0) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (bytes[p++] as number);
    if (length < 0x80) return undefined;
  }
  const end = p + length;
  return end > limit ? undefined : { tag, start: offset, contentStart: p, end };
}

/** The elements inside a constructed `tlv`, which must fill it exactly; `undefined` otherwise. */
export function readChildren(bytes: Uint8Array, tlv: Tlv): Tlv[] | undefined {
  const items: Tlv[] = [];
  for (let p = tlv.contentStart; p < tlv.end; ) {
    const item = readTlv(bytes, p, tlv.end);
    if (item === undefined) return undefined;
    items.push(item);
    p = item.end;
  }
  return items;
}

/** Dotted form of an OBJECT IDENTIFIER's contents (X.690 §8.19); `undefined` when malformed or too large for exact numbers. */
export function oidString(bytes: Uint8Array, tlv: Tlv): string | undefined {
  const arcs: number[] = [];
  let value = 0;
  let octets = 0;
  for (let p = tlv.contentStart; p < tlv.end; p++) {
    const b = bytes[p] as number;
    if (octets === 0 && b === 0x80) return undefined;
    value = value * 128 + (b & 0x7f);
    if (++octets > 7) return undefined;
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 40 ? 0 : value < 80 ? 1 : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
      octets = 0;
    }
  }
  return octets === 0 && arcs.length > 0 ? arcs.join(".") : undefined;
}

/** Universal tags (X.690 §8) as identifier octets. */
export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OBJECT_IDENTIFIER: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** A primitive BIT STRING (X.690 §8.6.2): an unused-bit count of 0–7, 0 when there are no bits. */
export function isDerBitString(bytes: Uint8Array, tlv: Tlv | undefined): boolean {
  if (tlv?.tag !== DER_TAG.BIT_STRING || tlv.end === tlv.contentStart) return false;
  const unused = bytes[tlv.contentStart] as number;
  return unused <= 7 && (unused === 0 || tlv.end - tlv.contentStart > 1);
}

/** {@link isAlgorithmIdentifier} over a DER element. */
export function isDerAlgorithmIdentifier(bytes: Uint8Array, tlv: Tlv | undefined): boolean {
  if (tlv?.tag !== DER_TAG.SEQUENCE) return false;
  const items = readChildren(bytes, tlv);
  return (
    items !== undefined && (items.length === 1 || items.length === 2) && items[0]?.tag === DER_TAG.OBJECT_IDENTIFIER
  );
}

/** {@link isSubjectPublicKeyInfo} over a DER element. */
export function isDerSubjectPublicKeyInfo(bytes: Uint8Array, tlv: Tlv | undefined): boolean {
  if (tlv?.tag !== DER_TAG.SEQUENCE) return false;
  const items = readChildren(bytes, tlv);
  return (
    items !== undefined &&
    items.length === 2 &&
    isDerAlgorithmIdentifier(bytes, items[0]) &&
    isDerBitString(bytes, items[1])
  );
}

/**
 * `bytes` when they are exactly one SubjectPublicKeyInfo in plain DER whose algorithm has no
 * parameters, NULL or an OID parameter — then they already are what
 * {@link encodeSubjectPublicKeyInfo} would produce; `undefined` otherwise (use the general path).
 */
export function plainDerSubjectPublicKeyInfo(bytes: Uint8Array): Uint8Array | undefined {
  const tlv = readTlv(bytes, 0, bytes.length);
  if (tlv === undefined || tlv.end !== bytes.length || !isDerSubjectPublicKeyInfo(bytes, tlv)) return undefined;
  const algorithm = readChildren(bytes, readChildren(bytes, tlv)?.[0] as Tlv) as Tlv[];
  const [oid, parameters] = algorithm as [Tlv, Tlv | undefined];
  if (oidString(bytes, oid) === undefined) return undefined;
  if (parameters === undefined) return bytes;
  if (parameters.tag === 0x05 && parameters.end === parameters.contentStart) return bytes;
  return parameters.tag === DER_TAG.OBJECT_IDENTIFIER && oidString(bytes, parameters) !== undefined ? bytes : undefined;
}
