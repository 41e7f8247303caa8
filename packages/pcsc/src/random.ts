/**
 * The platform CSPRNG (node:crypto `randomBytes`) for the card edge's small draws: GUIDs, card
 * identifiers, management-key challenges, the wrong values that block a PIN before a reset.
 * Each `randomBytes` call costs a crypto job and a trip into OpenSSL whatever its size, and an
 * issue makes several draws of 6–24 bytes, so bytes are drawn in blocks and each byte is handed
 * out once — the approach node:crypto's own `randomUUID` takes with its cache.
 */
import { randomBytes } from "node:crypto";

/** Bytes drawn from the CSPRNG at a time. */
const BLOCK = 4096;
/** Larger requests go to the CSPRNG directly. */
const LARGEST_POOLED = 256;

let pool = new Uint8Array(0);
let offset = 0;

/**
 * `length` bytes from the platform CSPRNG, never handed out before; the bytes are wiped from the
 * pool as they leave it.
 * @throws RangeError when `length` is not a non-negative integer.
 */
export function secureRandomBytes(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0)
    throw new RangeError(`random length must be a byte count, got ${length}`);
  if (length > LARGEST_POOLED) return Uint8Array.from(randomBytes(length));
  if (offset + length > pool.length) {
    const block = randomBytes(BLOCK);
    pool = new Uint8Array(block.buffer, block.byteOffset, block.byteLength);
    offset = 0;
  }
  const out = pool.slice(offset, offset + length);
  pool.fill(0, offset, offset + length);
  offset += length;
  return out;
}
