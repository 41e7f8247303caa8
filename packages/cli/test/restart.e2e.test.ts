/**
 * A pending issue survives a process restart: process 1 starts the issue and exits while the CA
 * holds the requests; the CA operator approves; process 2, with nothing but the same store, CA
 * directory and vault key, continues and finishes it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { describe, expect, it } from "vitest";
import { expectConsistent } from "./support/invariants.js";
import { verifyCertificate } from "./support/openssl.js";
import { openParts } from "./support/stack.js";

const fixture = fileURLToPath(new URL("./fixtures/issue-process.ts", import.meta.url));

function runProcess(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", fixture, ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`process ${args[0]} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("a pending issue across processes", () => {
  it("is started by one process and finished by another after CA approval", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-restart-"));
    const image = join(dir, "card.json");

    const first = runProcess(["issue", dir, image]);
    expect(first.status).toBe("pending");
    const requests = first.pendingRequests as { caRequestId: string }[];
    expect(requests).toHaveLength(2);

    // The CA operator approves, from yet another process's point of view: the CA directory.
    let parts = await openParts(dir, true);
    for (const r of requests) expect((await parts.ca.approve(r.caRequestId)).status).toBe("issued");
    await parts.store.close();

    const second = runProcess(["resume", dir, image, first.operationId as string]);
    expect(second.pid).not.toBe(first.pid);
    expect(second.status).toBe("active");
    expect(second.pin).toMatch(/^\d{8}$/);

    parts = await openParts(dir, true);
    try {
      const card = await parts.store.cards.get(second.cardId as string);
      expect(card?.state).toBe("active");
      const device = await PivDevice.open(new InMemoryTransport(await VirtualPivCard.loadImage(image)));
      const chain = await parts.ca.chain();
      for (const slot of ["9a", "9c"]) {
        const certificate = await device.readCertificate(slot);
        expect(verifyCertificate(certificate!, chain).status).toBe(0);
      }
      // Exactly two certificates issued: the resume did not submit again.
      expect(await parts.ca.listIssued()).toHaveLength(2);
      await expectConsistent(parts.store, parts.ca, new Map([[device.identity.serial, device]]));
      expect((await parts.store.audit.list()).length).toBeGreaterThan(0);
    } finally {
      await parts.store.close();
    }
  });
});
