/**
 * Measurement 4: the store — operations per second through the `Store` port on PgliteStore (in
 * memory and on disk) and InMemoryStore, with the certificate inventory populated first.
 */
import { join } from "node:path";
import type { CertificateRecord, NewRecord, Store } from "@cardwright/core";
import { InMemoryStore } from "@cardwright/core/testing";
import { PgliteStore } from "@cardwright/store-sql";
import { benchSdk, benchUsers, blankCard, issueOn, openBenchCa, workDir } from "./fixtures.js";
import { type BenchSection, fixed, now, opsPerSecond, seededIndex, table } from "./stats.js";

/** The size DESIGN.md asks for. */
const DESIGN_SIZE = 1_000_000;
const BATCH = 1000;
/** Certificates per user in the populated inventory: a few cards' history each. */
const CERTIFICATES_PER_USER = 10;
const DAY_MS = 86_400_000;

type Shape = NewRecord<CertificateRecord>;

/** A certificate record exactly as the SDK writes it, taken from a real issue. */
async function realCertificateRecord(): Promise<Shape> {
  const dir = workDir("store-shape");
  const store = await PgliteStore.open();
  try {
    const [user] = benchUsers(1, "shape");
    const cardwright = benchSdk({ store, ca: await openBenchCa(dir), users: [user!] });
    const { result } = await issueOn(cardwright, await blankCard("bench store"), user!.id);
    const { version: _v, createdAt: _c, updatedAt: _u, ...shape } = result.certificates[0]!;
    return shape;
  } finally {
    await store.close();
  }
}

/** The n-th certificate of the inventory: two per card, spread over users, statuses and three years of expiry. */
function nthCertificate(shape: Shape, n: number, users: number, epoch: number): Shape {
  const card = Math.floor(n / 2);
  const expiresInDays = (n * 7919) % 1095;
  return {
    ...shape,
    id: `cert-${n}`,
    cardId: `card-${card}`,
    userId: `user-${card % users}`,
    requestId: `request-${n}`,
    serialHex: (0x100000 + n).toString(16),
    status: n % 20 === 0 ? "revoked" : n % 20 === 1 ? "expired" : "written",
    notAfter: new Date(epoch + expiresInDays * DAY_MS + (n % 86_400) * 1000).toISOString(),
  };
}

interface StoreResult {
  label: string;
  size: number;
  populateSeconds: number;
  rates: Record<string, number>;
}

async function measureOne(
  label: string,
  store: Store,
  shape: Shape,
  options: { size: number; budgetSeconds: number; epoch: number },
): Promise<StoreResult> {
  const users = Math.max(1, Math.floor(options.size / CERTIFICATES_PER_USER));
  const start = now();
  let size = 0;
  while (size < options.size && now() - start < options.budgetSeconds * 1000) {
    const end = Math.min(options.size, size + BATCH);
    await store.transaction(async (tx) => {
      for (let n = size; n < end; n++) await tx.certificates.create(nthCertificate(shape, n, users, options.epoch));
    });
    size = end;
  }
  const populateSeconds = (now() - start) / 1000;
  const pick = seededIndex(size);
  const existing = () => `cert-${pick(size)}`;
  const soon = new Date(options.epoch + 30 * DAY_MS).toISOString();
  const rates: Record<string, number> = {};
  rates["create"] = await opsPerSecond(1000, (i) =>
    store.certificates.create(nthCertificate(shape, size + i, users, options.epoch)),
  );
  rates["get"] = await opsPerSecond(2000, () => store.certificates.get(existing()));
  const current: CertificateRecord[] = [];
  for (let i = 0; i < 1000; i++) current.push((await store.certificates.get(`cert-${(i * 97) % size}`))!);
  rates["update"] = await opsPerSecond(current.length, (i) =>
    store.certificates.update({ ...current[i]!, status: "revoked" }),
  );
  rates["list by userId"] = await opsPerSecond(500, () => store.certificates.list({ userId: `user-${pick(users)}` }));
  rates["list by status, limit 100"] = await opsPerSecond(200, () =>
    store.certificates.list({ status: "revoked", limit: 100 }),
  );
  rates["expiringBefore +30 days, limit 100"] = await opsPerSecond(200, () =>
    store.certificates.list({ expiringBefore: soon, limit: 100 }),
  );
  await store.close();
  return { label, size, populateSeconds, rates };
}

/** Runs measurement 4, populating each store with `size` certificates (stopping at `budgetSeconds`). */
export async function measureStoreOps(options: { size: number; budgetSeconds: number }): Promise<BenchSection> {
  const shape = await realCertificateRecord();
  const epoch = Date.now();
  const dir = workDir("store");
  const stores: [string, () => Promise<Store>][] = [
    ["PgliteStore (in memory)", () => PgliteStore.open()],
    ["PgliteStore (on disk)", () => PgliteStore.open({ dataDir: join(dir, "pglite") })],
    ["InMemoryStore", async () => new InMemoryStore()],
  ];
  const results: StoreResult[] = [];
  for (const [label, open] of stores) {
    results.push(await measureOne(label, await open(), shape, { ...options, epoch }));
  }
  const operations = Object.keys(results[0]!.rates);
  const ratesTable = table(
    ["operation (ops/s)", ...results.map((r) => r.label)],
    operations.map((op) => [op, ...results.map((r) => fixed(r.rates[op] ?? Number.NaN, 0))]),
  );
  const populateTable = table(
    [
      "store",
      "certificates",
      "populate seconds",
      "inserts/s",
      `projected seconds for ${DESIGN_SIZE.toLocaleString("en")}`,
    ],
    results.map((r) => [
      r.label,
      r.size.toLocaleString("en"),
      fixed(r.populateSeconds, 1),
      fixed(r.size / r.populateSeconds, 0),
      fixed((DESIGN_SIZE / r.size) * r.populateSeconds, 0),
    ]),
  );
  const reached = results.every((r) => r.size >= DESIGN_SIZE);
  const certificateBytes = Buffer.from(shape.certificate ?? "", "base64").length;
  const markdown = [
    "Each store is filled through the `Store` port (`certificates.create`, 1000 per transaction) with",
    `records shaped exactly like one the SDK wrote in a real issue (its ${certificateBytes}-byte certificate`,
    `included): two per card, ${CERTIFICATES_PER_USER} per user, 5 % revoked, 5 % expired, expiries spread`,
    "over three years. Then, at that size, one call at a time (each operation for up to its count or about 3 seconds, whichever comes first): `create` (own transaction each), `get` of",
    "random ids, `update` with the current version (the read before it not timed), and the inventory",
    'queries `list({ userId })` (about 10 rows), `list({ status: "revoked", limit: 100 })` and',
    "`list({ expiringBefore: now + 30 days, limit: 100 })` (soonest first).",
    "",
    populateTable,
    "",
    reached
      ? `All stores reached ${DESIGN_SIZE.toLocaleString("en")} certificates.`
      : `**${DESIGN_SIZE.toLocaleString("en")} certificates (DESIGN.md) were not reached.** At the insert rate ` +
        "measured above, filling PGlite through the port would take the projected time in the last column " +
        "for each store — beyond this run's whole budget (about 5 minutes on this machine), so the figures " +
        "below are at the sizes in the table.",
    "",
    "PostgreSQL proper (DESIGN.md asks for it too) is not measured: `@cardwright/store-sql` has no " +
      "`SqlExecutor` for a PostgreSQL server yet (only PGlite's) and no PostgreSQL client library is " +
      "installed, so there is no server-backed `Store` to run.",
    "",
    ratesTable,
  ].join("\n");
  const headline: Record<string, string | number> = {};
  for (const r of results) {
    headline[`${r.label} size`] = r.size;
    for (const [op, rate] of Object.entries(r.rates)) headline[`${r.label} ${op}`] = Math.round(rate);
  }
  return { title: "4. Store", markdown, headline };
}
