#!/usr/bin/env node
// Installs the system packages the test suite needs, on a fresh Debian machine, skipping what is
// already there. Runs `apt-get update` once, and only when something is missing.
import { execFileSync, spawnSync } from "node:child_process";

/** Debian packages, each with the reason a test needs it. */
const packages = [["openssl", "cross-checks: openssl verify / req -verify / crl on issued certificates and CSRs"]];

const missing = packages.filter(([name]) => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
  return r.status !== 0 || !r.stdout.includes("install ok installed");
});

if (missing.length === 0) {
  console.log(`setup: all ${packages.length} system packages present`);
  process.exit(0);
}
if (process.platform !== "linux" || spawnSync("which", ["apt-get"]).status !== 0) {
  console.error(`setup: install these packages by hand: ${missing.map(([n]) => n).join(", ")}`);
  process.exit(1);
}
const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
const run = (args) => execFileSync(sudo[0] ?? args[0], sudo.length ? args : args.slice(1), { stdio: "inherit" });
for (const [name, why] of missing) console.log(`setup: installing ${name} (${why})`);
run(["apt-get", "update"]);
run([
  "env",
  "DEBIAN_FRONTEND=noninteractive",
  "apt-get",
  "install",
  "-y",
  "--no-install-recommends",
  ...missing.map(([n]) => n),
]);
