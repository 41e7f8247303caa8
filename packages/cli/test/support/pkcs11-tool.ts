/**
 * OpenSC's pkcs11-tool against a PKCS#11 module, with the environment the module needs
 * (SOFTHSM2_CONF, TPM2_PKCS11_*). Asynchronous, like support/tools.ts, so a card served by this
 * process keeps answering while the tool runs.
 */
import { execFile } from "node:child_process";
import type { ToolResult } from "./tools.js";

/** Run `pkcs11-tool --module <module> ...args` with `env`; never throws for a non-zero exit. */
export function pkcs11Tool(module: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ToolResult> {
  const argv = ["--module", module, ...args];
  // The command line in failure messages must not show a PIN.
  const shown = argv.map((a, i) => (argv[i - 1] === "--pin" || argv[i - 1] === "--so-pin" ? "***" : a));
  return new Promise((resolve, reject) => {
    execFile("pkcs11-tool", argv, { env, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === "ENOENT") {
        reject(new Error("pkcs11-tool is not installed (Debian package opensc)"));
        return;
      }
      const status = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ status, stdout, stderr, command: ["pkcs11-tool", ...shown].join(" ") });
    });
  });
}
