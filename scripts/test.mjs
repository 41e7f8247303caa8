#!/usr/bin/env node
// Runs the whole test suite (vitest) and closes with one plain summary line
// ("tests: N passed, N failed, N skipped") that CI reads.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";

mkdirSync(".tmp", { recursive: true });
const report = ".tmp/vitest-report.json";
const r = spawnSync(
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: "inherit" },
);
let summary;
try {
  const json = JSON.parse(readFileSync(report, "utf8"));
  const skipped = json.numPendingTests + json.numTodoTests;
  summary = `tests: ${json.numPassedTests} passed, ${json.numFailedTests} failed, ${skipped} skipped`;
  if (json.numTotalTests === 0) {
    console.error("no tests ran");
    process.exit(1);
  }
} catch {
  summary = "tests: 0 passed, 1 failed";
}
console.log(summary);
process.exit(r.status ?? 1);
