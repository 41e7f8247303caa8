/**
 * `npm run bench` entry (via scripts/bench.mjs): runs the four measurements in sequence and
 * writes their sections as JSON to the file named by `--out`. `--quick` shrinks every size for
 * a smoke run; its numbers are not for docs/benchmarks.md. `--only <name>` runs just the steps
 * whose name contains `name` (case-insensitive; repeatable), for iterating on one section.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { measureApduCost } from "./apdu-cost.js";
import { measureDeviceKeygen } from "./device-keygen.js";
import { removeWorkDirs } from "./fixtures.js";
import { measurePcscComparison } from "./pcsc-compare.js";
import { measureSdkOverhead } from "./sdk-overhead.js";
import { type BenchSection, now } from "./stats.js";
import { measureStoreOps } from "./store-ops.js";
import { measureThroughput } from "./throughput.js";

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    quick: { type: "boolean", default: false },
    only: { type: "string", multiple: true },
  },
});
if (values.out === undefined) {
  console.error("usage: main.ts --out <results.json> [--quick] [--only <step name>]...");
  process.exit(2);
}
const quick = values.quick;

/** Sizes of the run; the full ones keep the whole bench under about 12 minutes on 2 cores. */
const sizes = {
  apduCards: quick ? 2 : 20,
  overheadCards: quick ? 3 : 20,
  bureauCards: quick ? 8 : 48,
  readers: quick ? [1, 4] : [1, 4, 16],
  /** Store at scale: cards of two certificates each (500,000 for 10⁶ certificates) and load budgets. */
  store: {
    postgresCards: quick ? 4000 : 500_000,
    pgliteCards: quick ? 4000 : 500_000,
    postgresBudgetSeconds: quick ? 30 : 240,
    pgliteBudgetSeconds: quick ? 30 : 100,
    chunk: quick ? 1000 : 25_000,
    samples: quick ? 5 : 30,
  },
  pcscCards: quick ? 1 : 2,
  keygenSamples: quick ? 2 : 10,
};

const steps: [string, () => Promise<BenchSection>][] = [
  ["APDUs per certificate", () => measureApduCost({ cards: sizes.apduCards })],
  ["SDK overhead", () => measureSdkOverhead({ cards: sizes.overheadCards })],
  ["bureau throughput", () => measureThroughput({ cards: sizes.bureauCards, readers: sizes.readers })],
  ["store", () => measureStoreOps(sizes.store)],
  ["PC/SC against yubico-piv-tool", () => measurePcscComparison({ cards: sizes.pcscCards })],
  ["device key generation", () => measureDeviceKeygen({ samples: sizes.keygenSamples })],
];

const only = (values.only ?? []).map((o) => o.toLowerCase());
const selected = steps.filter(([name]) => only.length === 0 || only.some((o) => name.toLowerCase().includes(o)));
if (selected.length === 0) {
  console.error(`main.ts: --only matches no step; steps are: ${steps.map(([name]) => name).join(", ")}`);
  process.exit(2);
}

/** The section of a measurement that threw: what failed, in the document, instead of numbers. */
function failedSection(name: string, err: unknown): BenchSection {
  console.error(`bench: ${name} failed:`, err);
  const message = err instanceof Error ? err.message : String(err);
  return {
    title: name,
    markdown: `**Not measured: this section failed in this run.** ${message}`,
    headline: { failed: message },
  };
}

const sections: (BenchSection & { seconds: number })[] = [];
try {
  for (const [name, run] of selected) {
    const start = now();
    console.error(`bench: ${name}…`);
    // A failed section is reported in its place; the others' results still count.
    const section = await run().catch((err: unknown) => failedSection(name, err));
    const seconds = (now() - start) / 1000;
    console.error(`bench: ${name} done in ${seconds.toFixed(1)} s`, section.headline);
    sections.push({ ...section, seconds });
  }
} finally {
  removeWorkDirs();
}
writeFileSync(values.out, JSON.stringify({ quick, only, sizes, sections }, null, 2));
