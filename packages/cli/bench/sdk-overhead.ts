/**
 * Measurement 2: the SDK's own time per card — wall time of opening the card and `issueCard`,
 * minus the time spent in the card (the transcript's durations), in the CA and in the store
 * (both metered by decorators of their ports).
 */

import { join } from "node:path";
import type { Store } from "@cardwright/core";
import { InMemoryStore } from "@cardwright/core/testing";
import { PgliteStore } from "@cardwright/store-sql";
import { benchSdk, benchUsers, blankCard, issueOn, openBenchCa, workDir } from "./fixtures.js";
import { type BenchSection, BusyMeter, fixed, now, type Summary, summarize, table } from "./stats.js";
import { TimedCertificateAuthority, TimedStore } from "./timed-ports.js";

interface Split {
  wall: number;
  card: number;
  ca: number;
  store: number;
  sdk: number;
  storeCalls: number;
  transactions: number;
}

interface StoreRun {
  label: string;
  splits: Split[];
}

async function runWith(label: string, openStore: (dir: string) => Promise<Store>, cards: number): Promise<StoreRun> {
  const dir = workDir("overhead");
  const caMeter = new BusyMeter();
  const storeMeter = new BusyMeter();
  const ca = new TimedCertificateAuthority(await openBenchCa(dir), caMeter);
  const inner = await openStore(dir);
  const store = new TimedStore(inner, storeMeter);
  // One more user than measured cards: the first issue warms up the JIT and is not counted.
  const users = benchUsers(cards + 1, "overhead");
  const cardwright = benchSdk({ store, ca, users });
  const splits: Split[] = [];
  try {
    for (const [i, user] of users.entries()) {
      const blank = await blankCard("bench overhead");
      caMeter.reset();
      storeMeter.reset();
      const before = { ...store.counts };
      const start = now();
      await issueOn(cardwright, blank, user.id);
      const wall = now() - start;
      if (i === 0) continue;
      const card = blank.transport.transcript.reduce((a, e) => a + e.durationMs, 0);
      const split = { wall, card, ca: caMeter.totalMs, store: storeMeter.totalMs };
      splits.push({
        ...split,
        sdk: wall - split.card - split.ca - split.store,
        storeCalls: store.counts.repositoryCalls - before.repositoryCalls,
        transactions: store.counts.transactions - before.transactions,
      });
    }
  } finally {
    await store.close();
  }
  return { label, splits };
}

const cell = (s: Summary) => `${fixed(s.median)} / ${fixed(s.p95)}`;

/** Runs measurement 2 with `cards` measured cards per store. */
export async function measureSdkOverhead(options: { cards: number }): Promise<BenchSection> {
  const runs = [
    await runWith("PgliteStore (on disk)", (dir) => PgliteStore.open({ dataDir: join(dir, "store") }), options.cards),
    await runWith("PgliteStore (in memory)", () => PgliteStore.open(), options.cards),
    await runWith("InMemoryStore", async () => new InMemoryStore(), options.cards),
  ];
  const pick = (r: StoreRun, k: keyof Split) => summarize(r.splits.map((s) => s[k]));
  const rows = runs.map((r) => [
    r.label,
    r.splits.length,
    cell(pick(r, "wall")),
    cell(pick(r, "card")),
    cell(pick(r, "ca")),
    cell(pick(r, "store")),
    `**${cell(pick(r, "sdk"))}**`,
    `${fixed((100 * pick(r, "sdk").median) / pick(r, "wall").median, 0)} %`,
    `${pick(r, "storeCalls").median} / ${pick(r, "transactions").median}`,
  ]);
  const markdown = [
    "Per card, in milliseconds, median / p95 over the measured cards (one warm-up card first, not",
    "counted). Wall time runs from `PivDevice.open` to the end of `issueCard` on a fresh virtual",
    "YubiKey under `staffPivPolicy`. *Card* is the sum of the transcript's per-APDU durations: the",
    "simulator's own work, real RSA-2048 and P-256 key generation and signatures included, with its",
    "latency model at zero (a real YubiKey 5 takes seconds for RSA-2048 generation; see",
    "`YUBIKEY_5_LATENCY`). *CA* and *store* are metered by decorators implementing the",
    "`CertificateAuthority` and `Store` ports around the embedded CA (on disk) and the store; the time",
    "the SDK's own code runs inside a store transaction is counted as SDK, not store. *SDK* is what",
    "remains: the xstate workflow and its persisted snapshots' serialisation, policy rendering, CSR",
    "building, the vault's AES-GCM wrapping, the audit hash chain, and APDU encoding above the",
    "transport.",
    "",
    table(
      [
        "store",
        "cards",
        "wall",
        "card",
        "CA",
        "store",
        "SDK overhead",
        "SDK share of wall (medians)",
        "store calls / transactions per card (median)",
      ],
      rows,
    ),
  ].join("\n");
  const headline: Record<string, string | number> = {};
  for (const r of runs) headline[`${r.label} SDK ms median/p95`] = cell(pick(r, "sdk"));
  return { title: "2. SDK overhead per card", markdown, headline };
}
