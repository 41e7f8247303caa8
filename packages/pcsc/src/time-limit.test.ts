import { afterEach, describe, expect, it, vi } from "vitest";
import { withinTimeLimit } from "./time-limit.js";

/** A promise that settles only when told to. */
function pendingWork<T>(): { work: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const work = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { work, resolve, reject };
}

/** Ref'd timers of the process: what keeps it alive. */
const refedTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

const timeout = (label: string) => () => new Error(`timed out: ${label}`);

/** How the limit settled, and when (ms after the call). */
async function outcome(promise: Promise<unknown>, started: number): Promise<{ result: string; after: number }> {
  try {
    return { result: `value ${String(await promise)}`, after: performance.now() - started };
  } catch (err) {
    return { result: (err as Error).message, after: performance.now() - started };
  }
}

describe("withinTimeLimit", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("settles with the work, value or reason, and returns the work itself without a limit", async () => {
    await expect(withinTimeLimit(Promise.resolve(7), 1000, timeout("a"))).resolves.toBe(7);
    await expect(withinTimeLimit(Promise.reject(new Error("card gone")), 1000, timeout("b"))).rejects.toThrow(
      "card gone",
    );
    const work = Promise.resolve(1);
    expect(withinTimeLimit(work, undefined, timeout("c"))).toBe(work);
  });

  it("rejects with error() once the limit has passed, not before", async () => {
    const { work } = pendingWork<number>();
    const started = performance.now();
    const { result, after } = await outcome(withinTimeLimit(work, 40, timeout("hanging")), started);
    expect(result).toBe("timed out: hanging");
    expect(after).toBeGreaterThanOrEqual(39);
  });

  it("a shorter limit started after a longer one still fires on time; the longer one stays pending", async () => {
    const long = pendingWork<string>();
    let longSettled = false;
    const longLimit = withinTimeLimit(long.work, 60_000, timeout("long")).finally(() => {
      longSettled = true;
    });
    const started = performance.now();
    const { result, after } = await outcome(withinTimeLimit(pendingWork().work, 30, timeout("short")), started);
    expect(result).toBe("timed out: short");
    expect(after).toBeGreaterThanOrEqual(29);
    expect(after).toBeLessThan(5_000);
    expect(longSettled).toBe(false);
    long.resolve("done");
    await expect(longLimit).resolves.toBe("done");
  });

  it("expires concurrent limits each at its own deadline, whatever the order they were set in", async () => {
    const started = performance.now();
    const runs = [90, 30, 60].map((ms) => outcome(withinTimeLimit(pendingWork().work, ms, timeout(`${ms}`)), started));
    const settled = await Promise.all(runs);
    expect(settled.map((s) => s.result)).toEqual(["timed out: 90", "timed out: 30", "timed out: 60"]);
    for (const [i, ms] of [90, 30, 60].entries()) expect(settled[i]?.after).toBeGreaterThanOrEqual(ms - 1);
    expect(settled[1]!.after).toBeLessThan(settled[2]!.after);
    expect(settled[2]!.after).toBeLessThan(settled[0]!.after);
  });

  it("treats limits outside 1 ms..2³¹−1 ms as 1 ms, as setTimeout does", async () => {
    for (const ms of [0, -5, Number.NaN, 2 ** 31]) {
      await expect(withinTimeLimit(pendingWork().work, ms, timeout(`${ms}`))).rejects.toThrow(`timed out: ${ms}`);
    }
  });

  it("keeps the process alive only while a limit is pending", async () => {
    await withinTimeLimit(Promise.resolve(0), 1000, timeout("warm-up"));
    const idle = refedTimers();
    const { work, resolve } = pendingWork<number>();
    const limited = withinTimeLimit(work, 10_000, timeout("alive"));
    expect(refedTimers()).toBe(idle + 1);
    resolve(1);
    await limited;
    expect(refedTimers()).toBe(idle);
  });

  it("still fires after a watchdog armed under fake timers was abandoned", async () => {
    vi.useFakeTimers();
    const stale = pendingWork<number>();
    const staleLimit = withinTimeLimit(stale.work, 5, timeout("stale"));
    stale.resolve(1);
    await staleLimit;
    vi.useRealTimers();
    const started = performance.now();
    const { result, after } = await outcome(withinTimeLimit(pendingWork().work, 30, timeout("real")), started);
    expect(result).toBe("timed out: real");
    expect(after).toBeLessThan(5_000);
  });
});
