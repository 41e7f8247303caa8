/**
 * BER-TLV as smart cards use it (ISO/IEC 7816-4 §5.2, SP 800-73-4 §3): tags of one to three
 * bytes, definite lengths in short form or long form with one to three length bytes.
 * A tiny value module on `Uint8Array`; nested TLV is built from these, never by hand.
 */
import { CardwrightError } from "@cardwright/core";

/** One decoded TLV. `value` is a view into the parsed buffer. */
export interface Tlv {
  tag: number;
  value: Uint8Array;
}

function malformed(message: string): CardwrightError {
  return new CardwrightError("APDU_MALFORMED_RESPONSE", `malformed BER-TLV: ${message}`);
}

/** Encode a tag number as its 1–3 bytes. */
export function encodeTag(tag: number): Uint8Array {
  if (tag < 0 || tag > 0xffffff || !Number.isInteger(tag)) throw new RangeError(`tag out of range: ${tag}`);
  if (tag <= 0xff) return Uint8Array.of(tag);
  if (tag <= 0xffff) return Uint8Array.of(tag >> 8, tag & 0xff);
  return Uint8Array.of(tag >> 16, (tag >> 8) & 0xff, tag & 0xff);
}

/** Encode a definite length (short form below 128, long form with 1–3 bytes above). */
export function encodeLength(length: number): Uint8Array {
  if (length < 0 || !Number.isInteger(length)) throw new RangeError(`length out of range: ${length}`);
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  if (length <= 0xffffff) return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
  throw new RangeError(`length too large for BER-TLV: ${length}`);
}

/** Concatenate byte arrays. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Encode one TLV. Built in one buffer — tag, length, then the value parts — since every command
 * data field and data object is made of these.
 */
export function tlv(tag: number, ...value: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of value) length += p.length;
  const tagBytes = tagSize(tag);
  const lengthBytes = lengthSize(length);
  const out = new Uint8Array(tagBytes + lengthBytes + length);
  let offset = 0;
  for (let i = tagBytes - 1; i >= 0; i--) out[offset++] = (tag >> (8 * i)) & 0xff;
  if (lengthBytes === 1) {
    out[offset++] = length;
  } else {
    out[offset++] = 0x80 | (lengthBytes - 1);
    for (let i = lengthBytes - 2; i >= 0; i--) out[offset++] = (length >> (8 * i)) & 0xff;
  }
  for (const p of value) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Byte count of {@link encodeTag}, with its range check. */
function tagSize(tag: number): number {
  if (tag < 0 || tag > 0xffffff || !Number.isInteger(tag)) throw new RangeError(`tag out of range: ${tag}`);
  return tag <= 0xff ? 1 : tag <= 0xffff ? 2 : 3;
}

/** Byte count of {@link encodeLength}, with its range check. */
function lengthSize(length: number): number {
  if (length < 0 || !Number.isInteger(length)) throw new RangeError(`length out of range: ${length}`);
  if (length < 0x80) return 1;
  if (length <= 0xff) return 2;
  if (length <= 0xffff) return 3;
  if (length <= 0xffffff) return 4;
  throw new RangeError(`length too large for BER-TLV: ${length}`);
}

/** Decode one TLV at `offset`; returns it and the offset after it. */
export function decodeOne(buf: Uint8Array, offset = 0): { tlv: Tlv; next: number } {
  if (offset >= buf.length) throw malformed("no tag");
  let tag = buf[offset++] as number;
  // ISO 7816-4: low five bits all set means the tag continues; b8 of each next byte says "more".
  if ((tag & 0x1f) === 0x1f) {
    let more = true;
    let count = 0;
    while (more) {
      if (offset >= buf.length) throw malformed("truncated tag");
      const b = buf[offset++] as number;
      tag = (tag << 8) | b;
      more = (b & 0x80) !== 0;
      if (++count > 2) throw malformed("tag longer than three bytes");
    }
  }
  if (offset >= buf.length) throw malformed(`no length for tag ${tag.toString(16)}`);
  let length = buf[offset++] as number;
  if (length === 0x80) throw malformed("indefinite length is not allowed");
  if (length > 0x80) {
    const n = length & 0x7f;
    if (n > 3) throw malformed(`length field of ${n} bytes`);
    if (offset + n > buf.length) throw malformed("truncated length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[offset++] as number);
  }
  if (offset + length > buf.length) {
    throw malformed(`tag ${tag.toString(16)} claims ${length} bytes, ${buf.length - offset} present`);
  }
  return { tlv: { tag, value: buf.subarray(offset, offset + length) }, next: offset + length };
}

/** Decode a sequence of TLVs filling the whole buffer. */
export function decodeAll(buf: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const { tlv: t, next } = decodeOne(buf, offset);
    out.push(t);
    offset = next;
  }
  return out;
}

/** Decode a sequence of TLVs into a map by tag (the first occurrence wins). */
export function decodeMap(buf: Uint8Array): Map<number, Uint8Array> {
  const map = new Map<number, Uint8Array>();
  for (const t of decodeAll(buf)) if (!map.has(t.tag)) map.set(t.tag, t.value);
  return map;
}

/** The value of `tag` among the TLVs of `buf`, or `undefined`. The whole buffer must decode. */
export function find(buf: Uint8Array, tag: number): Uint8Array | undefined {
  let found: Uint8Array | undefined;
  let offset = 0;
  // Decoding goes on past the match: a malformed TLV anywhere in `buf` is refused, as by decodeMap.
  while (offset < buf.length) {
    const { tlv: t, next } = decodeOne(buf, offset);
    if (found === undefined && t.tag === tag) found = t.value;
    offset = next;
  }
  return found;
}

/** The value of `tag`, or a `APDU_MALFORMED_RESPONSE` error naming what was being read. */
export function findRequired(buf: Uint8Array, tag: number, what: string): Uint8Array {
  const v = find(buf, tag);
  if (v === undefined) throw malformed(`${what}: tag ${tag.toString(16)} missing`);
  return v;
}
