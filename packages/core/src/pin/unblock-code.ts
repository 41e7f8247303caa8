/**
 * Codes people read aloud and type: bytes as Crockford base32 (no I, L, O or U, so no 1/I/L or
 * 0/O mix-ups; decoding reads I and L as 1, O as 0, any case), one check character, in groups of
 * four separated by hyphens. The check character makes Σ αᵏ·vₖ = 0 over GF(2⁵) (α primitive, k the
 * distance from the end): every weight is non-zero and no two are equal for up to 30 data
 * characters, so every single-character typo and every swap of two adjacent characters changes the
 * sum. (Luhn mod 32 would be simpler but misses swaps of 0 and Z, as Luhn mod 10 misses 09 ↔ 90.)
 * The payload is fixed-length per code kind, so a challenge typed where a response belongs is
 * refused by its length.
 */
import { CardwrightError } from "../errors.js";

/** Crockford's base32 alphabet (https://www.crockford.com/base32.html). */
export const CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const DECODE: ReadonlyMap<string, number> = new Map([
  ...[...CROCKFORD_ALPHABET].map((ch, i) => [ch, i] as const),
  ["I", 1],
  ["L", 1],
  ["O", 0],
]);

/** Characters per group in a formatted code. */
export const CODE_GROUP_LENGTH = 4;

/** Why a code was refused: typed wrongly (`format`, `length`, `check`) or not made for this exchange (`authentication`, `card`). */
export type CodeProblem = "format" | "length" | "check" | "authentication" | "card";

/**
 * A challenge or response code that cannot be used. `details.problem` says why; the code itself is
 * never in the error (a response code, with its challenge, would disclose the PUK).
 */
export function codeError(kind: "challenge" | "response", problem: CodeProblem, message: string): CardwrightError {
  return new CardwrightError("OFFLINE_CODE_INVALID", `${kind} code ${message}`, {
    details: { codeKind: kind, problem },
  });
}

/** Multiply in GF(2⁵) modulo the primitive polynomial x⁵ + x² + 1. */
function gfMultiply(a: number, b: number): number {
  let product = 0;
  let x = a;
  for (let y = b; y !== 0; y >>= 1) {
    if ((y & 1) !== 0) product ^= x;
    x <<= 1;
    if ((x & 0x20) !== 0) x ^= 0x25;
  }
  return product;
}

/** Most data characters a check character protects (α has order 31; the check itself has weight 1). */
export const MAX_CHECKED_CHARACTERS = 30;

/**
 * The check value for base32 `values`: Σ αᵏ·vₖ over GF(2⁵), α = x, k = 1 for the last value. Appended
 * with weight α⁰ = 1, it makes the whole sum zero.
 * @throws RangeError for more than {@link MAX_CHECKED_CHARACTERS} values.
 */
export function codeCheckValue(values: readonly number[]): number {
  if (values.length > MAX_CHECKED_CHARACTERS) {
    throw new RangeError(`a check character protects at most ${MAX_CHECKED_CHARACTERS} characters`);
  }
  let sum = 0;
  let weight = 1;
  for (let i = values.length - 1; i >= 0; i--) {
    weight = gfMultiply(weight, 2);
    sum ^= gfMultiply(weight, values[i]!);
  }
  return sum;
}

function toBase32Values(bytes: Uint8Array): number[] {
  const values: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      values.push((buffer >>> (bits - 5)) & 31);
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) values.push((buffer << (5 - bits)) & 31);
  return values;
}

/** Characters a payload of `byteLength` bytes takes, without the check character. */
export function base32Length(byteLength: number): number {
  return Math.ceil((byteLength * 8) / 5);
}

/** Format `payload` as a grouped code with its check character. */
export function encodeCode(payload: Uint8Array): string {
  const values = toBase32Values(payload);
  values.push(codeCheckValue(values));
  const text = values.map((v) => CROCKFORD_ALPHABET[v]!).join("");
  const groups: string[] = [];
  for (let i = 0; i < text.length; i += CODE_GROUP_LENGTH) groups.push(text.slice(i, i + CODE_GROUP_LENGTH));
  return groups.join("-");
}

/**
 * Read a code typed by a person back into its `byteLength`-byte payload. Hyphens and spaces are
 * ignored, case does not matter, I/L read as 1 and O as 0.
 * @throws CardwrightError `OFFLINE_CODE_INVALID` (`details.problem` `format`: a character outside
 * the alphabet; `length`: too short or long; `check`: the check character does not match — a typo).
 */
export function decodeCode(code: string, byteLength: number, kind: "challenge" | "response"): Uint8Array {
  const cleaned = code.toUpperCase().replace(/[\s-]/g, "");
  const values: number[] = [];
  for (const ch of cleaned) {
    const v = DECODE.get(ch);
    if (v === undefined) throw codeError(kind, "format", "contains a character that is not in the code alphabet");
    values.push(v);
  }
  const expected = base32Length(byteLength) + 1;
  if (values.length !== expected) {
    throw codeError(kind, "length", `has ${values.length} characters; a ${kind} code has ${expected}`);
  }
  const check = values.pop()!;
  if (codeCheckValue(values) !== check) {
    throw codeError(kind, "check", "does not add up (a character was mistyped or two were swapped); read it again");
  }
  const out = new Uint8Array(byteLength);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const v of values) {
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      if (index < byteLength) out[index++] = (buffer >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  // The bits after the payload are zero in every code we make; anything else is not one of ours.
  if (buffer !== 0) throw codeError(kind, "format", "is not a code cardwright made");
  return out;
}
