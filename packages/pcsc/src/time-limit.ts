/** Per-command time limits, shared by the card edge and the transports under it. */

/** One unsettled {@link withinTimeLimit} call. */
interface PendingLimit {
  /** `performance.now()` at which the limit is reached. */
  deadline: number;
  reject: (reason: unknown) => void;
  error: () => Error;
}

/** Node's longest timer delay; like `setTimeout`, a limit outside 1..TIMEOUT_MAX counts as 1 ms. */
const TIMEOUT_MAX = 2 ** 31 - 1;

/**
 * Every unsettled limit of the process, watched by ONE timer. A card exchange takes well under a
 * millisecond on a fast link, and arming and clearing a Node timer per APDU (a timer list, a
 * priority queue entry and libuv calls each time) cost more than the exchange itself. The
 * watchdog stays armed across exchanges instead: it keeps the process alive only while a limit
 * is pending (ref'd), and when it fires it expires what is due and re-arms for the next deadline.
 */
const pending = new Set<PendingLimit>();
let watchdog: ReturnType<typeof setTimeout> | undefined;
/** `performance.now()` at which the armed watchdog fires (infinite when disarmed). */
let watchdogAt = Number.POSITIVE_INFINITY;
/**
 * The timer functions the watchdog was armed with. Test doubles (fake timers) swap the globals;
 * a watchdog armed under the other pair may never fire, so a swap re-arms it.
 */
let armedWith: typeof setTimeout | undefined;
let clearArmed: typeof clearTimeout = clearTimeout;

function arm(at: number, now: number): void {
  if (watchdog !== undefined) clearArmed(watchdog);
  watchdogAt = at;
  armedWith = setTimeout;
  clearArmed = clearTimeout;
  watchdog = setTimeout(onWatchdog, Math.max(1, Math.ceil(at - now)));
}

function onWatchdog(): void {
  watchdog = undefined;
  watchdogAt = Number.POSITIVE_INFINITY;
  const now = performance.now();
  const due: PendingLimit[] = [];
  let next = Number.POSITIVE_INFINITY;
  for (const limit of pending) {
    // Timers have millisecond granularity: a deadline less than 1 ms away is due, as it is for setTimeout.
    if (limit.deadline - now < 1) due.push(limit);
    else if (limit.deadline < next) next = limit.deadline;
  }
  for (const limit of due) pending.delete(limit);
  if (next !== Number.POSITIVE_INFINITY) arm(next, now);
  for (const limit of due) limit.reject(limit.error());
}

function release(limit: PendingLimit): void {
  // An idle watchdog must not keep the process alive; it fires once more and disarms itself.
  if (pending.delete(limit) && pending.size === 0) watchdog?.unref();
}

/**
 * Settle with `work`, or reject with `error()` once `timeoutMs` has passed (no limit when
 * undefined). The work itself is not cancelled — a transport that can abort must do so itself.
 * Runs for every APDU (twice with the in-memory transport), so it costs one promise and a set
 * entry: all limits share one process-wide watchdog timer instead of a timer each.
 */
export function withinTimeLimit<T>(work: Promise<T>, timeoutMs: number | undefined, error: () => Error): Promise<T> {
  if (timeoutMs === undefined) return work;
  const ms = timeoutMs >= 1 && timeoutMs <= TIMEOUT_MAX ? timeoutMs : 1;
  return new Promise<T>((resolve, reject) => {
    const now = performance.now();
    // No closure per call beyond the promise's own: this runs for every APDU.
    const limit: PendingLimit = { deadline: now + ms, reject, error };
    pending.add(limit);
    if (watchdog === undefined || armedWith !== setTimeout) {
      // Nothing armed, or armed under timers that are gone: arm for the earliest deadline.
      let first = limit.deadline;
      for (const other of pending) if (other.deadline < first) first = other.deadline;
      arm(first, now);
    } else if (limit.deadline < watchdogAt) {
      arm(limit.deadline, now);
    } else if (pending.size === 1) {
      watchdog.ref();
    }
    work.then(
      (value) => {
        release(limit);
        resolve(value);
      },
      (reason: unknown) => {
        release(limit);
        reject(reason);
      },
    );
  });
}
