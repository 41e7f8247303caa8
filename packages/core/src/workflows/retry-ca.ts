/**
 * Retrying certificate authority calls that failed for a passing reason. Only `CA_UNAVAILABLE`
 * is retried (the CA could not be reached, timed out or said it is busy): the adapters are
 * idempotent on our request id, so a repeated submit cannot yield a second certificate. Every
 * other error — a bad response, a rejection, a bad request — would fail the same way again.
 */
import { CardwrightError, isCardwrightError } from "../errors.js";
import type { Logger, Random } from "../ports/runtime.js";

/** How CA calls are retried; see {@link retryCa}. */
export interface CaRetryOptions {
  /** Attempts in all, the first included (default 4; 1 disables retries). */
  attempts?: number;
  /** Upper bound of the first backoff, in ms (default 500); it doubles for each further retry. */
  baseDelayMs?: number;
  /** Upper bound of any one backoff, in ms (default 10 000). */
  maxDelayMs?: number;
  /**
   * Waits `ms` milliseconds (default: a timer). The runtime `Clock` only tells the time, so the
   * wait is injected separately; tests pass one that returns at once.
   */
  sleep?: (ms: number) => Promise<void>;
}

/** Defaults of {@link CaRetryOptions}. */
export const DEFAULT_CA_RETRY = { attempts: 4, baseDelayMs: 500, maxDelayMs: 10_000 } as const;

const timerSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Check retry options.
 * @throws CardwrightError `CONFIG_INVALID` for a non-positive or non-integer bound.
 */
export function checkCaRetryOptions(options: CaRetryOptions): void {
  const { attempts, baseDelayMs, maxDelayMs } = { ...DEFAULT_CA_RETRY, ...options };
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      `caRetry.attempts must be a whole number from 1 to 20, got ${attempts}`,
      {
        details: { field: "caRetry.attempts" },
      },
    );
  }
  for (const [field, value] of [
    ["caRetry.baseDelayMs", baseDelayMs],
    ["caRetry.maxDelayMs", maxDelayMs],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new CardwrightError("CONFIG_INVALID", `${field} must be a whole number of milliseconds ≥ 0, got ${value}`, {
        details: { field },
      });
    }
  }
}

/** A uniform fraction in [0, 1) from the injected randomness. */
function fraction(random: Random): number {
  const b = random.bytes(4);
  const n = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  return n / 2 ** 32;
}

/**
 * Run `call`, retrying a `CA_UNAVAILABLE` failure with exponential backoff and full jitter
 * (each wait uniform in [0, min(maxDelayMs, baseDelayMs·2ⁿ)]), at most `attempts` times in all.
 * @throws the first error that is not `CA_UNAVAILABLE` at once; the last `CA_UNAVAILABLE`
 * (with `details.attempts`) when every attempt failed.
 */
export async function retryCa<T>(
  operation: string,
  call: () => Promise<T>,
  deps: { random: Random; logger?: Logger; options?: CaRetryOptions },
): Promise<T> {
  const { attempts, baseDelayMs, maxDelayMs } = { ...DEFAULT_CA_RETRY, ...deps.options };
  const sleep = deps.options?.sleep ?? timerSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isCardwrightError(err, "CA_UNAVAILABLE")) throw err;
      if (attempt >= attempts) {
        throw new CardwrightError(
          "CA_UNAVAILABLE",
          `${operation}: ${err.message} (gave up after ${attempt} attempts)`,
          {
            details: { ...err.details, attempts: attempt },
            cause: err,
          },
        );
      }
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.floor(fraction(deps.random) * ceiling);
      deps.logger?.log("warn", "certificate authority unavailable; retrying", {
        operation,
        attempt,
        delayMs,
        error: err.message,
      });
      await sleep(delayMs);
    }
  }
}
