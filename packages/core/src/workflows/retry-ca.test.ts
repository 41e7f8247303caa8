import { describe, expect, it } from "vitest";
import { CardwrightError, isCardwrightError } from "../errors.js";
import { SeededRandom } from "../testing/seeded-random.js";
import { checkCaRetryOptions, retryCa } from "./retry-ca.js";

/** A call that fails with the given codes in turn, then returns "ok". */
function failing(codes: string[]) {
  let calls = 0;
  const call = async () => {
    const code = codes[calls++];
    if (code === undefined) return "ok";
    if (code === "plain") throw new Error("socket hang up");
    throw new CardwrightError(code as "CA_UNAVAILABLE", `CA said ${code}`, { details: { caId: "ca" } });
  };
  return { call, calls: () => calls };
}

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("retryCa", () => {
  it("retries CA_UNAVAILABLE with growing jittered backoff until the call succeeds", async () => {
    const f = failing(["CA_UNAVAILABLE", "CA_UNAVAILABLE"]);
    const s = recordingSleep();
    const result = await retryCa("submitting", f.call, {
      random: new SeededRandom(1),
      options: { attempts: 4, baseDelayMs: 100, maxDelayMs: 150, sleep: s.sleep },
    });
    expect(result).toBe("ok");
    expect(f.calls()).toBe(3);
    expect(s.waits).toHaveLength(2);
    expect(s.waits[0]).toBeGreaterThanOrEqual(0);
    expect(s.waits[0]).toBeLessThan(100);
    expect(s.waits[1]).toBeLessThan(150); // min(maxDelayMs, 200)
  });

  it("does not retry CA_BAD_RESPONSE, a rejection or a non-cardwright error", async () => {
    for (const code of ["CA_BAD_RESPONSE", "CA_REJECTED", "plain"]) {
      const f = failing([code]);
      const s = recordingSleep();
      const err = await retryCa("submitting", f.call, {
        random: new SeededRandom(2),
        options: { sleep: s.sleep },
      }).catch((e: unknown) => e);
      expect(f.calls()).toBe(1);
      expect(s.waits).toEqual([]);
      if (code === "plain") expect((err as Error).message).toBe("socket hang up");
      else expect(isCardwrightError(err, code as "CA_BAD_RESPONSE")).toBe(true);
    }
  });

  it("gives up after the configured attempts with CA_UNAVAILABLE, its details and the attempt count", async () => {
    const f = failing(Array(10).fill("CA_UNAVAILABLE"));
    const s = recordingSleep();
    const err = await retryCa("polling request r1", f.call, {
      random: new SeededRandom(3),
      options: { attempts: 3, sleep: s.sleep },
    }).catch((e: unknown) => e);
    expect(isCardwrightError(err, "CA_UNAVAILABLE")).toBe(true);
    const e = err as CardwrightError;
    expect(e.message).toMatch(/^polling request r1: CA said CA_UNAVAILABLE \(gave up after 3 attempts\)$/);
    expect(e.details).toMatchObject({ caId: "ca", attempts: 3 });
    expect(f.calls()).toBe(3);
    expect(s.waits).toHaveLength(2);
  });

  it("refuses nonsense options", () => {
    expect(() => checkCaRetryOptions({ attempts: 0 })).toThrow(/caRetry.attempts/);
    expect(() => checkCaRetryOptions({ baseDelayMs: -1 })).toThrow(/caRetry.baseDelayMs/);
    expect(() => checkCaRetryOptions({ attempts: 2, maxDelayMs: 1000 })).not.toThrow();
  });
});
