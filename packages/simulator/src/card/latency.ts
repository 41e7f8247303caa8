/**
 * How long the virtual card takes. Zero by default so tests run fast; {@link YUBIKEY_5_LATENCY}
 * gives a realistic YubiKey 5 over USB for benchmarks and timeout tests.
 */

/** Key algorithm names the latency model is keyed by. */
export type LatencyAlgorithm = "RSA1024" | "RSA2048" | "RSA3072" | "RSA4096" | "ECCP256" | "ECCP384";

/** Processing time of the card, in milliseconds. Missing entries count as zero. */
export interface LatencyModel {
  /** Fixed cost of every APDU (USB CCID round trip and dispatch). */
  perApduMs?: number;
  /** Extra cost per byte of command plus response data. */
  perByteMs?: number;
  /** Key generation by algorithm. */
  keyGenerationMs?: Partial<Record<LatencyAlgorithm, number>>;
  /** One private-key operation (signature, decryption, ECDH) by algorithm. */
  signatureMs?: Partial<Record<LatencyAlgorithm, number>>;
}

/** No latency: the default for unit tests. */
export const ZERO_LATENCY: LatencyModel = Object.freeze({});

/**
 * Order-of-magnitude figures for a YubiKey 5 on USB, as reported by users measuring yubico-piv-tool
 * and ykman (not a Yubico specification): on-card RSA key generation takes seconds because of
 * prime search, EC generation and all private-key operations take tens to hundreds of ms.
 */
export const YUBIKEY_5_LATENCY: LatencyModel = Object.freeze({
  perApduMs: 4,
  perByteMs: 0.01,
  keyGenerationMs: { RSA1024: 1500, RSA2048: 6000, RSA3072: 25000, RSA4096: 60000, ECCP256: 120, ECCP384: 250 },
  signatureMs: { RSA1024: 70, RSA2048: 180, RSA3072: 500, RSA4096: 1100, ECCP256: 80, ECCP384: 140 },
});
