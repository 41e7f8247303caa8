/**
 * Measurement 3: bureau throughput — cards per second issued on K virtual readers in parallel by
 * one SDK over one store, against the raw cryptographic bound measured in the same run.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { join } from "node:path";
import { PgliteStore } from "@cardwright/store-sql";
import {
  BENCH_CA_KEY_ALGORITHM,
  type BlankCard,
  benchSdk,
  benchUsers,
  blankCard,
  issueOn,
  openBenchCa,
  workDir,
} from "./fixtures.js";
import { type BenchSection, fixed, now, summarize, table } from "./stats.js";

/** Bytes signed for a CSR's CertificationRequestInfo and a CA's TBSCertificate: their typical sizes here. */
const CSR_INFO_BYTES = 350;
const TBS_CERTIFICATE_BYTES = 600;

/**
 * The cryptography one card needs, done directly with node:crypto on one core: RSA-2048 and
 * P-256 key generation (the card's two keys), the two CSR signatures with those keys, and the
 * CA's two certificate signatures with its own key (P-256, ECDSA with SHA-256).
 */
function oneCardOfCrypto(caKey: ReturnType<typeof generateKeyPairSync>["privateKey"]): void {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  sign("sha256", randomBytes(CSR_INFO_BYTES), rsa.privateKey);
  sign("sha256", randomBytes(CSR_INFO_BYTES), ec.privateKey);
  sign("sha256", randomBytes(TBS_CERTIFICATE_BYTES), caKey);
  sign("sha256", randomBytes(TBS_CERTIFICATE_BYTES), caKey);
}

/** Mean milliseconds of {@link oneCardOfCrypto} over `samples` sequential runs (RSA prime search varies). */
function measureCryptoBound(samples: number): { meanMs: number; p95Ms: number } {
  if (BENCH_CA_KEY_ALGORITHM !== "ECCP256") throw new Error("the crypto bound assumes a P-256 CA key");
  const caKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  oneCardOfCrypto(caKey);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = now();
    oneCardOfCrypto(caKey);
    times.push(now() - start);
  }
  const s = summarize(times);
  return { meanMs: s.mean, p95Ms: s.p95 };
}

/** Issues `blanks` on `readers` workers; each reader takes the next card when its card is done. */
async function issueAll(
  cardwright: ReturnType<typeof benchSdk>,
  blanks: readonly BlankCard[],
  userIds: readonly string[],
  readers: number,
): Promise<number> {
  let next = 0;
  const start = now();
  const reader = async () => {
    for (let i = next++; i < blanks.length; i = next++) await issueOn(cardwright, blanks[i]!, userIds[i]!);
  };
  await Promise.all(Array.from({ length: readers }, reader));
  return now() - start;
}

/** Runs measurement 3: `cards` cards for each reader count, in two rounds (K ascending, then descending). */
export async function measureThroughput(options: {
  cards: number;
  readers: readonly number[];
  cryptoSamples: number;
}): Promise<BenchSection> {
  const boundBefore = measureCryptoBound(options.cryptoSamples);
  const dir = workDir("throughput");
  const ca = await openBenchCa(dir);
  const store = await PgliteStore.open({ dataDir: join(dir, "store") });
  const order = [...options.readers, ...[...options.readers].reverse()];
  const users = benchUsers(1 + options.cards * order.length, "bureau");
  const cardwright = benchSdk({ store, ca, users });
  const rates = new Map<number, number[]>();
  try {
    // Warm-up, not counted.
    await issueOn(cardwright, await blankCard("bench warm-up"), users[0]!.id);
    let u = 1;
    for (const k of order) {
      const blanks: BlankCard[] = [];
      for (let i = 0; i < options.cards; i++) blanks.push(await blankCard(`bench reader ${i % k}`));
      const ids = users.slice(u, u + options.cards).map((x) => x.id);
      u += options.cards;
      const ms = await issueAll(cardwright, blanks, ids, k);
      rates.set(k, [...(rates.get(k) ?? []), options.cards / (ms / 1000)]);
    }
  } finally {
    await store.close();
  }
  const boundAfter = measureCryptoBound(options.cryptoSamples);
  const boundMs = (boundBefore.meanMs + boundAfter.meanMs) / 2;
  const boundPerSecond = 1000 / boundMs;
  const headline: Record<string, string | number> = { "crypto bound cards/s (1 core)": fixed(boundPerSecond, 2) };
  const rows = options.readers.map((k) => {
    const [first = Number.NaN, second = Number.NaN] = rates.get(k) ?? [];
    const mean = (first + second) / 2;
    headline[`K=${k} cards/s`] = fixed(mean, 2);
    return [k, options.cards, fixed(first, 2), fixed(second, 2), fixed(mean, 2), fixed(mean / boundPerSecond, 2)];
  });
  const markdown = [
    "One `Cardwright` over one on-disk `PgliteStore` and the on-disk embedded CA. For each K, M fresh",
    "virtual YubiKeys (made before the clock starts) are issued by K concurrent readers, each reader",
    "taking the next card when its card is done (`PivDevice.open` + `issueCard`, distinct users, one",
    "warm-up card first, not counted). The simulator's latency model is zero, so the cards cost their",
    "real cryptography and nothing else. Each K runs twice, in a first round with K ascending and a",
    "second with K descending, so a drift in the machine's load during the run shows up as a",
    "difference between the rounds instead of as a trend across K.",
    "",
    "**Cryptographic bound** (the denominator of the ratio): the cryptography one card needs, done",
    "directly with node:crypto on one core, sequentially — RSA-2048 and P-256 key generation (the",
    "card's two keys), the two CSR signatures with those keys (RSA PKCS#1 v1.5 and ECDSA, SHA-256) and",
    "the CA's two certificate signatures with its P-256 key. Measured in the same process before and",
    `after the issues (${options.cryptoSamples} runs each): mean ${fixed(boundBefore.meanMs)} ms before`,
    `(p95 ${fixed(boundBefore.p95Ms)}) and ${fixed(boundAfter.meanMs)} ms after (p95 ${fixed(boundAfter.p95Ms)}),`,
    `so the bound is 1000 / ${fixed(boundMs)} ms = **${fixed(boundPerSecond, 2)} cards/s on one core**. RSA-2048`,
    "key generation dominates it, and its prime search varies from run to run. A ratio above 1 is",
    "possible: the simulator generates keys with node:crypto's asynchronous `generateKeyPair`, on",
    "libuv's thread pool, which can use the second core. Everything else — the SDK, PGlite (single-threaded",
    "WebAssembly), the CA's and the simulator's signatures — shares the one event-loop thread, so readers",
    "beyond the core count can only overlap waiting, not add computing.",
    "",
    table(
      ["readers K", "cards M", "round 1 cards/s", "round 2 cards/s", "mean cards/s", "ratio to the crypto bound"],
      rows,
    ),
  ].join("\n");
  return { title: "3. Bureau throughput", markdown, headline };
}
