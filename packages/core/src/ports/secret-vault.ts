/**
 * The `SecretVault` port wraps per-card administrator secrets (PIV management keys, PUKs,
 * PKCS#11 SO PINs) under a key-encryption key, so the store only ever holds ciphertext.
 */

/** A wrapped secret as it is stored. All binary fields are base64. */
export interface WrappedSecret {
  /** Identifies the KEK that wrapped it, so KEKs can rotate. */
  kekId: string;
  /** Wrapping algorithm, e.g. "A256GCM". */
  alg: string;
  iv: string;
  ciphertext: string;
}

/**
 * Wraps and unwraps secrets. `context` is bound to the ciphertext (AES-GCM additional data):
 * a secret wrapped for one card and purpose cannot be unwrapped as another's.
 * @throws CardwrightError `VAULT_UNWRAP_FAILED` when the ciphertext, context or KEK do not match.
 */
export interface SecretVault {
  wrap(secret: Uint8Array, context: string): Promise<WrappedSecret>;
  unwrap(wrapped: WrappedSecret, context: string): Promise<Uint8Array>;
}
