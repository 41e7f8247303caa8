/**
 * The keyUsage extension value (RFC 5280 §4.2.1.3): a named BIT STRING. DER (X.690 §11.2.2)
 * drops trailing zero bits, so the length and unused-bit count follow the highest bit set.
 */

import * as asn1js from "asn1js";
import type { KeyUsage } from "../ports/certificate-authority.js";

/** Bit positions from RFC 5280 §4.2.1.3 `KeyUsage ::= BIT STRING { digitalSignature (0), … }`. */
export const KEY_USAGE_BITS: Readonly<Record<KeyUsage, number>> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
};

/**
 * The DER BIT STRING for a set of key usages.
 * @throws RangeError when `usages` is empty — RFC 5280 §4.2.1.3 requires at least one bit.
 */
export function keyUsageBitString(usages: readonly KeyUsage[]): asn1js.BitString {
  if (usages.length === 0) throw new RangeError("keyUsage needs at least one bit set (RFC 5280 §4.2.1.3)");
  const bits = usages.map((usage) => KEY_USAGE_BITS[usage]);
  const highest = Math.max(...bits);
  const octets = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) octets[bit >> 3] = (octets[bit >> 3] as number) | (0x80 >> (bit & 7));
  return new asn1js.BitString({ valueHex: octets.buffer, unusedBits: octets.length * 8 - (highest + 1) });
}

/** The key usages set in a decoded keyUsage BIT STRING. */
export function keyUsagesOf(bitString: asn1js.BitString): KeyUsage[] {
  const octets = new Uint8Array(bitString.valueBlock.valueHexView);
  return (Object.entries(KEY_USAGE_BITS) as [KeyUsage, number][])
    .filter(([, bit]) => (((octets[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) === 1)
    .map(([usage]) => usage);
}
