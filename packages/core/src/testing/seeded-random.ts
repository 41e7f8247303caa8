/**
 * A deterministic {@link Random} for reproducible tests: SHA-256 over (seed, counter). Every
 * run with the same seed yields the same bytes and ids.
 *
 * NOT FOR PRODUCTION: anyone who knows the seed knows every PIN, PUK and management key it
 * produced. Production code uses the default `cryptoRandom` (the platform CSPRNG).
 */
import { createHash } from "node:crypto";
import type { Random } from "../ports/runtime.js";

/** Deterministic randomness from a seed. Tests only. */
export class SeededRandom implements Random {
  readonly #seed: string;
  #counter = 0;
  #pool = new Uint8Array(0);

  constructor(seed: string | number = 1) {
    this.#seed = String(seed);
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (this.#pool.length === 0) {
        this.#pool = new Uint8Array(
          createHash("sha256")
            .update(`${this.#seed}:${this.#counter++}`)
            .digest(),
        );
      }
      const take = Math.min(this.#pool.length, length - filled);
      out.set(this.#pool.subarray(0, take), filled);
      this.#pool = this.#pool.subarray(take);
      filled += take;
    }
    return out;
  }

  /** A UUID v4 (RFC 9562 §5.4) built from the seeded bytes. */
  uuid(): string {
    const b = this.bytes(16);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = Buffer.from(b).toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}
