/**
 * Several OS processes sharing one CA directory: an operator process approves what a workflow
 * process left pending, and racing submits of one requestId get one certificate.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EmbeddedCa } from "../src/index.js";
import { makeCsr } from "./support/csr.js";
import { pivAuthProfile } from "./support/x509.js";

const script = resolve(import.meta.dirname, "support/ca-process.ts");
const tsx = resolve(import.meta.dirname, "../../../node_modules/.bin/tsx");

function runCaProcess(args: string[], startAt?: number): Promise<Record<string, unknown>> {
  const env = { ...process.env, START_AT: String(startAt ?? 0) };
  return new Promise((done, fail) => {
    execFile(tsx, ["--conditions=source", script, ...args], { env }, (error, stdout, stderr) => {
      if (error !== null) fail(new Error(`ca-process failed: ${stderr}`));
      else done(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("a CA directory shared between processes", () => {
  it("another process approves a pending request; this one then polls it issued", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cardwright-ca-proc-"));
    dirs.push(dir);
    const ca = await EmbeddedCa.create({
      id: "shared",
      subject: "CN=Shared Root",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
      directory: dir,
      approvalMode: "manual",
    });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Remote" });
    const pending = await ca.submit({ requestId: "remote-1", csr: csr.der, profile: pivAuthProfile });
    if (pending.status !== "pending") throw new Error("expected pending");

    const approved = await runCaProcess([dir, "approve", pending.caRequestId]);
    expect(approved.status).toBe("issued");
    const polled = await ca.poll(pending.caRequestId);
    if (polled.status !== "issued") throw new Error("expected issued after the other process approved");
    expect(Buffer.from(polled.certificate).toString("base64")).toBe(approved.certificate);
  });

  it("racing processes submitting one requestId get one caRequestId", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cardwright-ca-proc-"));
    dirs.push(dir);
    await EmbeddedCa.create({
      id: "race",
      subject: "CN=Race Root",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
      directory: dir,
    });
    const csr = Buffer.from((await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Racer" })).der).toString("base64");
    // All processes submit at the same instant, after their start-up, so they really race.
    const startAt = Date.now() + 3000;
    const results = await Promise.all([1, 2, 3, 4].map(() => runCaProcess([dir, "submit", "race-1", csr], startAt)));
    expect(new Set(results.map((r) => r.caRequestId)).size).toBe(1);
    expect(new Set(results.map((r) => r.certificate)).size).toBe(1);
    expect(results[0]?.status).toBe("issued");
  });
});
