#!/usr/bin/env node
// `npm run demo`: builds the packages, then runs `cardwright demo` with any extra arguments
// (e.g. `npm run demo -- --approval`). Needs no system packages.
import { spawnSync } from "node:child_process";

const build = spawnSync("npm", ["run", "build", "--silent"], { stdio: ["ignore", "ignore", "inherit"] });
if (build.status !== 0) {
  console.error("demo: the build failed; run `npm run build` to see why");
  process.exit(build.status ?? 1);
}
const r = spawnSync(process.execPath, ["packages/cli/dist/main.js", "demo", ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
