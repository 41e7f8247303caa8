/**
 * Importing @cardwright/pcsc never loads the native binding: in a process where "smartcard"
 * cannot be resolved, the card edge works and the first PC/SC call fails with PCSC_UNAVAILABLE.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect, it } from "vitest";

const INDEX = pathToFileURL(fileURLToPath(new URL("../index.ts", import.meta.url))).href;

it("imports without the binding and names the fix at the first PC/SC call", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cw-lazy-"));
  const script = join(dir, "lazy.mjs");
  writeFileSync(
    script,
    `import { register } from "node:module";
register("data:text/javascript,export async function resolve(s,c,n){ if (s === 'smartcard') throw new Error('Cannot find package smartcard'); return n(s,c); }");
const pcsc = await import(${JSON.stringify(INDEX)});
const apdu = pcsc.encodeCommand({ cla: 0, ins: 0xfd, p1: 0, p2: 0, data: new Uint8Array(0) });
let outcome;
try { await new pcsc.PcscDeviceProvider().readers(); outcome = { code: "none" }; }
catch (e) { outcome = { code: e.code, message: e.message }; }
console.log(JSON.stringify({ ...outcome, apdu: Buffer.from(apdu).toString("hex") }));
`,
  );
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ["--import", "tsx", "--conditions", "source", script], (err, out, errText) =>
      err ? reject(new Error(`${err.message}\n${errText}`)) : resolve(out),
    ),
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1) as string);
  expect(result.apdu).toBe("00fd0000");
  expect(result.code).toBe("PCSC_UNAVAILABLE");
  expect(result.message).toContain("npm run setup");
}, 30_000);
