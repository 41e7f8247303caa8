/** A {@link Clock} that only moves when told to, for deterministic tests. */
import type { Clock } from "../ports/runtime.js";

/** Fixed time, advanced explicitly. */
export class FixedClock implements Clock {
  #now: number;

  constructor(start: Date | string = "2026-01-01T00:00:00.000Z") {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  /** Move forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.#now += ms;
  }

  /** Jump to `at`. */
  set(at: Date | string): void {
    this.#now = new Date(at).getTime();
  }
}
