/**
 * The PKCS#12 key derivation function (RFC 7292 Appendix B.2), which OpenSSL still uses to derive
 * the key of the PFX integrity MAC (`PKCS12_key_gen_utf8`), even when the bags use PBES2.
 */
import { createHash } from "node:crypto";

/** Hashes the PFX MAC may use, as node:crypto names them, with their block size `v` in bytes. */
export const PKCS12_MAC_HASHES = {
  sha1: { outputBytes: 20, blockBytes: 64 },
  sha256: { outputBytes: 32, blockBytes: 64 },
  sha384: { outputBytes: 48, blockBytes: 128 },
  sha512: { outputBytes: 64, blockBytes: 128 },
} as const;

/** A hash usable with {@link pkcs12Kdf}. */
export type Pkcs12MacHash = keyof typeof PKCS12_MAC_HASHES;

/** Purpose byte `ID` of RFC 7292 Appendix B.3: 3 derives integrity (MAC) keys. */
export const PKCS12_KDF_MAC_ID = 3;

/**
 * The password as RFC 7292 Appendix B.1 formats it: a BMPString (UTF-16 big-endian) followed by
 * two zero bytes. Characters outside the BMP become surrogate pairs, as OpenSSL's
 * `OPENSSL_utf82uni` writes them.
 */
export function bmpPassword(password: string): Buffer {
  const out = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

function repeatTo(source: Uint8Array, blockBytes: number): Buffer {
  const length = source.length === 0 ? 0 : blockBytes * Math.ceil(source.length / blockBytes);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = source[i % source.length] ?? 0;
  return out;
}

/**
 * Derive `length` bytes from `password` and `salt` (RFC 7292 Appendix B.2).
 * The inner loop hashes `iterations` times per output block; it runs synchronously.
 */
export function pkcs12Kdf(
  hash: Pkcs12MacHash,
  password: string,
  salt: Uint8Array,
  iterations: number,
  id: number,
  length: number,
): Buffer {
  const { outputBytes: u, blockBytes: v } = PKCS12_MAC_HASHES[hash];
  const d = Buffer.alloc(v, id);
  const pw = bmpPassword(password);
  const i = Buffer.concat([repeatTo(salt, v), repeatTo(pw, v)]);
  pw.fill(0);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let a = createHash(hash).update(d).update(i).digest();
    for (let r = 1; r < iterations; r++) a = createHash(hash).update(a).digest();
    blocks.push(a);
    if (produced + u >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I, with B = A repeated to v bytes.
    const b = repeatTo(a, v);
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (i[j + k] ?? 0) + (b[k] ?? 0) + carry;
        i[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  i.fill(0);
  return Buffer.concat(blocks).subarray(0, length);
}
