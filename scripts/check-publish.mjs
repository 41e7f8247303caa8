#!/usr/bin/env node
import { spawnSync } from "node:child_process";
// Checks the published shape of every package (exports map, types, ESM/CJS files) with publint.
// Run after `npm run build`.
import { readdirSync } from "node:fs";

let failed = 0;
for (const name of readdirSync("packages")) {
  const r = spawnSync("npx", ["publint", "--strict", `packages/${name}`], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
