/**
 * Crash-safe file replacement: write a temporary file beside the target, flush it to disk,
 * then rename over the target (rename is atomic within a POSIX file system), so a reader sees
 * the old or the new content, never half of either; then flush the directory so the rename
 * itself survives a crash.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Atomically replace `path` with `data`, created with `mode` (e.g. `0o600` for keys). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(data);
    // The umask may have cleared bits but never adds any; chmod makes the mode exact.
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temporary, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  // The rename itself is durable only once the directory is flushed; callers rely on that
  // (a compaction truncates the journal only after its snapshot survives a crash).
  await syncDirectory(dirname(path));
}

/** Flush a directory's entries (created, renamed files) to disk (POSIX fsync on the directory). */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
