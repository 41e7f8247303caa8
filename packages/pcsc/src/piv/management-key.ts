/**
 * Management-key cryptography for GENERAL AUTHENTICATE mutual authentication
 * (SP 800-73-4 Part 2 §3.2.4 and Appendix A.1, "card and host mutually authenticate"): the
 * host decrypts the card's witness and encrypts nothing itself — the card encrypts the host's
 * challenge and the host checks it. Single-block ECB with node:crypto: 3DES (8-byte blocks,
 * SP 800-78-4 Table 6-1) and AES-128/192/256 (16-byte blocks; Yubico extension from firmware 5.4).
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { ManagementKeyAlgorithm } from "@cardwright/core";
import { InvalidCommandError } from "../errors.js";

interface Cipher {
  name: string;
  keyLength: number;
  blockSize: number;
}

const CIPHERS: Readonly<Record<ManagementKeyAlgorithm, Cipher>> = {
  TDES: { name: "des-ede3-ecb", keyLength: 24, blockSize: 8 },
  AES128: { name: "aes-128-ecb", keyLength: 16, blockSize: 16 },
  AES192: { name: "aes-192-ecb", keyLength: 24, blockSize: 16 },
  AES256: { name: "aes-256-ecb", keyLength: 32, blockSize: 16 },
};

function cipherOf(algorithm: ManagementKeyAlgorithm): Cipher {
  const cipher = CIPHERS[algorithm];
  if (cipher === undefined) throw new InvalidCommandError(`unknown management key algorithm ${String(algorithm)}`);
  return cipher;
}

/** Block size of the algorithm (the witness and challenge length). */
export function managementKeyBlockSize(algorithm: ManagementKeyAlgorithm): number {
  return cipherOf(algorithm).blockSize;
}

/** Key length of the algorithm in bytes. */
export function managementKeyLength(algorithm: ManagementKeyAlgorithm): number {
  return cipherOf(algorithm).keyLength;
}

/**
 * Refuse a key of the wrong length before it reaches the card; the message names lengths, never the key.
 * @throws InvalidCommandError (`APDU_INVALID_COMMAND`).
 */
export function checkManagementKey(algorithm: ManagementKeyAlgorithm, key: Uint8Array): void {
  const { keyLength } = cipherOf(algorithm);
  if (key.length !== keyLength) {
    throw new InvalidCommandError(`a ${algorithm} management key is ${keyLength} bytes, got ${key.length}`);
  }
}

function run(encrypt: boolean, algorithm: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array): Uint8Array {
  const { name, blockSize } = cipherOf(algorithm);
  checkManagementKey(algorithm, key);
  if (block.length !== blockSize) {
    throw new InvalidCommandError(`${algorithm} works on ${blockSize}-byte blocks, got ${block.length}`);
  }
  const c = encrypt ? createCipheriv(name, key, null) : createDecipheriv(name, key, null);
  c.setAutoPadding(false);
  return Uint8Array.from(Buffer.concat([c.update(block), c.final()]));
}

/** Encrypt one block with the management key. */
export function encryptBlock(algorithm: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array): Uint8Array {
  return run(true, algorithm, key, block);
}

/** Decrypt one block with the management key. */
export function decryptBlock(algorithm: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array): Uint8Array {
  return run(false, algorithm, key, block);
}
