/**
 * Timing and statistics for the benchmarks: a monotonic clock, a busy-time meter that counts
 * overlapping calls once, nearest-rank percentiles, and Markdown tables for docs/benchmarks.md.
 */

/** Milliseconds on the monotonic clock. */
export const now = (): number => performance.now();

/** Summary of a sample. */
export interface Summary {
  n: number;
  mean: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile (p in 0..100) of an ascending sample. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** Mean, median, p95, min and max of `samples`. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    mean: sum / sorted.length,
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Runs `fn` and returns its result with the elapsed milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = now();
  const value = await fn();
  return { value, ms: now() - start };
}

/**
 * Runs `fn` in sequence up to `count` times, stopping early (after at least 5 calls) once
 * `capMs` have passed so slow operations do not stretch the run; returns operations per second.
 */
export async function opsPerSecond(count: number, fn: (i: number) => Promise<unknown>, capMs = 3000): Promise<number> {
  const start = now();
  let done = 0;
  while (done < count && (done < 5 || now() - start < capMs)) await fn(done++);
  return done / ((now() - start) / 1000);
}

/**
 * Wall time during which at least one metered call was running. Calls that overlap (or nest)
 * count once, so a decorator can meter without double counting.
 */
export class BusyMeter {
  #active = 0;
  #since = 0;
  #total = 0;

  /** A metered call begins. */
  enter(): void {
    if (this.#active++ === 0) this.#since = now();
  }

  /** A metered call ends. */
  exit(): void {
    if (--this.#active === 0) this.#total += now() - this.#since;
  }

  /** Meter one call of `fn`. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.enter();
    try {
      return await fn();
    } finally {
      this.exit();
    }
  }

  /** Busy milliseconds so far (calls still running are not counted yet). */
  get totalMs(): number {
    return this.#total;
  }

  /** Start again from zero. */
  reset(): void {
    this.#total = 0;
  }
}

/** Fixed-point number for a table cell. */
export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** A Markdown table; numbers are printed as given (format them first). */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

/** A deterministic pseudo-random sequence (mulberry32) for picking ids; not for secrets. */
export function seededIndex(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound);
  };
}

/** One section of docs/benchmarks.md, with the headline numbers for the console. */
export interface BenchSection {
  title: string;
  markdown: string;
  headline: Record<string, string | number>;
}
