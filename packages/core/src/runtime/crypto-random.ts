/** Default {@link Random}: the platform CSPRNG. */
import { randomBytes, randomUUID } from "node:crypto";
import type { Random } from "../ports/runtime.js";

/** Randomness from `node:crypto` (`randomBytes`, `randomUUID` — UUID v4, RFC 9562 §5.4). */
export const cryptoRandom: Random = {
  bytes: (length: number) => new Uint8Array(randomBytes(length)),
  uuid: () => randomUUID(),
};
