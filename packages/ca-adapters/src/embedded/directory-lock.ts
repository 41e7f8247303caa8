/**
 * A lock file serialising read-modify-write of a CA directory between processes (a workflow
 * resuming in one process while an operator approves in another). Creation with `O_EXCL`
 * (`"wx"`) is the atomic test-and-set; a lock older than `staleMs` is taken to be left by a
 * crashed process and broken.
 */

import { open, rm, stat } from "node:fs/promises";
import { CardwrightError } from "@cardwright/core";

/** Timing of {@link withDirectoryLock}. */
export interface DirectoryLockOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Break a lock file older than this (default 30 s). */
  staleMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const age = await stat(lockPath).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > staleMs) {
      await rm(lockPath, { force: true });
      continue;
    }
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
