import { spawnSync } from "node:child_process";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withDirectoryLock } from "./directory-lock.js";

const lockIn = () => join(mkdtempSync(join(tmpdir(), "cw-lock-")), "ca-state.lock");

describe("withDirectoryLock", () => {
  it("breaks at once a lock whose holder died on this host (a SIGKILLed worker)", async () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const lock = lockIn();
    writeFileSync(lock, `${hostname()} ${Number(dead.stdout)}\n`);
    await expect(withDirectoryLock(lock, async () => "took it", { timeoutMs: 300, staleMs: 60_000 })).resolves.toBe(
      "took it",
    );
  });

  it("waits for a live holder and gives up with CA_UNAVAILABLE", async () => {
    const lock = lockIn();
    writeFileSync(lock, `${hostname()} ${process.pid}\n`);
    await expect(
      withDirectoryLock(lock, async () => "took it", { timeoutMs: 200, staleMs: 60_000 }),
    ).rejects.toMatchObject({ code: "CA_UNAVAILABLE" });
  });

  it("breaks a lock from another host only once it is stale", async () => {
    const lock = lockIn();
    writeFileSync(lock, "elsewhere.example 1\n");
    await expect(withDirectoryLock(lock, async () => 1, { timeoutMs: 150, staleMs: 60_000 })).rejects.toMatchObject({
      code: "CA_UNAVAILABLE",
    });
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    await expect(withDirectoryLock(lock, async () => 2, { timeoutMs: 150, staleMs: 60_000 })).resolves.toBe(2);
  });

  it("never lets two tasks hold the lock at once", async () => {
    const lock = lockIn();
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        withDirectoryLock(lock, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 3));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
