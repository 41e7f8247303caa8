/** Per-command time limits, shared by the card edge and the transports under it. */

/**
 * Settle with `work`, or reject with `error()` once `timeoutMs` has passed (no limit when
 * undefined). The work itself is not cancelled — a transport that can abort must do so itself.
 * Built on one promise and one timer per call (no `Promise.race`, no async frame): it runs for
 * every APDU.
 */
export function withinTimeLimit<T>(work: Promise<T>, timeoutMs: number | undefined, error: () => Error): Promise<T> {
  if (timeoutMs === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(error()), timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (reason: unknown) => {
        clearTimeout(timer);
        reject(reason);
      },
    );
  });
}
