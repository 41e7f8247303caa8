import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCardwrightError } from "@cardwright/core";
import { afterEach, describe, expect, it } from "vitest";
import { emptyCaState } from "../../test/support/ca-state.js";
import {
  CA_STATE_FORMAT,
  type CaState,
  type CertificateRecord,
  LEGACY_CA_STATE_FORMAT,
  serialiseCaSnapshot,
} from "./ca-state.js";
import { FileCaStateStore, type FileCaStateStoreOptions } from "./file-state-store.js";
import { scanJournal } from "./state-journal.js";

const initial = emptyCaState;

const certificate = (serialHex: string): CertificateRecord => ({
  serialHex,
  subject: `CN=Holder ${serialHex}`,
  der: Buffer.alloc(64, Number.parseInt(serialHex, 16) & 0xff).toString("base64"),
  notAfter: "2030-01-01T00:00:00.000Z",
});

const serial = (i: number) => i.toString(16).padStart(4, "0");

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function caDir(): Promise<{
  dir: string;
  snapshot: string;
  journal: string;
  store: (options?: FileCaStateStoreOptions) => FileCaStateStore;
}> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-journal-"));
  dirs.push(dir);
  const snapshot = join(dir, "ca-state.json");
  const journal = join(dir, "ca-state.journal");
  return { dir, snapshot, journal, store: (options) => new FileCaStateStore(snapshot, join(dir, "lock"), options) };
}

async function issue(store: FileCaStateStore, i: number): Promise<void> {
  await store.update((state) => {
    state.certificates[serial(i)] = certificate(serial(i));
    state.crlNumber += 1;
  });
}

async function snapshotDocument(path: string): Promise<{ format: string; generation: number; crlNumber: number }> {
  return JSON.parse(await readFile(path, "utf8")) as { format: string; generation: number; crlNumber: number };
}

describe("FileCaStateStore: snapshot and journal", () => {
  it("journals a change as one line and leaves the snapshot alone; a fresh store replays it", async () => {
    const { snapshot, journal, store } = await caDir();
    const writer = store();
    await writer.initialise(initial());
    const before = await readFile(snapshot, "utf8");
    await issue(writer, 1);
    await issue(writer, 2);
    expect(await readFile(snapshot, "utf8")).toBe(before);
    const scan = scanJournal(await readFile(journal), journal);
    expect(scan.entries).toHaveLength(2);
    expect(scan.torn).toBe(0);
    for (const file of [snapshot, journal]) expect((await stat(file)).mode & 0o777).toBe(0o600);
    const state = await store().read();
    expect(Object.keys(state.certificates).sort()).toEqual([serial(1), serial(2)]);
    expect(state.crlNumber).toBe(2);
  });

  it.each([
    ["a partly written line", '{"generation":1,"changes":{"certificates":{"00ff":{"serialHex":"00'],
    // A whole entry without its newline is torn too: the newline is what commits a line.
    ["a whole entry without its newline", '{"generation":1,"changes":{"settings":{"crlNumber":99}}}'],
    ["garbage ending in a newline (a crash that left a block of zeros)", "\u0000\u0000\u0000\n"],
  ])("ignores a torn last line (%s) and the next writer cuts it off", async (_case, torn) => {
    const { journal, store } = await caDir();
    const writer = store();
    await writer.initialise(initial());
    await issue(writer, 1);
    await appendFile(journal, torn);
    const reader = store();
    const seen = await reader.read();
    expect(Object.keys(seen.certificates)).toEqual([serial(1)]);
    expect(seen.crlNumber).toBe(1);
    // Had the torn bytes stayed, this line after them would make the journal damaged.
    await issue(reader, 2);
    const scan = scanJournal(await readFile(journal), journal);
    expect(scan.torn).toBe(0);
    expect(scan.entries).toHaveLength(2);
    for (const other of [writer, store()]) {
      const state = await other.read();
      expect(Object.keys(state.certificates).sort()).toEqual([serial(1), serial(2)]);
      expect(state.crlNumber).toBe(2);
    }
  });

  it("refuses a journal with an unreadable line followed by valid ones (damage, not a crash)", async () => {
    const { journal, store } = await caDir();
    const writer = store();
    await writer.initialise(initial());
    await issue(writer, 1);
    const good = await readFile(journal, "utf8");
    await writeFile(journal, `${good}{"generation":1,"chan\n${good}`);
    const error = await store()
      .read()
      .catch((err: unknown) => err);
    expect(isCardwrightError(error, "CONFIG_INVALID")).toBe(true);
  });

  it("compacts once the journal outgrows the snapshot; changes before and after survive a reopen", async () => {
    const { snapshot, journal, store } = await caDir();
    const writer = store({ compactAfterBytes: 1 });
    const watcher = store();
    await writer.initialise(initial());
    expect((await watcher.read()).crlNumber).toBe(0);
    for (let i = 1; i <= 30; i++) await issue(writer, i);
    const document = await snapshotDocument(snapshot);
    expect(document.format).toBe(CA_STATE_FORMAT);
    expect(document.generation).toBeGreaterThan(2);
    expect((await stat(journal)).size).toBeLessThan((await stat(snapshot)).size);
    // A store whose cache predates every compaction catches up, as does a fresh one.
    for (const reader of [watcher, store()]) {
      const state = await reader.read();
      expect(Object.keys(state.certificates)).toHaveLength(30);
      expect(state.crlNumber).toBe(30);
    }
    await issue(watcher, 31);
    const reopened = await store().read();
    expect(Object.keys(reopened.certificates)).toHaveLength(31);
    expect(reopened.crlNumber).toBe(31);
  });

  it("skips journal lines a cut-short compaction already folded into the snapshot", async () => {
    const { snapshot, journal, store } = await caDir();
    const writer = store();
    await writer.initialise(initial());
    await issue(writer, 1);
    await issue(writer, 2);
    // The snapshot of generation 2 was written, the crash came before the journal was emptied.
    // Its crlNumber differs from what the stale lines say, so replaying them would show.
    const folded = { ...(await store().read()), crlNumber: 7 };
    await writeFile(snapshot, serialiseCaSnapshot(folded, 2));
    expect((await stat(journal)).size).toBeGreaterThan(0);
    const reader = store();
    expect((await reader.read()).crlNumber).toBe(7);
    await issue(reader, 3);
    const reopened = await store().read();
    expect(reopened.crlNumber).toBe(8);
    expect(Object.keys(reopened.certificates).sort()).toEqual([serial(1), serial(2), serial(3)]);
    // The writer that met stale lines compacted them away.
    expect((await snapshotDocument(snapshot)).generation).toBe(3);
    expect((await stat(journal)).size).toBe(0);
  });

  it("two stores on one directory lose no update and each sees the other's changes, across compactions", async () => {
    const { store } = await caDir();
    const a = store({ compactAfterBytes: 1 });
    const b = store();
    await a.initialise(initial());
    const bump = (state: CaState) => {
      state.crlNumber += 1;
      state.certificates[serial(state.crlNumber)] = certificate(serial(state.crlNumber));
    };
    // Strictly alternating: every update must start from the other store's last change.
    for (let i = 0; i < 20; i++) await (i % 2 === 0 ? a : b).update(bump);
    // Racing (the directory lock decides the order).
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).update(async (state) => {
          const seen = state.crlNumber;
          await new Promise((resolve) => setTimeout(resolve, 1));
          state.crlNumber = seen + 1;
          state.certificates[serial(seen + 1)] = certificate(serial(seen + 1));
        }),
      ),
    );
    for (const reader of [a, b, store()]) {
      const state = await reader.read();
      expect(state.crlNumber).toBe(40);
      expect(Object.keys(state.certificates)).toHaveLength(40);
    }
    await issue(b, 100);
    expect((await a.read()).certificates[serial(100)]).toEqual(certificate(serial(100)));
  });

  it("a throwing change leaves the cache and the files untouched", async () => {
    const { snapshot, journal, store } = await caDir();
    const writer = store();
    await writer.initialise(initial());
    await issue(writer, 1);
    const files = [await readFile(snapshot, "utf8"), await readFile(journal, "utf8")];
    await expect(
      writer.update((state) => {
        const record = state.certificates[serial(1)] as CertificateRecord;
        record.revocation = { reason: "keyCompromise", revokedAt: "2026-01-01T00:00:00.000Z" };
        state.certificates[serial(2)] = certificate(serial(2));
        state.crlNumber = 50;
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const state = await writer.read();
    expect(state.certificates[serial(1)]?.revocation).toBeUndefined();
    expect(state.certificates[serial(2)]).toBeUndefined();
    expect(state.crlNumber).toBe(1);
    expect([await readFile(snapshot, "utf8"), await readFile(journal, "utf8")]).toEqual(files);
  });

  it("a journal that cannot be written fails the change with CA_UNAVAILABLE and leaves it unmade", async () => {
    const { journal, store } = await caDir();
    const writer = store();
    await writer.initialise({ ...initial(), certificates: { [serial(1)]: certificate(serial(1)) } });
    await mkdir(journal); // appending to it now fails (EISDIR), even for root
    const error = await issue(writer, 2).catch((err: unknown) => err);
    expect(isCardwrightError(error, "CA_UNAVAILABLE")).toBe(true);
    await rm(journal, { recursive: true });
    for (const reader of [writer, store()]) {
      expect(Object.keys((await reader.read()).certificates)).toEqual([serial(1)]);
    }
    await issue(writer, 3);
    expect(Object.keys((await store().read()).certificates).sort()).toEqual([serial(1), serial(3)]);
  });

  it("hands out the shared state frozen, so a reader cannot change it by mistake", async () => {
    const { store } = await caDir();
    const writer = store();
    await writer.initialise(initial());
    await issue(writer, 1);
    const state = (await writer.read()) as CaState;
    expect(() => {
      (state.certificates[serial(1)] as CertificateRecord).subject = "CN=Mallory";
    }).toThrow(TypeError);
  });

  it("reads a legacy single-file state and moves it to the journaled format on the first change", async () => {
    const { snapshot, journal, store } = await caDir();
    const legacy = { ...initial(), format: LEGACY_CA_STATE_FORMAT, crlNumber: 4 };
    legacy.certificates[serial(1)] = certificate(serial(1));
    await writeFile(snapshot, `${JSON.stringify(legacy, null, 2)}\n`, { mode: 0o600 });
    const reader = store();
    expect((await reader.read()).crlNumber).toBe(4);
    expect((await snapshotDocument(snapshot)).format).toBe(LEGACY_CA_STATE_FORMAT);
    await issue(reader, 2);
    // An SDK that reads only version 1 refuses the directory from now on instead of missing the journal.
    const document = await snapshotDocument(snapshot);
    expect(document.format).toBe(CA_STATE_FORMAT);
    expect(document.generation).toBe(1);
    expect(scanJournal(await readFile(journal), journal).entries).toHaveLength(1);
    const reopened = await store().read();
    expect(reopened.crlNumber).toBe(5);
    expect(Object.keys(reopened.certificates).sort()).toEqual([serial(1), serial(2)]);
  });

  it("refuses snapshots of an unknown format, or a version 2 one without its generation", async () => {
    const { snapshot, store } = await caDir();
    for (const document of [
      { ...initial(), format: "cardwright.embedded-ca/3", generation: 1 },
      { ...initial(), format: CA_STATE_FORMAT },
      { format: "something-else/9" },
    ]) {
      await writeFile(snapshot, JSON.stringify(document));
      const error = await store()
        .read()
        .catch((err: unknown) => err);
      expect(isCardwrightError(error, "CONFIG_INVALID")).toBe(true);
    }
  });
});
