/**
 * `cardwright simulate` as a user runs it: a separate process keeps a virtual card in a vpcd
 * reader of a real pcscd until SIGTERM, and saves its image, which the next run loads.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PcscDeviceProvider } from "@cardwright/pcsc";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cardPresent } from "../support/pcsc-stack.js";
import { type Pcscd, startPcscd, until } from "../support/pcscd.js";
import { describeRun, tool } from "../support/tools.js";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

let pcscd: Pcscd;
beforeAll(async () => {
  pcscd = await startPcscd();
}, 320_000);
afterAll(async () => pcscd?.stop());

function simulate(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = "";
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions", "source", MAIN, "simulate", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

it("keeps a card in pcscd until SIGTERM, saves its image and loads it again", async () => {
  const image = join(mkdtempSync(join(tmpdir(), "cw-sim-")), "card.json");
  const provider = new PcscDeviceProvider();
  const first = simulate(["--port", String(pcscd.ports[1]), "--image", image, "--serial", "7654321"]);
  try {
    await until(() => first.output().includes("Press Ctrl-C"), "simulate to insert the card", 20_000);
    expect(first.output()).toContain("serial 7654321");
    await cardPresent(provider, pcscd.readers[1]);
    const status = await tool("yubico-piv-tool", ["--reader", pcscd.readers[1], "-a", "status"]);
    expect(status.status, describeRun(status)).toBe(0);
    expect(status.stdout).toContain("Serial Number:\t7654321");
  } finally {
    first.child.kill("SIGTERM");
  }
  expect(await first.exited).toBe(0);
  expect(first.output()).toMatch(/Card removed after \d+ APDUs; image saved/);
  expect(JSON.parse(readFileSync(image, "utf8"))).toMatchObject({
    format: "cardwright-virtual-piv-card",
    serial: 7654321,
  });
  await cardPresent(provider, pcscd.readers[1], false);

  const second = simulate(["--port", String(pcscd.ports[1]), "--image", image]);
  try {
    await until(() => second.output().includes("Press Ctrl-C"), "simulate to load the image", 20_000);
    expect(second.output()).toContain(`serial 7654321) from ${image}`);
    await cardPresent(provider, pcscd.readers[1]);
    const device = await provider.open({ reader: pcscd.readers[1] });
    expect(device.identity.serial).toBe("7654321");
    await device.close();
  } finally {
    second.child.kill("SIGTERM");
  }
  expect(await second.exited).toBe(0);
  expect(existsSync(image)).toBe(true);
  await cardPresent(provider, pcscd.readers[1], false);
});

it("says what to do when no vpcd listens", async () => {
  const run = simulate(["--port", "1"]);
  expect(await run.exited).toBe(1);
  expect(run.output()).toMatch(/start pcscd with the vsmartcard-vpcd reader.*\[APDU_TRANSPORT\]/s);
});

it("without pcscd, PC/SC calls fail fast with PCSC_NO_SERVICE", async () => {
  await pcscd.kill(); // the lock stays ours: no other test starts a pcscd meanwhile
  const started = Date.now();
  await expect(new PcscDeviceProvider().readers()).rejects.toMatchObject({
    code: "PCSC_NO_SERVICE",
    details: { scard: "SCARD_E_NO_SERVICE" },
  });
  await expect(new PcscDeviceProvider().open()).rejects.toMatchObject({ code: "PCSC_NO_SERVICE" });
  expect(Date.now() - started).toBeLessThan(5_000);
});
