/**
 * Measurement 3: bureau throughput — cards per second issued on K virtual readers in parallel by
 * one SDK over one store (PGlite on disk, and PostgreSQL), as a ratio of the raw cryptographic
 * bound measured in the same run with the same K (see crypto-bound.ts).
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Store } from "@cardwright/core";
import { InMemoryStore } from "@cardwright/core/testing";
import type { TranscriptEntry } from "@cardwright/simulator";
import { PgliteStore, PostgresStore } from "@cardwright/store-sql";
import { type PostgresCluster, startPostgres } from "../../store-sql/test/support/postgres.js";
import { boundCaKey, OPERATIONS_PER_CARD, webCryptoCardsPerSecond } from "./crypto-bound.js";
import {
  BENCH_CA_KEY_ALGORITHM,
  type BlankCard,
  benchP256Policy,
  benchSdk,
  benchUsers,
  blankCard,
  issueOn,
  openBenchCa,
  workDir,
} from "./fixtures.js";
import { type BenchSection, BusyMeter, fixed, now, table } from "./stats.js";
import { type MethodProfile, StoreCallProfile } from "./store-call-profile.js";
import { PartyMeter, TimedCertificateAuthority, TimedStore, TimedTransport } from "./timed-ports.js";

/** The issue's goal: issued cards per second at least this fraction of the bound. */
const GOAL_RATIO = 0.8;
/** Bound runs are cheap (about a millisecond a card): this many cards per run steadies them. */
const BOUND_CARDS = 400;

/** One timed run of M cards on K readers. */
interface Run {
  readers: number;
  round: 1 | 2;
  cardsPerSecond: number;
  boundPerSecond: number;
  /** Per card, in milliseconds: wall time divided by M, and the metered parts (K = 1 only is a split). */
  wallMs: number;
  cardMs: number;
  /** Of `cardMs`, the card's GENERATE ASYMMETRIC KEY PAIR and its signature (GENERAL AUTHENTICATE, not 9B). */
  cardCryptoMs: number;
  caMs: number;
  storeMs: number;
  /** Time any of card, CA and store was working, each instant counted once. */
  busyMs: number;
  /** APDUs per card. */
  apdus: number;
  /** Store repository calls and transactions per card. */
  storeCalls: number;
  transactions: number;
  /** Share of the wall time the event-loop thread was busy (`performance.eventLoopUtilization`). */
  eventLoop: number;
}

interface StoreRuns {
  label: string;
  runs: Run[];
  /** Store calls by method, summed over the K = 1 runs, and the cards they issued. */
  profile: Map<string, MethodProfile>;
  profiledCards: number;
}

/** GENERATE ASYMMETRIC KEY PAIR, or GENERAL AUTHENTICATE with a slot key (P2 ≠ 9B, the management key). */
function isCardCrypto(e: TranscriptEntry): boolean {
  return e.ins === 0x47 || (e.ins === 0x87 && e.command[3] !== 0x9b);
}

/** Issues `blanks` on `readers` workers; each reader takes the next card when its card is done. */
async function issueAll(
  cardwright: ReturnType<typeof benchSdk>,
  blanks: readonly BlankCard[],
  userIds: readonly string[],
  readers: number,
  cardMeter: BusyMeter,
): Promise<number> {
  let next = 0;
  const start = now();
  const reader = async () => {
    for (let i = next++; i < blanks.length; i = next++) {
      const blank = blanks[i]!;
      await issueOn(cardwright, blank, userIds[i]!, { transport: new TimedTransport(blank.transport, cardMeter) });
    }
  };
  await Promise.all(Array.from({ length: readers }, reader));
  return now() - start;
}

async function runStore(
  label: string,
  openStore: () => Promise<Store>,
  options: { cards: number; readers: readonly number[]; caKey: CryptoKey },
): Promise<StoreRuns> {
  const dir = workDir("throughput");
  // One clock for card, CA and store, so time two of them worked at once is not taken from the SDK twice.
  const anyParty = new BusyMeter();
  const cardMeter = new PartyMeter(anyParty);
  const caMeter = new PartyMeter(anyParty);
  const storeMeter = new PartyMeter(anyParty);
  const ca = new TimedCertificateAuthority(await openBenchCa(dir), caMeter);
  const profile = new StoreCallProfile();
  const store = new TimedStore(profile.wrap(await openStore()), storeMeter);
  const byMethod = new Map<string, MethodProfile>();
  let profiledCards = 0;
  const order = [...options.readers, ...[...options.readers].reverse()];
  const users = benchUsers(1 + options.cards * order.length, "bureau");
  const cardwright = benchSdk({ store, ca, users, policy: benchP256Policy });
  const runs: Run[] = [];
  try {
    // Warm-up, not counted: JIT, the store's first statements, the CA's first signature.
    await issueOn(cardwright, await blankCard("bench warm-up"), users[0]!.id);
    let u = 1;
    for (const [i, k] of order.entries()) {
      const blanks: BlankCard[] = [];
      for (let c = 0; c < options.cards; c++) blanks.push(await blankCard(`bench reader ${c % k}`));
      const ids = users.slice(u, u + options.cards).map((x) => x.id);
      u += options.cards;
      // The bound right before the issues, with the same K, so both see the same machine load.
      const boundPerSecond = await webCryptoCardsPerSecond(options.caKey, BOUND_CARDS, k);
      for (const m of [anyParty, cardMeter, caMeter, storeMeter]) m.reset();
      profile.reset();
      const counts = { ...store.counts };
      const loopBefore = performance.eventLoopUtilization();
      const ms = await issueAll(cardwright, blanks, ids, k, cardMeter);
      const loop = performance.eventLoopUtilization(loopBefore);
      if (k === 1) {
        profiledCards += options.cards;
        for (const [name, m] of profile.methods) {
          const sum = byMethod.get(name) ?? { calls: 0, ms: 0 };
          byMethod.set(name, { calls: sum.calls + m.calls, ms: sum.ms + m.ms });
        }
      }
      const entries = blanks.flatMap((b) => b.transport.transcript);
      const cardCryptoMs = entries.filter(isCardCrypto).reduce((a, e) => a + e.durationMs, 0);
      runs.push({
        readers: k,
        round: i < options.readers.length ? 1 : 2,
        cardsPerSecond: options.cards / (ms / 1000),
        boundPerSecond,
        wallMs: ms / options.cards,
        cardMs: cardMeter.totalMs / options.cards,
        cardCryptoMs: cardCryptoMs / options.cards,
        apdus: entries.length / options.cards,
        caMs: caMeter.totalMs / options.cards,
        storeMs: storeMeter.totalMs / options.cards,
        busyMs: anyParty.totalMs / options.cards,
        storeCalls: (store.counts.repositoryCalls - counts.repositoryCalls) / options.cards,
        transactions: (store.counts.transactions - counts.transactions) / options.cards,
        eventLoop: loop.utilization,
      });
    }
  } finally {
    await store.close();
  }
  return { label, runs, profile: byMethod, profiledCards };
}

/** Runs measurement 3: `cards` cards for each reader count and store, in two rounds (K ascending, then descending). */
export async function measureThroughput(options: { cards: number; readers: readonly number[] }): Promise<BenchSection> {
  if (BENCH_CA_KEY_ALGORITHM !== "ECCP256") throw new Error("the crypto bound assumes a P-256 CA key");
  const caKey = await boundCaKey();
  // Warm-up of the bound's code paths, not counted.
  await webCryptoCardsPerSecond(caKey, 50, 1);
  const results: StoreRuns[] = [];
  // No durability at all: what the SDK, the simulator and the CA reach without a store's I/O.
  results.push(await runStore("InMemoryStore (not durable)", async () => new InMemoryStore(), { ...options, caKey }));
  results.push(
    await runStore("PgliteStore (on disk)", () => PgliteStore.open({ dataDir: join(workDir("pglite"), "store") }), {
      ...options,
      caKey,
    }),
  );
  let cluster: PostgresCluster | undefined;
  try {
    cluster = await startPostgres();
    const url = cluster.createDatabase("throughput");
    const maxReaders = Math.max(...options.readers);
    results.push(
      await runStore(
        "PostgresStore (PostgreSQL 15)",
        () => PostgresStore.open({ connectionString: url, pool: { max: maxReaders + 4 } }),
        { ...options, caKey },
      ),
    );
  } finally {
    cluster?.stop();
  }
  return report(results, options);
}

function report(results: StoreRuns[], options: { cards: number; readers: readonly number[] }): BenchSection {
  const headline: Record<string, string | number> = {};
  const rows: (string | number)[][] = [];
  for (const r of results) {
    for (const k of options.readers) {
      const [first, second] = r.runs.filter((x) => x.readers === k);
      if (first === undefined || second === undefined) continue;
      const rate = (first.cardsPerSecond + second.cardsPerSecond) / 2;
      const bound = (first.boundPerSecond + second.boundPerSecond) / 2;
      const ratio = (first.cardsPerSecond / first.boundPerSecond + second.cardsPerSecond / second.boundPerSecond) / 2;
      headline[`${r.label} K=${k} cards/s (ratio)`] = `${fixed(rate, 2)} (${fixed(ratio, 3)})`;
      rows.push([
        r.label,
        k,
        options.cards,
        `${fixed(first.cardsPerSecond, 2)} / ${fixed(second.cardsPerSecond, 2)}`,
        fixed(rate, 2),
        `${fixed(first.boundPerSecond, 0)} / ${fixed(second.boundPerSecond, 0)}`,
        fixed(bound, 0),
        `**${fixed(ratio, 3)}**`,
        `${fixed(100 * ((first.eventLoop + second.eventLoop) / 2), 0)} %`,
      ]);
    }
  }
  const splits: Split[] = results.map((r) => {
    const ones = r.runs.filter((x) => x.readers === 1);
    const mean = (pick: (x: Run) => number) => ones.reduce((a, x) => a + pick(x), 0) / ones.length;
    const split = {
      label: r.label,
      wall: mean((x) => x.wallMs),
      card: mean((x) => x.cardMs),
      cardCrypto: mean((x) => x.cardCryptoMs),
      ca: mean((x) => x.caMs),
      store: mean((x) => x.storeMs),
      busy: mean((x) => x.busyMs),
      storeCalls: mean((x) => x.storeCalls),
      transactions: mean((x) => x.transactions),
      apdus: mean((x) => x.apdus),
      bound: 1000 / mean((x) => x.boundPerSecond),
    };
    return { ...split, sdk: split.wall - split.busy };
  });
  const splitRows = splits.map((x) => [
    x.label,
    fixed(x.wall),
    `${fixed(x.card)} (${fixed(x.cardCrypto)})`,
    fixed(x.ca),
    fixed(x.store),
    `${fixed(x.storeCalls, 0)} / ${fixed(x.transactions, 0)}`,
    fixed(x.sdk),
    fixed(x.bound, 2),
    `${fixed((100 * x.bound) / x.wall, 1)} %`,
  ]);
  const methodNames = [...new Set(results.flatMap((r) => [...r.profile.keys()]))];
  const perCard = (r: StoreRuns, name: string) => {
    const m = r.profile.get(name);
    return { calls: (m?.calls ?? 0) / r.profiledCards, ms: (m?.ms ?? 0) / r.profiledCards };
  };
  const slowest = (name: string) => Math.max(...results.map((r) => perCard(r, name).ms));
  methodNames.sort((a, b) => slowest(b) - slowest(a));
  const methodRows = methodNames.map((name) => [
    `\`${name}\``,
    ...results.flatMap((r) => {
      const m = perCard(r, name);
      return [fixed(m.calls, 1), fixed(m.ms, 1)];
    }),
  ]);
  const first = results[0];
  const topMethods = methodNames
    .slice(0, 3)
    .map((name) => `\`${name}\` (${first === undefined ? "n/a" : fixed(perCard(first, name).calls, 0)} calls a card)`)
    .join(", ");
  const ratios = results.flatMap((r) => r.runs.map((x) => x.cardsPerSecond / x.boundPerSecond));
  const best = Math.max(...ratios.filter(Number.isFinite));
  const dominant = splits.map((x) => {
    const parts: [string, number][] = [
      ["the store", x.store],
      ["the card (simulator)", x.card],
      ["the CA", x.ca],
      ["the SDK's own code", x.sdk],
    ];
    const [name, ms] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
    return `on ${x.label} ${name} (${fixed(ms)} of ${fixed(x.wall)} ms a card)`;
  });
  const markdown = [
    "One `Cardwright` over one store and the on-disk embedded CA (P-256 key) issues fresh virtual",
    "YubiKeys under the demo's staff policy cut to its P-256 certificate (9A PIV Authentication, random",
    "PIN and PUK, `initialiseOnIssue`). For each K, M cards (made before the clock starts) are issued by",
    "K concurrent readers, each taking the next card when its own is done (`PivDevice.open` +",
    "`issueCard`, distinct users; one warm-up card per store first, not counted). The simulator's latency",
    "model is zero. Each K runs twice, K ascending then descending, so a drift in the machine's load",
    "shows as a difference between the rounds rather than as a trend across K. Stores: `InMemoryStore`",
    "(the test store: no I/O and no durability, so its row is the ceiling of the SDK, the simulator and",
    "the CA without a store), `PgliteStore` on disk, and `PostgresStore` on a private PostgreSQL 15",
    "cluster the bench starts for this section (temporary directory, loopback port, `fsync=off`; pool",
    "of K + 4 connections; statements prepared once per connection) and stops after.",
    "",
    "**Cryptographic bound** (the denominator): the asymmetric cryptography one card needs in this flow,",
    "done directly with WebCrypto (`crypto.subtle`), nothing else:",
    "",
    ...OPERATIONS_PER_CARD.map((op, i) => `${i + 1}. ${op}`),
    "",
    `It is measured right before every issue run, over ${BOUND_CARDS} cards with the same K: K concurrent`,
    "pipelines each taking the next card, as the readers do. Node runs WebCrypto's ECDSA jobs on libuv's",
    "thread pool, so K > 1 lets the bound use both cores, as the readers could; comparing each K with the",
    "bound at the same K keeps the ratio like with like. Left out as negligible next to these: the",
    "symmetric work (AES mutual authentication with the management key, the vault's AES-GCM, SHA-256 of",
    "the audit chain) and DER encoding.",
    "",
    "Why WebCrypto and not the simulator's own cryptography: the issue defines the bound as the same",
    "operations done directly with WebCrypto, which is also what a real bureau's host would set against",
    "a real card — a YubiKey signs in its secure element, not in our process. The virtual card here",
    "does its part in this process: it generates keys with node:crypto (thread pool) but signs with",
    "its own ECDSA in JavaScript BigInt arithmetic (it must sign a digest the host computed, which",
    "node:crypto cannot), on the event-loop thread. That time is *card* time, counted in the wall",
    "time and not in the bound; the split below shows how much it is.",
    "",
    table(
      [
        "store",
        "readers K",
        "cards M",
        "cards/s (round 1 / 2)",
        "mean cards/s",
        "bound cards/s (round 1 / 2)",
        "mean bound",
        "ratio (mean of rounds)",
        "event loop busy",
      ],
      rows,
    ),
    "",
    "*Event loop busy* is `performance.eventLoopUtilization()` over the issue runs: the share of wall",
    "time the one JavaScript thread was running code (the SDK, PGlite's WebAssembly, the simulator, the",
    "CA's certificate encoding). Near 100 % the readers can add nothing more but waiting.",
    "",
    "Where one card's time goes at K = 1 (milliseconds per card, mean of both rounds): *card*, *CA*",
    "and *store* are metered on one clock by decorators of the card's transport and of their ports",
    "(timed-ports.ts, as in section 2) — *card* is the simulator's work, with in brackets its key",
    "generation and CSR signature (GENERATE, and GENERAL AUTHENTICATE with the 9A key, from the",
    "transcript), the simulator's own implementation of operations 1 and 2 above — with the store's",
    "repository calls / transactions per card. They overlap (a snapshot is saved while the card works),",
    "so *SDK* is the wall time minus the time any of them was working, each instant counted once.",
    "",
    table(
      [
        "store",
        "wall",
        "card (of which keygen + sign)",
        "CA",
        "store",
        "store calls / transactions",
        "SDK",
        "bound (WebCrypto) per card",
        "bound / wall",
      ],
      splitRows,
    ),
    "",
    "The store's share by method at K = 1 (per card, mean of both rounds; `transaction` is BEGIN and",
    "COMMIT with the lock wait, the calls inside it are counted under their own methods):",
    "",
    table(["store method", ...results.flatMap((r) => [`${r.label}: calls`, `${r.label}: ms`])], methodRows),
    "",
    best >= GOAL_RATIO
      ? `The goal of issue 8 (at least ${GOAL_RATIO} of the bound) is met (best ratio ${fixed(best, 3)}).`
      : missedGoal(best, splits, topMethods, dominant),
  ].join("\n");
  return { title: "3. Bureau throughput", markdown, headline };
}

/** One store's split of a card's time at K = 1 (see `report`). */
interface Split {
  label: string;
  wall: number;
  card: number;
  cardCrypto: number;
  ca: number;
  store: number;
  sdk: number;
  storeCalls: number;
  transactions: number;
  apdus: number;
  bound: number;
}

/**
 * Why the ratio falls short, from this run's numbers: what 0.8 of the bound leaves for the rest
 * of an issue, set against each part measured on the store with no I/O at all.
 */
function missedGoal(best: number, splits: readonly Split[], topMethods: string, dominant: readonly string[]): string {
  const ceiling = splits[0];
  if (ceiling === undefined) return `**The goal of issue 8 (at least ${GOAL_RATIO} of the bound) is missed.**`;
  const budget = (ceiling.bound * (1 - GOAL_RATIO)) / GOAL_RATIO;
  return (
    `**The goal of issue 8 (at least ${GOAL_RATIO} of the bound) is missed** (best ratio ${fixed(best, 3)}). ` +
    `The four WebCrypto operations take ${fixed(ceiling.bound, 2)} ms a card at K = 1, so a ratio of ${GOAL_RATIO} ` +
    `leaves ${fixed(budget, 2)} ms a card for everything else an issue does. On ${ceiling.label}, where the ` +
    `store does no I/O at all, each part alone takes more than that: the simulator ${fixed(ceiling.card)} ms ` +
    `(of which ${fixed(ceiling.cardCrypto)} ms its own key generation and ECDSA signature in JavaScript), the ` +
    `CA ${fixed(ceiling.ca)} ms (its journal append, fsync'd before it answers, and its certificate encoding), ` +
    `the SDK ${fixed(ceiling.sdk)} ms, and the store's ${fixed(ceiling.storeCalls, 0)} calls in ` +
    `${fixed(ceiling.transactions, 0)} transactions ${fixed(ceiling.store)} ms even in memory. A durable store ` +
    "adds its I/O on top: PGlite runs PostgreSQL single-threaded in WebAssembly on the event-loop thread, so " +
    "its transactions also serialise the readers; PostgreSQL moves that work to its own processes but costs a " +
    "loopback round trip per statement. The largest part at K = 1 is " +
    `${dominant.join("; ")}. With the SDK, the simulator's BigInt ECDSA and the CA's encoding all on one ` +
    "JavaScript thread, the event loop is busy most of the time at K > 1 (last column of the first table), so " +
    "more readers add waiting, not computing, while the bound's WebCrypto jobs use both cores. The costliest " +
    `store methods are ${topMethods}. Against the simulator's own implementation of the card's two operations ` +
    "instead of WebCrypto the ratio would be higher, but it would measure the simulator, not what a bureau's " +
    "host has to do."
  );
}
