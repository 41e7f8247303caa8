/**
 * Certificate serial numbers (RFC 5280 §4.1.2.2): positive, unique per CA, at most 20 octets.
 * We use 16 random octets — 127 bits of entropy, well above the 64 CA/Browser Forum BR §7.1
 * asks for — with the high bit cleared so the DER INTEGER is positive without a leading 0x00,
 * and a non-zero first octet so the minimal encoding is exactly 16 octets.
 */
import { CardwrightError } from "@cardwright/core";

/** Octets in every serial this CA issues. */
export const SERIAL_OCTETS = 16;

/** Source of random octets (the core `Random` port fits). */
export interface RandomBytes {
  bytes(length: number): Uint8Array;
}

/** A new random serial number, {@link SERIAL_OCTETS} octets, positive, minimally encodable. */
export function randomSerialNumber(random: RandomBytes): Uint8Array {
  for (;;) {
    const serial = random.bytes(SERIAL_OCTETS).slice(0, SERIAL_OCTETS);
    if (serial.length !== SERIAL_OCTETS) throw new RangeError(`random source returned ${serial.length} octets`);
    serial[0] = (serial[0] as number) & 0x7f;
    // A zero first octet would make DER drop it (X.690 §8.3.2): draw again instead.
    if (serial[0] !== 0) return serial;
  }
}

/** Lowercase hex of a serial's octets, no separators. */
export function serialToHex(serial: Uint8Array): string {
  return Buffer.from(serial.buffer, serial.byteOffset, serial.byteLength).toString("hex");
}

/**
 * Normalise a serial given by a caller: case-insensitive hex, `:` separators and a DER sign
 * octet (`00` before a high bit) tolerated, so `openssl x509 -serial` output works too.
 * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` when the text is not a hex serial.
 */
export function normalizeSerialHex(serialHex: string): string {
  let hex = serialHex.trim().replaceAll(":", "").toLowerCase();
  if (hex.startsWith("0x")) hex = hex.slice(2);
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > 42) {
    throw new CardwrightError("CA_UNKNOWN_CERTIFICATE", `"${serialHex}" is not a certificate serial number in hex`, {
      details: { serialHex },
    });
  }
  if (hex.length % 2 === 1) hex = `0${hex}`;
  while (hex.startsWith("00") && hex.length > 2) hex = hex.slice(2);
  return hex;
}
