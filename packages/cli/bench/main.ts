/**
 * `npm run bench` entry (via scripts/bench.mjs): runs the four measurements in sequence and
 * writes their sections as JSON to the file named by `--out`. `--quick` shrinks every size for
 * a smoke run; its numbers are not for docs/benchmarks.md.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { measureApduCost } from "./apdu-cost.js";
import { removeWorkDirs } from "./fixtures.js";
import { measureSdkOverhead } from "./sdk-overhead.js";
import { type BenchSection, now } from "./stats.js";
import { measureStoreOps } from "./store-ops.js";
import { measureThroughput } from "./throughput.js";

const { values } = parseArgs({
  options: { out: { type: "string" }, quick: { type: "boolean", default: false } },
});
if (values.out === undefined) {
  console.error("usage: main.ts --out <results.json> [--quick]");
  process.exit(2);
}
const quick = values.quick;

/** Sizes of the run; the full ones keep the whole bench under about 5 minutes on 2 cores. */
const sizes = {
  apduCards: quick ? 2 : 20,
  overheadCards: quick ? 3 : 20,
  bureauCards: quick ? 4 : 16,
  readers: quick ? [1, 2] : [1, 2, 4, 8],
  cryptoSamples: quick ? 3 : 20,
  storeSize: quick ? 3000 : 100_000,
  storeBudgetSeconds: quick ? 20 : 90,
};

const steps: [string, () => Promise<BenchSection>][] = [
  ["APDUs per certificate", () => measureApduCost({ cards: sizes.apduCards })],
  ["SDK overhead", () => measureSdkOverhead({ cards: sizes.overheadCards })],
  [
    "bureau throughput",
    () => measureThroughput({ cards: sizes.bureauCards, readers: sizes.readers, cryptoSamples: sizes.cryptoSamples }),
  ],
  ["store", () => measureStoreOps({ size: sizes.storeSize, budgetSeconds: sizes.storeBudgetSeconds })],
];

const sections: (BenchSection & { seconds: number })[] = [];
try {
  for (const [name, run] of steps) {
    const start = now();
    console.error(`bench: ${name}…`);
    const section = await run();
    const seconds = (now() - start) / 1000;
    console.error(`bench: ${name} done in ${seconds.toFixed(1)} s`, section.headline);
    sections.push({ ...section, seconds });
  }
} finally {
  removeWorkDirs();
}
writeFileSync(values.out, JSON.stringify({ quick, sizes, sections }, null, 2));
