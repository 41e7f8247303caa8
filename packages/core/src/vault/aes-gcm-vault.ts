/**
 * The default {@link SecretVault}: AES-256-GCM (NIST SP 800-38D) with a random 96-bit IV per
 * wrap and the caller's `context` as additional authenticated data, so a secret wrapped for one
 * card and purpose cannot be unwrapped as another's. Several KEKs may be configured by id so
 * KEKs can rotate: `wrap` uses the current one, `unwrap` picks the one named in the record.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { CardwrightError } from "../errors.js";
import type { SecretVault, WrappedSecret } from "../ports/secret-vault.js";

const ALG = "A256GCM";
const KEY_BYTES = 32;
/** SP 800-38D §8.2: 96-bit IVs are the recommended length for random IVs. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Options for {@link AesGcmSecretVault}. */
export interface AesGcmSecretVaultOptions {
  /** KEKs by id, each 32 bytes. */
  keys: Readonly<Record<string, Uint8Array>>;
  /** Id of the KEK new secrets are wrapped with. */
  currentKekId: string;
}

/** AES-256-GCM secret vault. */
export class AesGcmSecretVault implements SecretVault {
  readonly #keys: Map<string, Buffer>;
  readonly #current: string;

  /**
   * @throws CardwrightError `VAULT_CONFIG` when a KEK is not 32 bytes or `currentKekId` is unknown.
   */
  constructor(options: AesGcmSecretVaultOptions) {
    this.#keys = new Map();
    for (const [id, key] of Object.entries(options.keys)) {
      if (key.length !== KEY_BYTES) {
        throw new CardwrightError("VAULT_CONFIG", `KEK ${id} must be ${KEY_BYTES} bytes for AES-256-GCM`, {
          details: { kekId: id, length: key.length },
        });
      }
      this.#keys.set(id, Buffer.from(key));
    }
    if (!this.#keys.has(options.currentKekId)) {
      throw new CardwrightError(
        "VAULT_CONFIG",
        `current KEK ${options.currentKekId} is not among the configured KEKs`,
        {
          details: { kekId: options.currentKekId },
        },
      );
    }
    this.#current = options.currentKekId;
  }

  /**
   * A vault with a single KEK.
   * @throws CardwrightError `VAULT_CONFIG` when `key` is not 32 bytes.
   */
  static fromKey(kekId: string, key: Uint8Array): AesGcmSecretVault {
    return new AesGcmSecretVault({ keys: { [kekId]: key }, currentKekId: kekId });
  }

  /** Wrap `secret` under the current KEK, binding `context` as AAD. */
  async wrap(secret: Uint8Array, context: string): Promise<WrappedSecret> {
    const key = this.#keys.get(this.#current)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(secret), cipher.final(), cipher.getAuthTag()]);
    return { kekId: this.#current, alg: ALG, iv: iv.toString("base64"), ciphertext: body.toString("base64") };
  }

  /**
   * Unwrap a secret wrapped by {@link wrap} with the same `context`.
   * @throws CardwrightError `VAULT_UNWRAP_FAILED` for an unknown KEK or algorithm, a wrong
   * context, or a tampered ciphertext — the message never describes the secret.
   */
  async unwrap(wrapped: WrappedSecret, context: string): Promise<Uint8Array> {
    const key = this.#keys.get(wrapped.kekId);
    if (key === undefined || wrapped.alg !== ALG) {
      throw new CardwrightError(
        "VAULT_UNWRAP_FAILED",
        `cannot unwrap secret: ${key === undefined ? `KEK ${wrapped.kekId} is not configured` : `algorithm ${wrapped.alg} is not ${ALG}`}`,
        { details: { kekId: wrapped.kekId, alg: wrapped.alg } },
      );
    }
    try {
      const iv = Buffer.from(wrapped.iv, "base64");
      const body = Buffer.from(wrapped.ciphertext, "base64");
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new Error("malformed");
      const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
      return new Uint8Array(plain);
    } catch {
      // No cause: the crypto error adds nothing and must not hint at the plaintext.
      throw new CardwrightError(
        "VAULT_UNWRAP_FAILED",
        "cannot unwrap secret: the KEK, context or ciphertext does not match (tampered or wrapped for another card)",
        { details: { kekId: wrapped.kekId, alg: wrapped.alg } },
      );
    }
  }
}
