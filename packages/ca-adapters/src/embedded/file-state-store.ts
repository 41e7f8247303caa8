/**
 * The embedded CA's state on disk, shared by every process that opens the CA directory: a
 * snapshot (`ca-state.json`, replaced atomically) plus an append-only journal of the changes
 * made since (`ca-state.journal`, one fsync'd JSON line per change). A change therefore costs
 * the records it touches, not the size of the state; when the journal outgrows the snapshot it
 * is folded into a new snapshot generation (compaction), which keeps replay and the amortised
 * cost of compaction linear.
 *
 * Writers hold the directory lock. Each process caches the state in memory and, before every
 * read or decision, checks the snapshot's identity and the journal's length, reading only the
 * journal bytes it has not seen. A compaction always installs a new snapshot file (a new inode)
 * before it truncates the journal, so a reader that saw a truncated journal also sees the new
 * snapshot and reloads; between compactions the journal only grows, apart from cutting a torn
 * line no reader has taken.
 */
import type { BigIntStats } from "node:fs";
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CardwrightError } from "@cardwright/core";
import { syncDirectory, writeFileAtomic } from "./atomic-file.js";
import { type CaState, type CaStateStore, Mutex, parseCaSnapshot, serialiseCaSnapshot } from "./ca-state.js";
import { withDirectoryLock } from "./directory-lock.js";
import { applyChanges, type CaStateChanges, CaStateDraft, type ReadonlyCaState } from "./state-draft.js";
import { encodeJournalEntry, scanJournal } from "./state-journal.js";

/** Tuning of {@link FileCaStateStore}. */
export interface FileCaStateStoreOptions {
  /** The journal file (default: the snapshot's name with `.journal` for `.json`). */
  journalPath?: string;
  /**
   * Compact once the journal holds more than this many bytes and more than the snapshot
   * (default 4 MiB); tests lower it to exercise compaction.
   */
  compactAfterBytes?: number;
}

/** Enough of a file's identity to tell that it was replaced or rewritten. */
interface FileIdentity {
  ino: bigint;
  dev: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The cached state and where on disk it was read up to. */
interface Loaded {
  state: CaState;
  /** Generation of the snapshot it was built from; 0 for a legacy (version 1) snapshot. */
  generation: number;
  legacy: boolean;
  snapshot: FileIdentity;
  snapshotBytes: number;
  /** Journal bytes of complete lines taken into `state` (valid lines, applied or skipped). */
  journalOffset: number;
  /** Journal length last seen; more than `journalOffset` means a torn line after it. */
  journalSize: number;
  /** The journal holds lines of an older generation (a compaction was cut short). */
  staleLines: boolean;
}

/** Thrown inside a refresh when the files changed while being read; the refresh starts over. */
class RacedWithWriter extends Error {}

const DEFAULT_COMPACT_AFTER_BYTES = 4 * 1024 * 1024;
const MAX_REFRESH_ATTEMPTS = 20;

function identityOf(stats: BigIntStats): FileIdentity {
  return { ino: stats.ino, dev: stats.dev, size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs };
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

/**
 * Read `length` bytes at `offset`. Without the lock, one positioned read only: a second could
 * splice in bytes a writer appended after cutting a torn line in between (what is not read now
 * is read at the next refresh). Under the lock nothing moves, so read until done.
 */
async function readFrom(handle: FileHandle, offset: number, length: number, locked: boolean): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  do {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  } while (locked && filled < length);
  return buffer.subarray(0, filled);
}

/** The state in a CA directory: snapshot plus journal, shared between processes under the directory lock. */
export class FileCaStateStore implements CaStateStore {
  readonly journalPath: string;
  readonly #compactAfterBytes: number;
  /** One update at a time in this process; the directory lock excludes other processes. */
  readonly #updates = new Mutex();
  /** One change to the cache at a time: a refresh, or an update's commit. */
  readonly #cache = new Mutex();
  #loaded: Loaded | undefined;

  constructor(
    readonly path: string,
    readonly lockPath: string,
    options: FileCaStateStoreOptions = {},
  ) {
    this.journalPath = options.journalPath ?? join(dirname(path), `${basename(path, ".json")}.journal`);
    this.#compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
  }

  /** Create the snapshot; used once, when a CA is created. */
  async initialise(state: CaState): Promise<void> {
    // A journal left behind by an earlier CA in this directory must never be replayed onto this one.
    await rm(this.journalPath, { force: true });
    await writeFileAtomic(this.path, serialiseCaSnapshot(state, 1), 0o600);
    this.#loaded = undefined;
  }

  /**
   * The current state: the cache when neither file changed, else brought up to date first.
   * Takes no lock; a decision must be made again inside {@link update}.
   * @throws CardwrightError `CA_UNAVAILABLE` when the files cannot be read, `CONFIG_INVALID`
   * when they are not a CA state this SDK knows or the journal is damaged.
   */
  async read(): Promise<ReadonlyCaState> {
    return (await this.#cache.run(() => this.#refresh(false))).state;
  }

  /**
   * Under the directory lock: catch up with other processes, run `change` on a draft, and make
   * what it changed durable (one fsync'd journal line) before returning.
   * @throws CardwrightError `CA_UNAVAILABLE` when the lock cannot be had or the change cannot be
   * written (it is then not made); whatever `change` throws (nothing is then written).
   */
  update<T>(change: (state: CaState) => Promise<T> | T): Promise<T> {
    return this.#updates.run(() =>
      withDirectoryLock(this.lockPath, async () => {
        const loaded = await this.#cache.run(() => this.#refresh(true));
        const draft = new CaStateDraft(loaded.state);
        const result = await change(draft.state);
        const changes = draft.changes();
        if (changes !== undefined) await this.#cache.run(() => this.#commitOrFail(loaded, changes));
        return result;
      }),
    );
  }

  async #commitOrFail(loaded: Loaded, changes: CaStateChanges): Promise<void> {
    try {
      await this.#commit(loaded, changes);
    } catch (cause) {
      if (cause instanceof CardwrightError) throw cause;
      throw new CardwrightError(
        "CA_UNAVAILABLE",
        `cannot write the embedded CA state ${this.path}; check the directory's permissions and free space`,
        { details: { path: this.path, journalPath: this.journalPath }, cause },
      );
    }
  }

  /** Append the change, durably, then apply it to the cache. Holds the directory lock. */
  async #commit(loaded: Loaded, changes: CaStateChanges): Promise<void> {
    // An SDK that knows only version 1 would read the snapshot and miss the journal: move the
    // directory to version 2 before the first journal line exists.
    if (loaded.legacy) await this.#compact(loaded);
    if (loaded.journalSize > loaded.journalOffset) await this.#cutTornLine(loaded);
    const line = encodeJournalEntry({ generation: loaded.generation, changes });
    try {
      await this.#append(loaded, line);
    } catch (err) {
      // The line may be partly (or wholly, if only the fsync failed) on disk and seen by other
      // processes. A new snapshot generation without it supersedes whatever is there.
      this.#loaded = undefined;
      await this.#compact(loaded).catch(() => undefined);
      throw new CardwrightError(
        "CA_UNAVAILABLE",
        `cannot write the embedded CA journal ${this.journalPath}; the change was not made (check free space and permissions)`,
        { details: { path: this.journalPath }, cause: err },
      );
    }
    applyChanges(loaded.state, changes);
    loaded.journalOffset += line.length;
    loaded.journalSize = loaded.journalOffset;
    // A read that saw the snapshot touched (a backup tool, chmod) may have reloaded meanwhile;
    // its copy lacks this change, so the next access loads afresh.
    if (this.#loaded !== loaded) this.#loaded = undefined;
    if (loaded.staleLines || loaded.journalOffset > Math.max(this.#compactAfterBytes, loaded.snapshotBytes)) {
      try {
        await this.#compact(loaded);
      } catch {
        // The change is durable in the journal; compaction only bounds replay. Drop the cache so
        // it is rebuilt from disk, and let the next change try compacting again.
        this.#loaded = undefined;
      }
    }
  }

  async #append(loaded: Loaded, line: Buffer): Promise<void> {
    const mayCreate = loaded.journalSize === 0;
    const handle = await open(this.journalPath, "a", 0o600);
    try {
      await handle.writeFile(line);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    // A journal created just now exists durably only once its directory entry is flushed.
    if (mayCreate) await syncDirectory(dirname(this.journalPath));
  }

  /** Cut a torn last line (a crash in the middle of an append) before appending after it. */
  async #cutTornLine(loaded: Loaded): Promise<void> {
    const handle = await open(this.journalPath, "r+");
    try {
      await handle.truncate(loaded.journalOffset);
      await handle.sync();
    } finally {
      await handle.close();
    }
    loaded.journalSize = loaded.journalOffset;
  }

  /**
   * Fold the cached state into a new snapshot generation, then empty the journal. A crash
   * between the two leaves lines of the old generation, which replay skips.
   */
  async #compact(loaded: Loaded): Promise<void> {
    const generation = loaded.generation + 1;
    const text = serialiseCaSnapshot(loaded.state, generation);
    await writeFileAtomic(this.path, text, 0o600);
    loaded.generation = generation;
    loaded.legacy = false;
    loaded.snapshot = identityOf(await stat(this.path, { bigint: true }));
    loaded.snapshotBytes = Buffer.byteLength(text);
    loaded.staleLines = loaded.journalSize > 0;
    if (loaded.journalSize === 0) return;
    const handle = await open(this.journalPath, "r+");
    try {
      await handle.truncate(0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    loaded.journalOffset = 0;
    loaded.journalSize = 0;
    loaded.staleLines = false;
  }

  /**
   * Bring the cache up to date with the files: nothing to read when neither changed, the new
   * journal lines when only the journal grew, a full load otherwise. `locked` when the caller
   * holds the directory lock, so nothing can change underneath and any inconsistency is damage.
   */
  async #refresh(locked: boolean): Promise<Loaded> {
    for (let attempt = 1; ; attempt++) {
      try {
        const current = this.#loaded;
        const snapshot = await this.#statSnapshot();
        if (current !== undefined && sameFile(current.snapshot, identityOf(snapshot))) {
          if (await this.#readJournalTail(current, locked)) return current;
        }
        this.#loaded = await this.#load(locked);
        return this.#loaded;
      } catch (err) {
        if (err instanceof CardwrightError) throw err;
        if (!(err instanceof RacedWithWriter)) throw this.#unreadable(err);
        // Start again from the files; under the lock a full load that still disagrees is damage.
        this.#loaded = undefined;
        if ((locked && attempt >= 2) || attempt >= MAX_REFRESH_ATTEMPTS) {
          throw new CardwrightError(
            "CONFIG_INVALID",
            `embedded CA state ${this.path} and its journal ${this.journalPath} disagree (${err.message}); restore the CA directory from a backup`,
            { details: { path: this.path, journalPath: this.journalPath } },
          );
        }
      }
    }
  }

  async #statSnapshot(): Promise<BigIntStats> {
    try {
      return await stat(this.path, { bigint: true });
    } catch (cause) {
      throw this.#unreadable(cause);
    }
  }

  #unreadable(cause: unknown): CardwrightError {
    return new CardwrightError("CA_UNAVAILABLE", `cannot read the embedded CA state ${this.path}`, {
      details: { path: this.path },
      cause,
    });
  }

  /** Journal bytes from `offset` to its end, with its length; empty when there is no journal. */
  async #readJournal(offset: number, locked: boolean): Promise<{ bytes: Buffer; size: number }> {
    let handle: FileHandle;
    try {
      handle = await open(this.journalPath, "r");
    } catch (err) {
      if (!isMissing(err)) throw this.#unreadable(err);
      if (offset > 0) throw new RacedWithWriter("the journal disappeared after it was read");
      return { bytes: Buffer.alloc(0), size: 0 };
    }
    try {
      const size = (await handle.stat()).size;
      if (size < offset) throw new RacedWithWriter("the journal is shorter than what was read of it");
      return { bytes: await readFrom(handle, offset, size - offset, locked), size };
    } finally {
      await handle.close();
    }
  }

  /**
   * Apply the journal lines after `current.journalOffset`. False when they do not continue the
   * cached state (the snapshot was replaced meanwhile), so a full load is needed.
   */
  async #readJournalTail(current: Loaded, locked: boolean): Promise<boolean> {
    const { bytes, size } = await this.#readJournal(current.journalOffset, locked);
    current.journalSize = Math.max(size, current.journalOffset);
    if (bytes.length === 0) return true;
    // Bytes read after a compaction replaced the snapshot belong to the new generation: only if
    // the snapshot is still the cached one do they continue the cached state.
    if (!locked && !sameFile(current.snapshot, identityOf(await this.#statSnapshot()))) return false;
    const scan = scanJournal(bytes, this.journalPath, current.journalOffset);
    if (scan.entries.some((entry) => entry.generation !== current.generation)) {
      if (locked) throw new RacedWithWriter("journal lines after the cached ones are of another generation");
      return false;
    }
    for (const entry of scan.entries) applyChanges(current.state, entry.changes);
    current.journalOffset += scan.consumed;
    current.journalSize = size;
    return true;
  }

  /** Read the snapshot and the whole journal. */
  async #load(locked: boolean): Promise<Loaded> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, "r");
    } catch (cause) {
      throw this.#unreadable(cause);
    }
    let text: string;
    let snapshot: FileIdentity;
    try {
      snapshot = identityOf(await handle.stat({ bigint: true }));
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
    const parsed = parseCaSnapshot(text, this.path);
    const { bytes, size } = await this.#readJournal(0, locked);
    if (!locked && !sameFile(snapshot, identityOf(await this.#statSnapshot()))) {
      throw new RacedWithWriter("the snapshot was replaced while it was read");
    }
    const scan = scanJournal(bytes, this.journalPath);
    let staleLines = false;
    for (const entry of scan.entries) {
      if (entry.generation < parsed.generation) {
        staleLines = true;
      } else if (entry.generation === parsed.generation && !parsed.legacy) {
        applyChanges(parsed.state, entry.changes);
      } else {
        throw new RacedWithWriter(
          `a journal line of generation ${entry.generation} follows a snapshot of generation ${parsed.generation}`,
        );
      }
    }
    return {
      state: parsed.state,
      generation: parsed.generation,
      legacy: parsed.legacy,
      snapshot,
      snapshotBytes: Buffer.byteLength(text),
      journalOffset: scan.consumed,
      journalSize: size,
      staleLines,
    };
  }
}
