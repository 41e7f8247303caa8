/** `prevHash` of the first audit event (seq 1): 64 hex zeros, the width of a SHA-256 digest. */
export const GENESIS_HASH = "0".repeat(64);
