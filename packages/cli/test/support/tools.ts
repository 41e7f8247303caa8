/**
 * Runs the smart-card tools nobody here wrote (OpenSC, yubico-piv-tool, ykman) against a card
 * served by this very process. Always asynchronously: a synchronous spawn would block the event
 * loop and with it the VpcdBridge that has to answer the tool's APDUs.
 */
import { execFile } from "node:child_process";

export const OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
  /** The command line, for failure messages. */
  command: string;
}

/** Run `file args` (no shell), never throwing for a non-zero exit. */
export function tool(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { timeout: options.timeoutMs ?? 60_000, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          if ((error as NodeJS.ErrnoException).code === "ENOENT") {
            reject(new Error(`${file} is not installed; run npm run setup`));
            return;
          }
        }
        const status = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ status, stdout, stderr, command: [file, ...args].join(" ") });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Output and exit status as one string for `expect(..., describe(result))`. */
export function describeRun(result: ToolResult): string {
  return `${result.command} → exit ${result.status}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}
