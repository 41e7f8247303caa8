/**
 * Host-side helpers for card-level tests: virtual cards attested by one authority per test file,
 * raw APDUs written as hex, and the host half of the SP 800-73-4 Appendix A.2 management-key
 * authentication implemented with node:crypto directly (independently of the card's cipher module).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { expect } from "vitest";
import { AttestationAuthority } from "../src/attestation/attestation-authority.js";
import { VirtualPivCard, type VirtualPivCardOptions } from "../src/card/virtual-piv-card.js";

/** Bytes from hex with optional spaces. */
export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
}

/** Uppercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase();
}

/** Send hex, get uppercase hex back. */
export async function send(card: VirtualPivCard, command: string | Uint8Array): Promise<string> {
  return toHex(await card.process(typeof command === "string" ? hex(command) : command));
}

/** Status word (last four hex digits) of a response. */
export function swOf(responseHex: string): string {
  return responseHex.slice(-4);
}

/** Data (without SW) of a response. */
export function dataOf(responseHex: string): Uint8Array {
  return hex(responseHex.slice(0, -4));
}

/** Short APDU from parts. */
export function apdu(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Uint8Array {
  const parts = [cla, ins, p1, p2];
  if (data !== undefined && data.length > 0) parts.push(data.length, ...data);
  if (le !== undefined) parts.push(le);
  return Uint8Array.from(parts);
}

/** Extended APDU from parts. */
export function extendedApdu(ins: number, p1: number, p2: number, data: Uint8Array, le?: number): Uint8Array {
  const parts = [0x00, ins, p1, p2, 0x00, data.length >> 8, data.length & 0xff, ...data];
  if (le !== undefined) parts.push(le >> 8, le & 0xff);
  return Uint8Array.from(parts);
}

export const SELECT_PIV = "00A4040005A000000308";

let authority: Promise<AttestationAuthority> | undefined;

/**
 * The attestation authority of this test file's cards, created on first use: its key pair is the
 * slow part of making a card, and vitest gives every test file its own module instance.
 */
export function testAuthority(): Promise<AttestationAuthority> {
  authority ??= AttestationAuthority.create();
  return authority;
}

/** A virtual card attested by {@link testAuthority}; the PIV application is not selected yet. */
export async function newCard(options: VirtualPivCardOptions = {}): Promise<VirtualPivCard> {
  return VirtualPivCard.create({ attestationAuthority: await testAuthority(), ...options });
}

/** A {@link newCard} with the PIV application selected (SELECT answered 9000). */
export async function freshCard(options: VirtualPivCardOptions = {}): Promise<VirtualPivCard> {
  const card = await newCard(options);
  expect(swOf(await send(card, SELECT_PIV))).toBe("9000");
  return card;
}
export const DEFAULT_KEY = hex("010203040506070801020304050607080102030405060708");

const CIPHERS: Record<number, { name: string; block: number }> = {
  3: { name: "des-ede3-ecb", block: 8 },
  8: { name: "aes-128-ecb", block: 16 },
  10: { name: "aes-192-ecb", block: 16 },
  12: { name: "aes-256-ecb", block: 16 },
};

function crypt(encrypt: boolean, alg: number, key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = CIPHERS[alg];
  if (c === undefined) throw new Error(`no cipher ${alg}`);
  const op = encrypt ? createCipheriv(c.name, key, null) : createDecipheriv(c.name, key, null);
  op.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([op.update(data), op.final()]));
}

/** Mutual authentication (Appendix A.2); returns the SW of the second step. */
export async function authenticate(card: VirtualPivCard, alg: number, key: Uint8Array = DEFAULT_KEY): Promise<string> {
  const step1 = await send(card, apdu(0x00, 0x87, alg, 0x9b, hex("7C028000"), 0x00));
  if (swOf(step1) !== "9000") return swOf(step1);
  const block = CIPHERS[alg]?.block ?? 8;
  const body = dataOf(step1);
  // 7C len 80 len witness
  const witness = body.subarray(4, 4 + block);
  expect(toHex(body.subarray(0, 4))).toBe(toHex(Uint8Array.of(0x7c, block + 2, 0x80, block)));
  const plain = crypt(false, alg, key, witness);
  const challenge = new Uint8Array(randomBytes(block));
  const inner = Uint8Array.from([0x80, block, ...plain, 0x81, block, ...challenge]);
  const step2 = await send(card, apdu(0x00, 0x87, alg, 0x9b, Uint8Array.from([0x7c, inner.length, ...inner]), 0x00));
  if (swOf(step2) !== "9000") return swOf(step2);
  const rsp = dataOf(step2);
  expect(toHex(rsp.subarray(4))).toBe(toHex(crypt(true, alg, key, challenge)));
  return "9000";
}

/** VERIFY PIN with FF padding; returns the SW. */
export async function verifyPin(card: VirtualPivCard, pin: string): Promise<string> {
  const padded = new Uint8Array(8).fill(0xff);
  padded.set(Buffer.from(pin));
  return swOf(await send(card, apdu(0x00, 0x20, 0x00, 0x80, padded)));
}

/** FF-padded 8-byte reference data. */
export function pad(text: string): Uint8Array {
  const padded = new Uint8Array(8).fill(0xff);
  padded.set(Buffer.from(text));
  return padded;
}

/** Encrypt one block host-side (for external authentication tests). */
export function encryptBlock(alg: number, key: Uint8Array, data: Uint8Array): Uint8Array {
  return crypt(true, alg, key, data);
}
