/**
 * FASC-N, the Federal Agency Smart Credential Number carried in the CHUID (SP 800-73-4 Part 1
 * §3.1.2; encoding from "Technical Implementation Guidance: Smart Card Enabled Physical Access
 * Control Systems" (TIG SCEPACS) §6): 40 characters of 5 bits — four data bits, least
 * significant first, then an odd parity bit — packed into 25 bytes, ending with a
 * longitudinal redundancy check character.
 */
import { BadResponseError, InvalidCommandError } from "../errors.js";

/** FASC-N fields, decimal digit strings of fixed width. */
export interface Fascn {
  /** Agency code, 4 digits. */
  agencyCode: string;
  /** System code, 4 digits. */
  systemCode: string;
  /** Credential number, 6 digits. */
  credentialNumber: string;
  /** Credential series, 1 digit. */
  credentialSeries: string;
  /** Individual credential issue, 1 digit. */
  individualCredentialIssue: string;
  /** Person identifier, 10 digits. */
  personIdentifier: string;
  /** Organizational category, 1 digit. */
  organizationalCategory: string;
  /** Organizational identifier, 4 digits. */
  organizationalIdentifier: string;
  /** Person/organization association category, 1 digit. */
  association: string;
}

/**
 * The FASC-N non-federal issuers use (agency code 9999 = "non-federal", as the Yubico tools write
 * it): it identifies no agency and lets relying parties use the GUID instead.
 */
export const NON_FEDERAL_FASCN: Readonly<Fascn> = Object.freeze({
  agencyCode: "9999",
  systemCode: "9999",
  credentialNumber: "999999",
  credentialSeries: "0",
  individualCredentialIssue: "1",
  personIdentifier: "0000000000",
  organizationalCategory: "3",
  organizationalIdentifier: "0000",
  association: "1",
});

const SS = 0x0b; // start sentinel
const FS = 0x0d; // field separator
const ES = 0x0f; // end sentinel

const FIELDS: ReadonlyArray<readonly [keyof Fascn, number]> = [
  ["agencyCode", 4],
  ["systemCode", 4],
  ["credentialNumber", 6],
  ["credentialSeries", 1],
  ["individualCredentialIssue", 1],
  ["personIdentifier", 10],
  ["organizationalCategory", 1],
  ["organizationalIdentifier", 4],
  ["association", 1],
];

/** The five bits of each character 0–15 as written: data bits least significant first, then odd parity. */
const CHARACTER_BITS: readonly number[] = Array.from({ length: 16 }, (_, c) => {
  let ones = 0;
  let bits = 0;
  for (let b = 0; b < 4; b++) {
    const bit = (c >> b) & 1;
    ones += bit;
    bits = (bits << 1) | bit;
  }
  return (bits << 1) | (ones % 2 === 0 ? 1 : 0);
});

/** Appends the digits of one field to `chars`. @throws InvalidCommandError unless it is `width` decimal digits. */
function pushDigits(chars: number[], fascn: Fascn, key: keyof Fascn, width: number): void {
  const value = fascn[key];
  let valid = typeof value === "string" && value.length === width;
  for (let i = 0; valid && i < width; i++) {
    const code = value.charCodeAt(i);
    valid = code >= 0x30 && code <= 0x39;
  }
  if (!valid) throw new InvalidCommandError(`FASC-N ${key} must be ${width} decimal digits`);
  for (let i = 0; i < width; i++) chars.push(value.charCodeAt(i) - 0x30);
}

function characters(fascn: Fascn): number[] {
  const chars: number[] = [SS];
  // Separators follow the first five fields; PI, OC, OI and POA run together (TIG SCEPACS Figure 6-1).
  for (let i = 0; i < FIELDS.length; i++) {
    const [key, width] = FIELDS[i] as readonly [keyof Fascn, number];
    pushDigits(chars, fascn, key, width);
    if (i < 5) chars.push(FS);
  }
  chars.push(ES);
  let lrc = 0;
  for (const c of chars) lrc ^= c;
  chars.push(lrc);
  return chars;
}

/** Encode a FASC-N to its 25 bytes. @throws InvalidCommandError when a field is not its width of digits. */
export function encodeFascn(fascn: Fascn): Uint8Array {
  const out = new Uint8Array(25);
  let bit = 0;
  for (const c of characters(fascn)) {
    // Five bits per character, written most significant bit of the byte first.
    const bits = CHARACTER_BITS[c] as number;
    for (let b = 4; b >= 0; b--) {
      if ((bits >> b) & 1) out[bit >> 3] = (out[bit >> 3] as number) | (0x80 >> (bit & 7));
      bit++;
    }
  }
  return out;
}

/** Decode 25 FASC-N bytes. @throws BadResponseError on a parity, sentinel or LRC error. */
export function decodeFascn(bytes: Uint8Array): Fascn {
  if (bytes.length !== 25) throw new BadResponseError(`FASC-N of ${bytes.length} bytes, expected 25`);
  const chars: number[] = [];
  for (let i = 0; i < 40; i++) {
    let c = 0;
    let ones = 0;
    for (let b = 0; b < 5; b++) {
      const bit = i * 5 + b;
      const v = ((bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1;
      ones += v;
      if (b < 4) c |= v << b;
    }
    if (ones % 2 !== 1) throw new BadResponseError(`FASC-N character ${i} fails its parity check`);
    chars.push(c);
  }
  const lrc = chars.slice(0, 39).reduce((x, c) => x ^ c, 0);
  if (chars[0] !== SS || chars[38] !== ES || chars[39] !== lrc) {
    throw new BadResponseError("FASC-N sentinels or LRC do not match");
  }
  const out: Partial<Record<keyof Fascn, string>> = {};
  let at = 1;
  FIELDS.forEach(([key, width], i) => {
    const digits = chars.slice(at, at + width);
    if (digits.some((d) => d > 9)) throw new BadResponseError(`FASC-N ${key} holds a non-digit`);
    out[key] = digits.join("");
    at += width;
    if (i < 5) {
      if (chars[at] !== FS) throw new BadResponseError(`FASC-N field separator missing after ${key}`);
      at++;
    }
  });
  return out as Fascn;
}
