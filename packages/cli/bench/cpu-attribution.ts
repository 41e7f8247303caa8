/**
 * Whose code the main thread ran, from V8's sampling profiler: each sample goes to the SDK, the
 * card, the CA or the store by the innermost frame of its stack that belongs to one of them. Busy
 * meters see when a port call is in flight, not who runs meanwhile (the SDK's code interleaves
 * with pending store and card calls); samples see exactly what ran, at the profiler's resolution.
 */
import { readFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

/** Who a sample belongs to. `other`: no frame of ours (module loading, async library code whose caller is gone). */
export type CpuParty = "sdk" | "card" | "ca" | "store" | "bench" | "gc" | "idle" | "other";

/** The subset of a V8 `Profiler.Profile` read here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Owner of a script by its URL, or undefined for code that belongs to whoever called it. */
function ownerOf(url: string): CpuParty | undefined {
  if (url.includes("/packages/simulator/")) return "card";
  if (url.includes("/packages/ca-adapters/")) return "ca";
  if (
    url.includes("/packages/store-sql/") ||
    url.includes("/core/src/testing/in-memory-store") ||
    url.includes("/core/src/store/") ||
    url.includes("/@electric-sql/pglite/")
  ) {
    return "store";
  }
  if (url.includes("/packages/cli/bench/")) return "bench";
  if (url.includes("/packages/core/src/") || url.includes("/packages/pcsc/src/")) return "sdk";
  return undefined;
}

/**
 * The part of the SDK a script belongs to, for the SDK's own breakdown: the workflow engine
 * (xstate), or the package and first directory of an SDK source (`core/audit`, `pcsc/piv`).
 */
function sdkPartOf(url: string): string | undefined {
  if (url.includes("/node_modules/xstate/")) return "xstate";
  const source = /\/packages\/(core|pcsc)\/src\/([^/]+)/.exec(url);
  if (source === null) return undefined;
  const [, pkg, first] = source as unknown as [string, string, string];
  return `${pkg}/${first.replace(/\.ts$/, "")}`;
}

/** Main-thread milliseconds per party, and the SDK's by part (see {@link sdkPartOf}). */
export interface CpuTotals {
  parties: Record<CpuParty, number>;
  sdkParts: Record<string, number>;
}

/** Milliseconds of main-thread time per party in `profile`. */
export function attributeCpu(profile: CpuProfile): CpuTotals {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, { party: CpuParty; part: string | undefined }>();
  const classify = (leaf: number) => {
    const known = memo.get(leaf);
    if (known !== undefined) return known;
    const name = nodes.get(leaf)?.callFrame.functionName;
    let party: CpuParty | undefined =
      name === "(idle)" ? "idle" : name === "(garbage collector)" ? "gc" : name === "(program)" ? "other" : undefined;
    // The innermost SDK part on the stack: the code that ran, or library code it called.
    let part: string | undefined;
    for (let id: number | undefined = leaf; party === undefined && id !== undefined; id = parent.get(id)) {
      const url = nodes.get(id)?.callFrame.url ?? "";
      party = ownerOf(url);
      part ??= sdkPartOf(url);
    }
    // xstate runs only the SDK's workflow; its frames have no SDK caller when a promise settles.
    party ??= part === "xstate" ? "sdk" : "other";
    const result = { party, part: party === "sdk" ? part : undefined };
    memo.set(leaf, result);
    return result;
  };
  const parties: Record<CpuParty, number> = { sdk: 0, card: 0, ca: 0, store: 0, bench: 0, gc: 0, idle: 0, other: 0 };
  const sdkParts: Record<string, number> = {};
  // timeDeltas[i] is the time before sample i; the time after it is the next delta.
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const { party, part } = classify(profile.samples[i] as number);
    parties[party] += ms;
    if (part !== undefined) sdkParts[part] = (sdkParts[part] ?? 0) + ms;
  }
  return { parties, sdkParts };
}

/** Kernel clock ticks per second for /proc times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/**
 * CPU time this process's main thread has used, in ms, from /proc (Linux); `undefined` elsewhere.
 * Unlike wall time it does not grow while other processes hold the CPU, and unlike
 * `process.cpuUsage()` it leaves out libuv's thread pool (the simulator's key generation).
 */
export function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, utime field 14 and stime field 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/** What a {@link CpuSampler} saw. */
export interface CpuAttribution {
  /** Sampled milliseconds per party (wall time of the samples: stretched when the machine is busy). */
  sampled: Record<CpuParty, number>;
  /** The SDK's sampled milliseconds by part (`xstate`, `core/audit`, `pcsc/piv`…). */
  sdkParts: Record<string, number>;
  /** The main thread's CPU time over the same span (10 ms resolution), when /proc has it. */
  threadCpuMs: number | undefined;
}

/**
 * `attribution`'s CPU time of `party`: the main thread's CPU time times the party's share of the
 * samples that were not idle. Other processes on a busy machine stretch the samples' wall time
 * but not the thread's CPU time, so this holds up better than the samples alone.
 */
export function cpuTimeOf(attribution: CpuAttribution, party: CpuParty): number | undefined {
  if (attribution.threadCpuMs === undefined) return undefined;
  const { idle: _idle, ...busy } = attribution.sampled;
  const total = Object.values(busy).reduce((a, b) => a + b, 0);
  return total === 0 ? undefined : (attribution.threadCpuMs * attribution.sampled[party]) / total;
}

/** A running sampling profile of this thread; {@link stop} it to get the attribution. */
export class CpuSampler {
  readonly #session = new Session();
  #threadCpuAtStart: number | undefined;

  /** Starts sampling every `intervalUs` microseconds. */
  static async start(intervalUs: number): Promise<CpuSampler> {
    const sampler = new CpuSampler();
    sampler.#session.connect();
    await sampler.#session.post("Profiler.enable");
    await sampler.#session.post("Profiler.setSamplingInterval", { interval: intervalUs });
    await sampler.#session.post("Profiler.start");
    sampler.#threadCpuAtStart = mainThreadCpuMs();
    return sampler;
  }

  /** Stops sampling and attributes what was sampled. */
  async stop(): Promise<CpuAttribution> {
    const end = mainThreadCpuMs();
    const { profile } = await this.#session.post("Profiler.stop");
    await this.#session.post("Profiler.disable");
    this.#session.disconnect();
    const start = this.#threadCpuAtStart;
    const { parties, sdkParts } = attributeCpu(profile as unknown as CpuProfile);
    return {
      sampled: parties,
      sdkParts,
      threadCpuMs: start === undefined || end === undefined ? undefined : end - start,
    };
  }
}
