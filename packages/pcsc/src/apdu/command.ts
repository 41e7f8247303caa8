/**
 * Command and response APDUs, ISO/IEC 7816-4 §5.1. A command is a value (header, data, Ne);
 * encoding picks the short or extended form. Ne ("expected length") is the number of bytes the
 * caller accepts: absent (no Le field), 1–256 in short form (256 encoded as `00`), 1–65536 in
 * extended form (65536 encoded as `0000`).
 */
import { InvalidCommandError } from "../errors.js";

/** Largest data field of a short command (Lc is one byte). */
export const SHORT_MAX_LC = 255;
/** Largest Ne of a short command (Le `00` means 256). */
export const SHORT_MAX_NE = 256;
/** Largest data field of an extended command. */
export const EXTENDED_MAX_LC = 65535;
/** Largest Ne of an extended command (Le `0000` means 65536). */
export const EXTENDED_MAX_NE = 65536;

/** A command APDU before encoding. */
export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data; absent or empty means no Lc field. */
  data?: Uint8Array;
  /** Expected response length Ne; absent means no Le field. */
  ne?: number;
}

/** A decoded response APDU. */
export interface ResponseApdu {
  data: Uint8Array;
  /** SW1 SW2 as one number, e.g. `0x9000`. */
  sw: number;
}

/** Which length form to encode. */
export type LengthForm = "short" | "extended";

function checkByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new InvalidCommandError(`APDU ${name} must be a byte, got ${value}`);
  }
}

/** The form a command needs: short when both Lc and Ne fit, extended otherwise. */
export function requiredForm(apdu: CommandApdu): LengthForm {
  const nc = apdu.data?.length ?? 0;
  return nc > SHORT_MAX_LC || (apdu.ne ?? 0) > SHORT_MAX_NE ? "extended" : "short";
}

/**
 * Encode a command APDU (ISO/IEC 7816-4 §5.1, cases 1, 2S/2E, 3S/3E, 4S/4E).
 * In the extended form Lc is `00 hi lo`; Le is `hi lo` after Lc, or `00 hi lo` when there is no data.
 * @param form `"short"` refuses what does not fit; `"extended"` always uses the extended form for
 * Lc/Le present (a case 1 command has no length field in either form).
 * @throws InvalidCommandError (`APDU_INVALID_COMMAND`) for out-of-range fields or data too long for the form.
 */
export function encodeCommand(apdu: CommandApdu, form: LengthForm = requiredForm(apdu)): Uint8Array {
  checkByte("CLA", apdu.cla);
  checkByte("INS", apdu.ins);
  checkByte("P1", apdu.p1);
  checkByte("P2", apdu.p2);
  const data = apdu.data;
  const nc = data?.length ?? 0;
  const ne = apdu.ne;
  if (ne !== undefined && (!Number.isInteger(ne) || ne < 1)) {
    throw new InvalidCommandError(`APDU Ne must be a positive integer, got ${ne}`);
  }
  let out: Uint8Array;
  let offset = 4;
  if (form === "short") {
    if (nc > SHORT_MAX_LC) throw new InvalidCommandError(`${nc} data bytes do not fit a short APDU (max 255)`);
    if (ne !== undefined && ne > SHORT_MAX_NE) throw new InvalidCommandError(`Ne ${ne} does not fit a short APDU`);
    out = new Uint8Array(4 + (nc > 0 ? 1 + nc : 0) + (ne === undefined ? 0 : 1));
    if (nc > 0) {
      out[offset++] = nc;
      out.set(data as Uint8Array, offset);
      offset += nc;
    }
    if (ne !== undefined) out[offset] = ne === SHORT_MAX_NE ? 0 : ne;
  } else {
    if (nc > EXTENDED_MAX_LC) throw new InvalidCommandError(`${nc} data bytes do not fit an extended APDU`);
    if (ne !== undefined && ne > EXTENDED_MAX_NE) {
      throw new InvalidCommandError(`Ne ${ne} does not fit an extended APDU`);
    }
    out = new Uint8Array(4 + (nc > 0 ? 3 + nc : 0) + (ne === undefined ? 0 : nc > 0 ? 2 : 3));
    if (nc > 0) {
      out[offset] = 0;
      out[offset + 1] = nc >> 8;
      out[offset + 2] = nc & 0xff;
      out.set(data as Uint8Array, offset + 3);
      offset += 3 + nc;
    }
    if (ne !== undefined) {
      const le = ne === EXTENDED_MAX_NE ? 0 : ne;
      // Without a data field the extended Le carries its own leading 00 marker.
      if (nc === 0) out[offset++] = 0;
      out[offset++] = le >> 8;
      out[offset] = le & 0xff;
    }
  }
  out[0] = apdu.cla;
  out[1] = apdu.ins;
  out[2] = apdu.p1;
  out[3] = apdu.p2;
  return out;
}

/**
 * Split a raw response into data and status word (ISO/IEC 7816-4 §5.1: trailer SW1 SW2).
 * Returns `undefined` for a response shorter than two bytes; the caller, who knows the
 * instruction, turns that into a `BadResponseError`.
 */
export function decodeResponse(raw: Uint8Array): ResponseApdu | undefined {
  if (raw.length < 2) return undefined;
  const n = raw.length;
  return { data: new Uint8Array(raw.subarray(0, n - 2)), sw: ((raw[n - 2] as number) << 8) | (raw[n - 1] as number) };
}
