/**
 * Block encryption for the PIV Card Application Administration Key (key reference 9B),
 * SP 800-73-4 Part 2 §3.2.4 and Appendix A.1/A.2: the witness and challenge are single blocks
 * enciphered in ECB mode with 3-key TDES (SP 800-67) or AES-128/192/256 (FIPS 197).
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

/** A management-key algorithm the card knows: its cipher, key and block lengths. */
export interface ManagementKeyCipher {
  /** PIV algorithm identifier (SP 800-78-4 Table 6-2; 0x03 TDES, 0x08/0x0A/0x0C AES). */
  algorithm: number;
  cipher: "des-ede3-ecb" | "aes-128-ecb" | "aes-192-ecb" | "aes-256-ecb";
  keyLength: number;
  blockLength: number;
}

const CIPHERS: readonly ManagementKeyCipher[] = [
  { algorithm: 0x03, cipher: "des-ede3-ecb", keyLength: 24, blockLength: 8 },
  { algorithm: 0x08, cipher: "aes-128-ecb", keyLength: 16, blockLength: 16 },
  { algorithm: 0x0a, cipher: "aes-192-ecb", keyLength: 24, blockLength: 16 },
  { algorithm: 0x0c, cipher: "aes-256-ecb", keyLength: 32, blockLength: 16 },
];

/** The cipher for a management-key algorithm byte, or `undefined` when it is not one. */
export function managementKeyCipher(algorithm: number): ManagementKeyCipher | undefined {
  return CIPHERS.find((c) => c.algorithm === algorithm);
}

function run(encrypt: boolean, c: ManagementKeyCipher, key: Uint8Array, block: Uint8Array): Uint8Array {
  if (key.length !== c.keyLength) throw new RangeError(`key must be ${c.keyLength} bytes`);
  if (block.length % c.blockLength !== 0) throw new RangeError(`data must be whole ${c.blockLength}-byte blocks`);
  const op = encrypt ? createCipheriv(c.cipher, key, null) : createDecipheriv(c.cipher, key, null);
  op.setAutoPadding(false);
  const out = Buffer.concat([op.update(block), op.final()]);
  return new Uint8Array(out);
}

/** Encipher whole blocks. @throws RangeError on a wrong key or data length. */
export function encryptBlocks(c: ManagementKeyCipher, key: Uint8Array, data: Uint8Array): Uint8Array {
  return run(true, c, key, data);
}

/** Decipher whole blocks. @throws RangeError on a wrong key or data length. */
export function decryptBlocks(c: ManagementKeyCipher, key: Uint8Array, data: Uint8Array): Uint8Array {
  return run(false, c, key, data);
}
