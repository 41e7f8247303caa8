/**
 * The embedded CA's journaled state on disk through the CA itself: two instances over one
 * directory (as two processes would be) interleaving submits, a torn journal line left by a
 * crash, and a directory written by an SDK that kept the whole state in one file.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CaResult, Random } from "@cardwright/core";
import { afterEach, describe, expect, it } from "vitest";
import { LEGACY_CA_STATE_FORMAT } from "../src/embedded/ca-state.js";
import { FileCaStateStore } from "../src/embedded/file-state-store.js";
import { scanJournal } from "../src/embedded/state-journal.js";
import { CaFile, EmbeddedCa } from "../src/index.js";
import { makeCsr } from "./support/csr.js";
import { pivAuthProfile, serialHexOf } from "./support/x509.js";

const dirs: string[] = [];
async function caDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-ca-journal-"));
  dirs.push(dir);
  return join(dir, "ca");
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

function createCa(directory: string): Promise<EmbeddedCa> {
  return EmbeddedCa.create({
    id: "journal",
    subject: "CN=Journal Root",
    keyAlgorithm: "ECCP256",
    validityDays: 365,
    directory,
  });
}

function requestIdOf(result: CaResult): string {
  if (result.caRequestId === undefined) throw new Error(`expected a caRequestId, got ${JSON.stringify(result)}`);
  return result.caRequestId;
}

function certificateOf(result: CaResult): Uint8Array {
  if (result.status !== "issued") throw new Error(`expected issued, got ${result.status}`);
  return result.certificate;
}

describe("embedded CA state journal", () => {
  it("two instances over one directory see each other's requests, answer a requestId once and never reuse a serial", async () => {
    const directory = await caDirectory();
    const a = await createCa(directory);
    const b = await EmbeddedCa.open({ directory });
    const csr = (await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Shared" })).der;
    const submit = (ca: EmbeddedCa, requestId: string) => ca.submit({ requestId, csr, profile: pivAuthProfile });

    // Interleaved: each request goes to one instance, then its retry to the other.
    for (let i = 0; i < 8; i++) {
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
      const issued = await submit(first, `seq-${i}`);
      expect(await submit(second, `seq-${i}`)).toEqual(issued);
    }
    // Racing: both instances submit the same new requestIds at once.
    const raced = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => Promise.all([submit(a, `race-${i}`), submit(b, `race-${i}`)])),
    );
    for (const [fromA, fromB] of raced) expect(fromA).toEqual(fromB);

    const issued = await (await EmbeddedCa.open({ directory })).listIssued();
    expect(issued).toHaveLength(14);
    expect(new Set(issued.map((status) => status.serialHex)).size).toBe(14);
    const fromResults = [...raced.map(([result]) => result as CaResult)].map((r) => serialHexOf(certificateOf(r)));
    for (const serialHex of fromResults) expect(issued.some((status) => status.serialHex === serialHex)).toBe(true);
  });

  it("an instance whose serial draws repeat another instance's sees the serial taken and draws again", async () => {
    const directory = await caDirectory();
    // Both instances draw the same serial sequence, so the second one's first pick is taken.
    const sameSequence = (): Random => {
      let counter = 0;
      return {
        bytes: (length) => Uint8Array.from({ length }, () => 0x11 + (counter++ % 7)),
        uuid: () => globalThis.crypto.randomUUID(),
      };
    };
    await createCa(directory);
    const a = await EmbeddedCa.open({ directory, random: sameSequence() });
    const b = await EmbeddedCa.open({ directory, random: sameSequence() });
    const csr = (await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Collide" })).der;
    const fromA = serialHexOf(certificateOf(await a.submit({ requestId: "c-1", csr, profile: pivAuthProfile })));
    const fromB = serialHexOf(certificateOf(await b.submit({ requestId: "c-2", csr, profile: pivAuthProfile })));
    expect(fromB).not.toBe(fromA);
    const issued = await (await EmbeddedCa.open({ directory })).listIssued();
    expect(issued.map((status) => status.serialHex).sort()).toEqual([fromA, fromB].sort());
  });

  it("a revocation through one instance is on the CRL the other signs next", async () => {
    const directory = await caDirectory();
    const a = await createCa(directory);
    const b = await EmbeddedCa.open({ directory });
    const csr = (await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Revoked" })).der;
    const serialHex = serialHexOf(certificateOf(await a.submit({ requestId: "r-1", csr, profile: pivAuthProfile })));
    await b.revoke(serialHex, "keyCompromise");
    expect((await a.certificateStatus(serialHex)).revocation?.reason).toBe("keyCompromise");
    await a.crl();
    await b.crl();
    // Each CRL took the next number: the counter is shared, not cached per instance.
    const state = await new FileCaStateStore(join(directory, CaFile.state), join(directory, CaFile.lock)).read();
    expect(state.crlNumber).toBe(2);
  });

  it("a torn journal line left by a crash is ignored, then cut off by the next change", async () => {
    const directory = await caDirectory();
    const a = await createCa(directory);
    const csr = (await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Torn" })).der;
    const first = await a.submit({ requestId: "t-1", csr, profile: pivAuthProfile });
    const journal = join(directory, CaFile.journal);
    await appendFile(journal, '{"generation":1,"changes":{"requests":{"x":{"caRequestId":"x","requ');

    const b = await EmbeddedCa.open({ directory });
    expect(await b.poll(requestIdOf(first))).toEqual(first);
    const second = await b.submit({ requestId: "t-2", csr, profile: pivAuthProfile });
    expect(second.status).toBe("issued");
    expect(await a.poll(requestIdOf(second))).toEqual(second);
    const scan = scanJournal(await readFile(journal), journal);
    expect(scan.torn).toBe(0);
    expect(scan.entries).toHaveLength(2);
    expect(await (await EmbeddedCa.open({ directory })).listIssued()).toHaveLength(2);
  });

  it("opens a directory an earlier SDK wrote as a single state file, keeps its requests and moves it forward", async () => {
    const directory = await caDirectory();
    const original = await createCa(directory);
    const csr = (await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Legacy" })).der;
    const before = await original.submit({ requestId: "old-1", csr, profile: pivAuthProfile });
    // Rewrite the directory as the single-file SDK left it: the whole state in ca-state.json
    // under format 1, no journal.
    const statePath = join(directory, CaFile.state);
    const state = await new FileCaStateStore(statePath, join(directory, CaFile.lock)).read();
    await writeFile(statePath, `${JSON.stringify({ ...state, format: LEGACY_CA_STATE_FORMAT }, null, 2)}\n`, {
      mode: 0o600,
    });
    await rm(join(directory, CaFile.journal));

    const reopened = await EmbeddedCa.open({ directory });
    expect(await reopened.submit({ requestId: "old-1", csr, profile: pivAuthProfile })).toEqual(before);
    expect((JSON.parse(await readFile(statePath, "utf8")) as { format: string }).format).toBe(LEGACY_CA_STATE_FORMAT);
    const after = await reopened.submit({ requestId: "new-1", csr, profile: pivAuthProfile });
    await reopened.revoke(serialHexOf(certificateOf(before)), "superseded");
    const document = JSON.parse(await readFile(statePath, "utf8")) as { format: string; generation: number };
    expect(document.format).toBe("cardwright.embedded-ca/2");

    const later = await EmbeddedCa.open({ directory });
    expect(await later.poll(requestIdOf(after))).toEqual(after);
    const issued = await later.listIssued();
    expect(issued).toHaveLength(2);
    expect(issued.find((s) => s.serialHex === serialHexOf(certificateOf(before)))?.revocation?.reason).toBe(
      "superseded",
    );
  });
});
