import { describe, expect, it } from "vitest";
import { SingleFlight } from "./single-flight.js";

describe("SingleFlight", () => {
  it("shares one running call per key, and runs again once it settled", async () => {
    const flights = new SingleFlight<number>();
    let calls = 0;
    let release: (value: number) => void = () => undefined;
    const task = () => {
      calls++;
      return new Promise<number>((resolve) => {
        release = resolve;
      });
    };
    const a = flights.run("r1", task);
    const b = flights.run("r1", task);
    const other = flights.run("r2", async () => 7);
    release(42);
    expect(await Promise.all([a, b, other])).toEqual([42, 42, 7]);
    expect(calls).toBe(1);
    await flights.run("r1", async () => 1);
    expect(calls).toBe(1);
    const failing = flights.run("r3", async () => {
      throw new Error("boom");
    });
    await expect(failing).rejects.toThrow("boom");
    expect(await flights.run("r3", async () => 3)).toBe(3);
  });
});
