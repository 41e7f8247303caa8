/** Per-command time limits, shared by the card edge and the transports under it. */

/**
 * Settle with `work`, or reject with `error()` once `timeoutMs` has passed (no limit when
 * undefined). The work itself is not cancelled — a transport that can abort must do so itself.
 */
export async function withinTimeLimit<T>(
  work: Promise<T>,
  timeoutMs: number | undefined,
  error: () => Error,
): Promise<T> {
  if (timeoutMs === undefined) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), timeoutMs);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}
