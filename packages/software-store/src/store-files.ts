/**
 * The store directory on disk: one `<slot>.p12` file per slot, written atomically (a temporary
 * file in the same directory, fsynced, then renamed over the old one), so a crash leaves either
 * the old file or the new one. Only ciphertext ever reaches these files.
 */
import { randomBytes } from "node:crypto";
import { open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { unavailable } from "./store-errors.js";

/** Suffix of slot files. */
export const SLOT_FILE_SUFFIX = ".p12";

/** Slot names a file may have: letters, digits, `.`, `_`, `-`, not starting with a dot. */
const SLOT_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

/** True when `slot` can name a file of the store. */
export function isSlotName(slot: string): boolean {
  return SLOT_NAME.test(slot);
}

/** Path of the file of `slot`. */
export function slotPath(directory: string, slot: string): string {
  return join(directory, `${slot}${SLOT_FILE_SUFFIX}`);
}

function ioError(directory: string, action: string, err: unknown) {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    return unavailable(directory, "missing", `the store directory is gone while ${action}; restore it`, err);
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return unavailable(
      directory,
      "not-writable",
      `cannot write while ${action} (${code}); check the directory's permissions`,
      err,
    );
  }
  return unavailable(directory, "io", `file system error while ${action} (${code ?? "error"})`, err);
}

/**
 * Replace the file of `slot` with `bytes` (mode 0600).
 * @throws CardwrightError `SOFTSTORE_UNAVAILABLE` (reason `missing`, `not-writable`, `io`).
 */
export async function writeSlotFile(directory: string, slot: string, bytes: Uint8Array): Promise<void> {
  const target = slotPath(directory, slot);
  const temp = join(directory, `.${slot}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw ioError(directory, `writing slot ${slot}`, err);
  }
}

/**
 * The bytes of the file of `slot`, or `null` when the slot has no file.
 * @throws CardwrightError `SOFTSTORE_UNAVAILABLE` when the file exists but cannot be read.
 */
export async function readSlotFile(directory: string, slot: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await readFile(slotPath(directory, slot)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw ioError(directory, `reading slot ${slot}`, err);
  }
}

/**
 * Remove the file of `slot` (nothing when it has none).
 * @throws CardwrightError `SOFTSTORE_UNAVAILABLE`.
 */
export async function removeSlotFile(directory: string, slot: string): Promise<void> {
  try {
    await rm(slotPath(directory, slot), { force: true });
  } catch (err) {
    throw ioError(directory, `removing slot ${slot}`, err);
  }
}

/**
 * The slots that have a file, sorted; files whose names are not slot names are ignored.
 * @throws CardwrightError `SOFTSTORE_UNAVAILABLE`.
 */
export async function listSlotFiles(directory: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (err) {
    throw ioError(directory, "listing slots", err);
  }
  return names
    .filter((n) => n.endsWith(SLOT_FILE_SUFFIX))
    .map((n) => n.slice(0, -SLOT_FILE_SUFFIX.length))
    .filter(isSlotName)
    .sort();
}
