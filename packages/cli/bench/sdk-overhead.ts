/**
 * Measurement 2: the SDK's own time per card — wall time of opening the card and `issueCard`,
 * minus the time during which the card, the CA or the store was working (each metered by a
 * decorator of its port, all on one clock so that moments when two of them work at once count
 * once).
 */

import { join } from "node:path";
import type { Store } from "@cardwright/core";
import { InMemoryStore } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { PgliteStore } from "@cardwright/store-sql";
import { type CpuAttribution, type CpuParty, CpuSampler, cpuTimeOf } from "./cpu-attribution.js";
import { type BlankCard, benchSdk, benchUsers, blankCard, openBenchCa, workDir } from "./fixtures.js";
import { FLOOR_RUNS, measureSdkFloors, type SdkFloors } from "./sdk-floors.js";
import { type BenchSection, BusyMeter, fixed, now, type Summary, summarize, table } from "./stats.js";
import { PartyMeter, TimedCertificateAuthority, TimedStore, TimedTransport } from "./timed-ports.js";

interface Split {
  wall: number;
  card: number;
  ca: number;
  store: number;
  /** Time two or more of card, CA and store worked at once: card + CA + store − (their union). */
  overlap: number;
  sdk: number;
  storeCalls: number;
  transactions: number;
}

interface StoreRun {
  label: string;
  splits: Split[];
  /** Main-thread milliseconds per measured card by whose code ran, from sampling. */
  cpu: Record<CpuParty, number>;
  /** The SDK's main-thread CPU time per measured card (see {@link cpuTimeOf}), when /proc has it. */
  sdkCpuTime: number | undefined;
  /** The SDK's sampled main-thread milliseconds per measured card, by part. */
  sdkParts: Record<string, number>;
  /** Audit events per issued card (registration included). */
  auditEvents: number;
  /** Certificates per issued card. */
  templates: number;
}

/** Sampling interval of the CPU attribution: fine enough for a millisecond budget, cheap enough not to slow the run. */
const SAMPLING_INTERVAL_US = 200;

/** Opens `blank` through `transport` and issues it to `userId`, as the bench's `issueOn` does. */
async function issueThrough(
  cardwright: ReturnType<typeof benchSdk>,
  transport: TimedTransport,
  userId: string,
): Promise<void> {
  const device = await PivDevice.open(transport, { extendedLength: false });
  try {
    const result = await cardwright.issueCard({ userId, device, actor: "bench-operator" });
    if (result.status !== "active") throw new Error(`bench issue for ${userId} ended ${result.status}`);
  } finally {
    await device.close();
  }
}

async function runWith(label: string, openStore: (dir: string) => Promise<Store>, cards: number): Promise<StoreRun> {
  const dir = workDir("overhead");
  const anyParty = new BusyMeter();
  const cardMeter = new PartyMeter(anyParty);
  const caMeter = new PartyMeter(anyParty);
  const storeMeter = new PartyMeter(anyParty);
  const ca = new TimedCertificateAuthority(await openBenchCa(dir), caMeter);
  const inner = await openStore(dir);
  const store = new TimedStore(inner, storeMeter);
  // One more user than measured cards: the first issue warms up the JIT and is not counted.
  const users = benchUsers(cards + 1, "overhead");
  const cardwright = benchSdk({ store, ca, users });
  const splits: Split[] = [];
  let sampler: CpuSampler | undefined;
  let cpu: CpuAttribution | undefined;
  let chain = 0;
  let certificates = 0;
  try {
    for (const [i, user] of users.entries()) {
      if (i === 1) sampler = await CpuSampler.start(SAMPLING_INTERVAL_US);
      const blank: BlankCard = await blankCard("bench overhead");
      const transport = new TimedTransport(blank.transport, cardMeter);
      for (const meter of [anyParty, cardMeter, caMeter, storeMeter]) meter.reset();
      const before = { ...store.counts };
      const start = now();
      await issueThrough(cardwright, transport, user.id);
      const wall = now() - start;
      if (i === 0) continue;
      const split = { wall, card: cardMeter.totalMs, ca: caMeter.totalMs, store: storeMeter.totalMs };
      splits.push({
        ...split,
        overlap: split.card + split.ca + split.store - anyParty.totalMs,
        sdk: wall - anyParty.totalMs,
        storeCalls: store.counts.repositoryCalls - before.repositoryCalls,
        transactions: store.counts.transactions - before.transactions,
      });
    }
    cpu = await sampler?.stop();
    sampler = undefined;
    chain = (await inner.audit.last())?.seq ?? 0;
    certificates = (await inner.certificates.list({})).length;
  } finally {
    await sampler?.stop();
    await store.close();
  }
  const measured = Math.max(1, splits.length);
  const perCard = Object.fromEntries(
    Object.entries(cpu?.sampled ?? {}).map(([party, ms]) => [party, ms / measured]),
  ) as Record<CpuParty, number>;
  const sdkCpuTime = cpu === undefined ? undefined : cpuTimeOf(cpu, "sdk");
  const sdkParts = Object.fromEntries(Object.entries(cpu?.sdkParts ?? {}).map(([part, ms]) => [part, ms / measured]));
  return {
    label,
    splits,
    cpu: perCard,
    sdkCpuTime: sdkCpuTime === undefined ? undefined : sdkCpuTime / measured,
    sdkParts,
    auditEvents: chain / users.length,
    templates: certificates / users.length,
  };
}

/** What each part of the SDK is, for the breakdown table. */
const SDK_PARTS: Record<string, string> = {
  xstate: "the workflow engine (xstate): transitions, invoking steps, persisted snapshots",
  "core/workflows": "the issue steps, the operation runner, the device session, the lease keeper",
  "core/audit": "the audit hash chain: canonical JSON and SHA-256 of each event",
  "core/pki": "CSR building and certificate parsing (DER)",
  "core/vault": "AES-GCM wrapping of the admin key and PUK",
  "core/policy": "policy resolution and subject rendering",
  "core/runtime": "UUIDs, random bytes, the clock",
  "core/cardwright": "the facade: registration, clearance, the operation record",
  "core/issuance": "issuance mode, permission and limit checks",
  "core/errors": "errors the flow expects (the wrong PINs and PUKs of a YubiKey reset)",
  "pcsc/piv": "the PIV card edge: command building, TLV, SPKI from the card's key",
  "pcsc/apdu": "APDU encoding, chaining and GET RESPONSE",
  "pcsc/tlv": "BER-TLV encoding and decoding",
  "pcsc/time-limit": "the per-APDU time limit",
  "pcsc/random": "random bytes for the card edge (challenges, CHUID)",
  "core/testing": "the bench's directory (`InMemoryDirectory`, the Directory port's test double)",
  "core/lifecycle": "permission and card-state transition checks",
  "core/keys": "key archival and attestation (not used by this policy)",
};

/** Issue 8's goal for the SDK's own time per card. */
const SDK_GOAL_MS = 2;

const cell = (s: Summary) => `${fixed(s.median)} / ${fixed(s.p95)}`;

/** Runs measurement 2 with `cards` measured cards per store. */
export async function measureSdkOverhead(options: { cards: number }): Promise<BenchSection> {
  const runs = [
    await runWith("PgliteStore (on disk)", (dir) => PgliteStore.open({ dataDir: join(dir, "store") }), options.cards),
    await runWith("PgliteStore (in memory)", () => PgliteStore.open(), options.cards),
    await runWith("InMemoryStore", async () => new InMemoryStore(), options.cards),
  ];
  const reference = runs[runs.length - 1] as StoreRun;
  const floors = await measureSdkFloors({
    templates: Math.round(reference.templates),
    auditEvents: Math.round(reference.auditEvents),
  });
  const pick = (r: StoreRun, k: keyof Split) => summarize(r.splits.map((s) => s[k]));
  const rows = runs.map((r) => [
    r.label,
    r.splits.length,
    cell(pick(r, "wall")),
    cell(pick(r, "card")),
    cell(pick(r, "ca")),
    cell(pick(r, "store")),
    cell(pick(r, "overlap")),
    `**${cell(pick(r, "sdk"))}**`,
    `**${fixed(r.cpu.sdk, 2)}**`,
    `**${fixed(r.sdkCpuTime ?? Number.NaN, 2)}**`,
    `${fixed(r.cpu.card)} / ${fixed(r.cpu.ca)} / ${fixed(r.cpu.store)}`,
    `${fixed((100 * pick(r, "sdk").median) / pick(r, "wall").median, 0)} %`,
    `${pick(r, "storeCalls").median} / ${pick(r, "transactions").median}`,
  ]);
  const markdown = [
    "Per card, in milliseconds, median / p95 over the measured cards (one warm-up card first, not",
    "counted). Wall time runs from `PivDevice.open` to the end of `issueCard` on a fresh virtual",
    "YubiKey under `staffPivPolicy`. *Card*, *CA* and *store* are metered by decorators implementing",
    "the ports around them, all on one clock: the card's transport (the simulator's own work, real",
    "RSA-2048 and P-256 key generation and signatures included, with its latency model at zero — a",
    "real YubiKey 5 takes seconds for RSA-2048 generation; see `YUBIKEY_5_LATENCY`), the embedded CA",
    "(on disk) and the store; the time the SDK's own code runs inside a store transaction is counted",
    "as SDK, not store. The three overlap — the SDK saves a step's snapshot to the store while the",
    "card works on the next step — so *overlap* is the time two of them worked at once, counted once.",
    "*SDK* is wall time minus the time any of them worked: the xstate workflow and its persisted",
    "snapshots, policy rendering, CSR building, certificate parsing, the vault's AES-GCM wrapping, the",
    "audit hash chain, and APDU encoding and decoding above the transport. A meter sees when a",
    "call is in flight, not what runs meanwhile: SDK code that runs while a store call waits for a",
    "transaction's lock, or while the card generates a key on the thread pool, counts as theirs",
    "there. *SDK main-thread CPU* does not depend on that: V8's sampling profiler (every",
    "200 µs, over the measured cards) gives each sample to the SDK, the card, the CA or the store by",
    "the innermost frame of its stack in their code (xstate's frames to the SDK); it leaves out",
    "garbage collection, which any of them may have caused, and the simulator's key generation on",
    "libuv's thread pool, which runs beside the main thread. Samples are wall time, so other",
    "processes on a busy machine stretch them; *SDK main-thread CPU time* is the SDK's share of the",
    "non-idle samples times the CPU time the kernel charged the main thread over the same cards",
    "(/proc, 10 ms resolution over the whole run), which they do not stretch.",
    "",
    table(
      [
        "store",
        "cards",
        "wall",
        "card",
        "CA",
        "store",
        "overlap",
        "SDK overhead",
        "SDK main-thread CPU (sampled, mean)",
        "SDK main-thread CPU time (share × thread CPU, mean)",
        "card / CA / store main-thread CPU (sampled, mean)",
        "SDK share of wall (medians)",
        "store calls / transactions per card (median)",
      ],
      rows,
    ),
    "",
    "The SDK's main-thread CPU (sampled, mean per card) by part: each sample goes to the innermost",
    "SDK part on its stack, so library code (asn1js, node:crypto) counts for the part that called it.",
    "",
    sdkPartsTable(runs),
    "",
    floorsText(floors),
  ].join("\n");
  const headline: Record<string, string | number> = {};
  for (const r of runs) {
    headline[`${r.label} SDK ms median/p95`] = cell(pick(r, "sdk"));
    headline[`${r.label} SDK main-thread CPU ms (sampled mean)`] = fixed(r.cpu.sdk, 2);
    headline[`${r.label} SDK main-thread CPU time ms (mean)`] = fixed(r.sdkCpuTime ?? Number.NaN, 2);
  }
  headline["floor: workflow run with instant steps ms median"] = fixed(floors.workflow.median, 2);
  headline["floor: audit chain of one card ms median"] = fixed(floors.audit.median, 2);
  return { title: "2. SDK overhead per card", markdown, headline };
}

/** The floors of the SDK's required parts against the 2 ms goal (see sdk-floors.ts). */
function floorsText(floors: SdkFloors): string {
  const sum = floors.workflow.median + floors.audit.median;
  return [
    `The least two required parts of the SDK cost alone, per card, median / p95 over ${FLOOR_RUNS} runs with`,
    "everything around them instant and a store that keeps nothing (`bench/sdk-floors.ts`): the issue",
    `workflow of ${floors.templates} certificates (xstate v5, which DESIGN.md prescribes, its snapshot handed to`,
    `the store at every state) **${cell(floors.workflow)}**, and the audit hash chain of the card's`,
    `${floors.auditEvents} events (canonical JSON and SHA-256 each) **${cell(floors.audit)}**. Together`,
    `${fixed(sum, 2)} ms — ${fixed((100 * sum) / SDK_GOAL_MS, 0)} % of the ${SDK_GOAL_MS} ms goal of issue 8 — before`,
    "the SDK has built a CSR, parsed a certificate, rendered a subject or encoded an APDU, and with",
    "the JIT warm on one loop; in an issue, among the card's, the CA's and the store's code, the same",
    "parts take several times as long (the table above).",
  ].join("\n");
}

/** Parts of the SDK by their sampled CPU per card, largest first on the in-memory store's run. */
function sdkPartsTable(runs: readonly StoreRun[]): string {
  const reference = runs[runs.length - 1];
  const parts = [...new Set(runs.flatMap((r) => Object.keys(r.sdkParts)))].sort(
    (a, b) => (reference?.sdkParts[b] ?? 0) - (reference?.sdkParts[a] ?? 0),
  );
  const rows = parts.map((part) => [
    `\`${part}\``,
    SDK_PARTS[part] ?? "",
    ...runs.map((r) => fixed(r.sdkParts[part] ?? 0, 2)),
  ]);
  return table(["SDK part", "what runs there", ...runs.map((r) => `${r.label}: ms per card`)], rows);
}
