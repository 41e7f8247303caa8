import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCardwrightError } from "@cardwright/core";
import { afterEach, describe, expect, it } from "vitest";
import { emptyCaState } from "../../test/support/ca-state.js";
import { MemoryCaStateStore } from "./ca-state.js";
import { withDirectoryLock } from "./directory-lock.js";

const initial = emptyCaState;

const dirs: string[] = [];
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-state-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("MemoryCaStateStore", () => {
  it("a throwing change leaves the state untouched", async () => {
    const store = new MemoryCaStateStore(initial());
    await expect(
      store.update((state) => {
        state.crlNumber = 99;
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect((await store.read()).crlNumber).toBe(0);
    await store.update((state) => {
      state.crlNumber = 1;
    });
    expect((await store.read()).crlNumber).toBe(1);
  });
});

describe("directory lock", () => {
  it("times out with CA_UNAVAILABLE while another holder keeps it", async () => {
    const lock = join(await scratch(), "lock");
    await writeFile(lock, "12345\n");
    const error = await withDirectoryLock(lock, async () => 1, { timeoutMs: 50 }).catch((err: unknown) => err);
    expect(isCardwrightError(error, "CA_UNAVAILABLE")).toBe(true);
  });

  it("breaks a stale lock and releases its own", async () => {
    const lock = join(await scratch(), "lock");
    await writeFile(lock, "12345\n");
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await withDirectoryLock(lock, async () => 7, { timeoutMs: 1000, staleMs: 10 })).toBe(7);
    await expect(stat(lock)).rejects.toThrow();
  });
});
