/**
 * Command APDU decoding, ISO/IEC 7816-4 §5.1: the four cases in short form (Lc and Le one
 * byte, Ne = 256 for Le = 00) and extended form (a 00 marker then two-byte Lc/Le, Ne = 65536
 * for Le = 0000).
 */
import { Sw } from "@cardwright/pcsc";
import { CardStatus } from "./status.js";

/** A decoded command APDU. */
export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
  /** Maximum response length the host accepts (Ne); 0 when the command has no Le field. */
  ne: number;
  /** Whether the command used extended length fields. */
  extended: boolean;
}

/**
 * Decode a command APDU.
 * @throws CardStatus 6700 when the length fields do not match the command's size.
 */
export function parseCommandApdu(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw new CardStatus(Sw.wrongLength, "command shorter than its header");
  const header = { cla: bytes[0] as number, ins: bytes[1] as number, p1: bytes[2] as number, p2: bytes[3] as number };
  const body = bytes.subarray(4);
  const empty = new Uint8Array(0);
  if (body.length === 0) return { ...header, data: empty, ne: 0, extended: false };
  const b0 = body[0] as number;
  if (body.length === 1) return { ...header, data: empty, ne: b0 === 0 ? 256 : b0, extended: false };
  if (b0 !== 0) {
    // Short case 3 (Lc data) or case 4 (Lc data Le).
    if (body.length === 1 + b0) return { ...header, data: body.subarray(1), ne: 0, extended: false };
    if (body.length === 2 + b0) {
      const le = body[1 + b0] as number;
      return { ...header, data: body.subarray(1, 1 + b0), ne: le === 0 ? 256 : le, extended: false };
    }
    throw new CardStatus(Sw.wrongLength, "short Lc does not match the command length");
  }
  // Extended form: 00 then two bytes.
  if (body.length < 3) throw new CardStatus(Sw.wrongLength, "truncated extended length");
  const n = ((body[1] as number) << 8) | (body[2] as number);
  if (body.length === 3) return { ...header, data: empty, ne: n === 0 ? 65536 : n, extended: true };
  if (n === 0) throw new CardStatus(Sw.wrongLength, "extended Lc of zero");
  if (body.length === 3 + n) return { ...header, data: body.subarray(3, 3 + n), ne: 0, extended: true };
  if (body.length === 5 + n) {
    const le = ((body[3 + n] as number) << 8) | (body[4 + n] as number);
    return { ...header, data: body.subarray(3, 3 + n), ne: le === 0 ? 65536 : le, extended: true };
  }
  throw new CardStatus(Sw.wrongLength, "extended Lc does not match the command length");
}
