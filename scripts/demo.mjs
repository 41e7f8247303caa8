#!/usr/bin/env node
// `npm run demo`: runs `cardwright demo` straight from the TypeScript sources (tsx, workspace
// packages resolved through their "source" export condition), so it needs neither a build nor
// system packages. Extra arguments pass through: `npm run demo -- --approval`.
// CI runs the built CLI (packages/cli/dist/main.js) the same way, see .ci/run.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../packages/cli/src/main.ts", import.meta.url));
const r = spawnSync(
  process.execPath,
  ["--conditions=source", "--import", "tsx", main, "demo", ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
process.exit(r.status ?? 1);
