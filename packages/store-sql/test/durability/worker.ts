/**
 * One durability worker process (spawned by durability.test.ts):
 *   contend <dir> <pg-url> <worker> <operations> <cards>  → issue attempts on shared cards, racing other workers
 *   victim  <dir> <pg-url> <card> <lease-ms>              → issues one card, printing each step; the test SIGKILLs it
 *   taker   <dir> <pg-url> <card> <lease-ms>              → takes the card over (after the lease expired) and finishes
 * Prints JSON lines; the last one is the outcome.
 */
import { isCardwrightError } from "@cardwright/core";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { cardImagePath, openSdk, PersistentCardTransport } from "./harness.js";

const [mode, dir, pgUrl, a, b, c] = process.argv.slice(2);
if (!dir || !pgUrl || !a) {
  process.stderr.write("usage: worker.ts contend|victim|taker <dir> <pg-url> ...\n");
  process.exit(2);
}
const emit = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** The same order for every worker (so they chase each other over the same cards), by a fixed seed. */
function sharedOrder(count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  let s = 0x2545f491;
  for (let i = count - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

async function contend(worker: number, operations: number, cards: number): Promise<void> {
  const { cardwright, store } = await openSdk({
    dir: dir!,
    pgUrl: pgUrl!,
    leaseOwner: `worker-${worker}/pid-${process.pid}`,
    leaseTtlMs: 30_000,
    userCount: cards,
  });
  const order = sharedOrder(cards);
  // Each worker has its own copy of every card (same serial, same factory state): the copies
  // stand for one card reachable from every host. Only the store — the lease, the card's state
  // and versions — keeps two workers from operating on it; a failure there shows as a second
  // operation or certificate for one card.
  const devices = new Map<number, { card: VirtualPivCard; device: PivDevice }>();
  const outcomes: Record<string, number> = {};
  const issued: Array<{ card: number; operationMs: number }> = [];
  const unexpected: string[] = [];
  const started = performance.now();
  for (let j = 0; j < operations; j++) {
    const k = order[(worker * 3 + j) % cards]!;
    let entry = devices.get(k);
    if (entry === undefined) {
      const card = await VirtualPivCard.loadImage(cardImagePath(dir!, k));
      entry = { card, device: await PivDevice.open(new InMemoryTransport(card)) };
      devices.set(k, entry);
    }
    const t0 = performance.now();
    try {
      const result = await cardwright.issueCard({
        userId: `user-${k}`,
        device: entry.device,
        actor: `worker-${worker}`,
      });
      outcomes[result.status] = (outcomes[result.status] ?? 0) + 1;
      if (result.status === "active") {
        issued.push({ card: k, operationMs: performance.now() - t0 });
        await entry.card.saveImage(`${cardImagePath(dir!, k)}.issued-by-${worker}.json`);
      }
    } catch (err) {
      const code = isCardwrightError(err) ? err.code : "NOT_CARDWRIGHT";
      outcomes[code] = (outcomes[code] ?? 0) + 1;
      if (!["CARD_LEASED", "CARD_STATE"].includes(code)) {
        unexpected.push(`${code}: ${(err as Error).message}`);
      }
    }
  }
  emit({ worker, pid: process.pid, outcomes, issued, unexpected, wallMs: performance.now() - started });
  await store.close();
}

async function victim(card: number, leaseTtlMs: number): Promise<void> {
  const { cardwright, store } = await openSdk({
    dir: dir!,
    pgUrl: pgUrl!,
    leaseOwner: `victim/pid-${process.pid}`,
    leaseTtlMs,
    userCount: card + 1,
  });
  const path = cardImagePath(dir!, card);
  const virtual = await VirtualPivCard.loadImage(path);
  const device = await PivDevice.open(new PersistentCardTransport(new InMemoryTransport(virtual), virtual, path));
  emit({ ready: true, pid: process.pid });
  const result = await cardwright.issueCard({
    userId: `user-${card}`,
    device,
    actor: "victim",
    onProgress: (e) => emit({ step: e.step }),
  });
  emit({ status: result.status });
  await store.close();
}

async function taker(card: number, leaseTtlMs: number): Promise<void> {
  const { cardwright, store } = await openSdk({
    dir: dir!,
    pgUrl: pgUrl!,
    leaseOwner: `taker/pid-${process.pid}`,
    leaseTtlMs,
    userCount: card + 1,
  });
  const path = cardImagePath(dir!, card);
  const waits: Array<{ leaseOwner: unknown; waitedMs: number }> = [];
  // When the first take-over attempt started: a slow start (a loaded machine) can arrive after
  // the dead victim's lease has already expired, and then there is rightly nothing to wait for.
  let firstAttemptAt = 0;
  for (let attempt = 0; attempt < 10; attempt++) {
    // The card as the dead host left it in the reader.
    const virtual = await VirtualPivCard.loadImage(path);
    const device = await PivDevice.open(new PersistentCardTransport(new InMemoryTransport(virtual), virtual, path));
    const record = (await store.cards.list({ deviceSerial: device.identity.serial, limit: 1 }))[0];
    if (record?.state === "active" && record.pendingOperationId === undefined) {
      // The dead host had finished: nothing to take over.
      emit({ status: "active", how: "none", waits });
      break;
    }
    const how = record?.pendingOperationId === undefined ? "issue" : "resume";
    if (attempt === 0) firstAttemptAt = Date.now();
    try {
      const result =
        how === "resume"
          ? await cardwright.resumeOperation(record!.pendingOperationId!, { device, actor: "taker" })
          : await cardwright.issueCard({ userId: `user-${card}`, device, actor: "taker" });
      emit({ status: result.status, how, waits, firstAttemptAt });
      break;
    } catch (err) {
      if (isCardwrightError(err, "CARD_LEASED")) {
        const waitedMs = Math.max(0, Date.parse(String(err.details.leaseExpiresAt)) - Date.now()) + 50;
        waits.push({ leaseOwner: err.details.leaseOwner, waitedMs });
        await new Promise((r) => setTimeout(r, waitedMs));
        continue;
      }
      if (isCardwrightError(err) && err.details.rollbackPending === true && attempt < 9) {
        // The rollback could not reach the CA (e.g. its directory lock, left by the killed
        // victim, is not stale yet): the operation rests in rollbackPending; resume it later.
        waits.push({ leaseOwner: "rollbackPending", waitedMs: 5_000 });
        await new Promise((r) => setTimeout(r, 5_000));
        continue;
      }
      emit({ status: "failed", how, code: isCardwrightError(err) ? err.code : "NOT_CARDWRIGHT", waits });
      break;
    }
  }
  await store.close();
}

if (mode === "contend") await contend(Number(a), Number(b), Number(c));
else if (mode === "victim") await victim(Number(a), Number(b));
else if (mode === "taker") await taker(Number(a), Number(b));
else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
