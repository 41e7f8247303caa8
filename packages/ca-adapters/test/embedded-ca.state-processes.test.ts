/**
 * The embedded CA's journaled state store shared by real OS processes: concurrent writers with
 * frequent compactions lose nothing and never see the state go backwards, and a writer killed
 * mid-run loses at most its change in flight.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CaFile } from "../src/embedded/ca-directory.js";
import { FileCaStateStore } from "../src/embedded/file-state-store.js";
import { scanJournal } from "../src/embedded/state-journal.js";
import { emptyCaState } from "./support/ca-state.js";

const script = resolve(import.meta.dirname, "support/state-store-process.ts");
const repoRoot = resolve(import.meta.dirname, "../../..");

interface Run {
  child: ChildProcess;
  /** Tags the process reported committed so far. */
  committed: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function start(directory: string, tag: string, count: number, compactAfterBytes: number): Run {
  // Node itself, not the tsx wrapper: a SIGKILL must reach the process that writes.
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", script, directory, tag, String(count), String(compactAfterBytes)],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  const committed: string[] = [];
  let pending = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    const lines = (pending + chunk.toString("utf8")).split("\n");
    pending = lines.pop() ?? "";
    committed.push(...lines);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) => {
    child.on("close", (code, signal) => done({ code, signal, stderr }));
  });
  return { child, committed, exit };
}

const initial = emptyCaState;

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function stateDirectory(): Promise<{ directory: string; store: () => FileCaStateStore }> {
  const directory = await mkdtemp(join(tmpdir(), "cardwright-state-proc-"));
  dirs.push(directory);
  const store = () => new FileCaStateStore(join(directory, CaFile.state), join(directory, CaFile.lock));
  await store().initialise(initial());
  return { directory, store };
}

describe("journaled CA state shared by OS processes", () => {
  it("three writers compacting often lose no change, and none ever reads the state going backwards", async () => {
    const { directory, store } = await stateDirectory();
    const runs = ["a", "b", "c"].map((tag) => start(directory, tag, 40, 4096));
    children.push(...runs.map((run) => run.child));
    for (const run of runs) {
      const { code, stderr } = await run.exit;
      expect(stderr).toBe("");
      expect(code).toBe(0);
    }
    const state = await store().read();
    expect(state.crlNumber).toBe(120);
    expect(Object.keys(state.certificates)).toHaveLength(120);
    const snapshot = JSON.parse(await readFile(join(directory, CaFile.state), "utf8")) as { generation: number };
    expect(snapshot.generation).toBeGreaterThan(1);
  }, 60_000);

  it("a writer killed mid-run loses at most its change in flight; the next writer carries on", async () => {
    const { directory, store } = await stateDirectory();
    const run = start(directory, "k", 5000, 16384);
    children.push(run.child);
    // Kill it once it is well into its run (it reports each committed change).
    await new Promise<void>((done) => {
      const poll = setInterval(() => {
        if (run.committed.length >= 40) {
          clearInterval(poll);
          done();
        }
      }, 5);
    });
    run.child.kill("SIGKILL");
    const { signal } = await run.exit;
    expect(signal).toBe("SIGKILL");
    const reported = [...run.committed];

    const next = store();
    const state = await next.read();
    for (const tag of reported) expect(state.certificates[tag]).toBeDefined();
    const survived = state.crlNumber;
    expect(reported.length).toBeLessThan(5000);
    // Besides what it reported, at most the one change it had committed but not yet reported.
    expect(survived - reported.length).toBeGreaterThanOrEqual(0);
    expect(survived - reported.length).toBeLessThanOrEqual(1);
    expect(Object.keys(state.certificates)).toHaveLength(survived);
    // The dead writer's lock, if it held it, is broken at once; the journal is well formed.
    await next.update((draft) => {
      draft.crlNumber += 1;
    });
    const reopened = await store().read();
    expect(reopened.crlNumber).toBe(survived + 1);
    const journal = join(directory, CaFile.journal);
    expect(scanJournal(await readFile(journal), journal).torn).toBe(0);
  }, 60_000);
});
