/**
 * A lock file serialising read-modify-write of a CA directory between processes (a workflow
 * resuming in one process while an operator approves in another). Creation with `O_EXCL`
 * (`"wx"`) is the atomic test-and-set. The file names its holder (host and pid), so a lock left
 * by a process that died on this host is broken at once; a lock from another host, or one whose
 * holder cannot be told, is broken once older than `staleMs`.
 */

import { randomUUID } from "node:crypto";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { CardwrightError } from "@cardwright/core";

/** Timing of {@link withDirectoryLock}. */
export interface DirectoryLockOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Break a lock file older than this whose holder cannot be checked (default 30 s). */
  staleMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a process with this pid exists on this host (signal 0 only checks). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function holderGone(content: string): boolean {
  const match = /^(\S+) (\d+)\n$/.exec(content);
  return match !== null && match[1] === hostname() && !processAlive(Number(match[2]));
}

/**
 * Break the lock at `lockPath` if its holder is gone or it is stale. Returns true when the caller
 * should try to take the lock again at once.
 */
async function breakAbandoned(lockPath: string, staleMs: number): Promise<boolean> {
  let content: string;
  let age: number;
  try {
    content = await readFile(lockPath, "utf8");
    age = Date.now() - (await stat(lockPath)).mtimeMs;
  } catch {
    return true; // released meanwhile
  }
  if (!holderGone(content) && age <= staleMs) return false;
  // Move it aside rather than delete it: of two processes breaking the same lock, one rename
  // fails, so they cannot both remove a lock that a third process just took.
  const aside = `${lockPath}.${randomUUID()}.broken`;
  try {
    await rename(lockPath, aside);
  } catch {
    return true;
  }
  const moved = await readFile(aside, "utf8").catch(() => "");
  if (moved !== content) {
    // A live holder re-took the lock between our read and the rename: give it back.
    await rename(aside, lockPath).catch(() => undefined);
    return false;
  }
  await rm(aside, { force: true });
  return true;
}

/**
 * Run `task` holding the lock file at `lockPath`.
 * @throws CardwrightError `CA_UNAVAILABLE` when the lock cannot be had within the timeout.
 */
export async function withDirectoryLock<T>(
  lockPath: string,
  task: () => Promise<T>,
  options: DirectoryLockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      const handle = await open(lockPath, "wx", 0o600);
      await handle.writeFile(`${hostname()} ${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (await breakAbandoned(lockPath, staleMs)) continue;
    if (Date.now() > deadline) {
      throw new CardwrightError(
        "CA_UNAVAILABLE",
        `the embedded CA directory is locked by another process (${lockPath}); retry, or remove the lock file if no process uses it`,
        { details: { lockPath } },
      );
    }
    await sleep(delay);
  }
  try {
    return await task();
  } finally {
    await rm(lockPath, { force: true });
  }
}
