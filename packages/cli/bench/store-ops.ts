/**
 * Measurement 4: the store at scale — 10⁶ certificate records (DESIGN.md, issue 8) with the rest
 * of their cards' history, bulk-loaded with SQL into PostgreSQL and PGlite, then the renewal
 * query (expiring within 30 days, soonest first), a card's full history, and get / create /
 * update through the `Store` port, with the plans PostgreSQL chose.
 */
import { join } from "node:path";
import type { CertificateRecord, Store, Versioned } from "@cardwright/core";
import {
  migrate,
  migrations,
  PgliteExecutor,
  PostgresExecutor,
  type SqlExecutor,
  SqlStore,
} from "@cardwright/store-sql";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { type PostgresCluster, startPostgres } from "../../store-sql/test/support/postgres.js";
import { benchSdk, benchUsers, blankCard, issueOn, openBenchCa, workDir } from "./fixtures.js";
import { type BenchSection, fixed, now, opsPerSecond, type Summary, seededIndex, summarize, table } from "./stats.js";
import {
  type CardHistoryTemplate,
  deferSecondaryIndexes,
  type InventoryShape,
  LOADED_TABLES,
  loadCards,
} from "./store-bulk-load.js";

/** The size DESIGN.md and issue 8 ask for. */
const DESIGN_CERTIFICATES = 1_000_000;
/** The issue's goal for the two queries on PostgreSQL. */
const GOAL_MS = 50;
const DAY_MS = 86_400_000;
const SHAPE_BASE = { cardsPerUser: 5, auditEvery: 8 } as const;

/** The statements the SQL repositories run for the measured port calls (see sql-repositories.ts). */
const COLUMNS = "SELECT id, version, created_at, updated_at, data FROM";
const STATEMENTS = {
  renewal: `${COLUMNS} certificates WHERE status = $1 AND not_after < $2::timestamptz ORDER BY not_after, id LIMIT $3`,
  expiringOnly: `${COLUMNS} certificates WHERE not_after < $1::timestamptz ORDER BY not_after, id LIMIT $2`,
  certificatesOfCard: `${COLUMNS} certificates WHERE card_id = $1 ORDER BY created_at, id LIMIT $2`,
  operationsOfCard: `${COLUMNS} operations WHERE card_id = $1 ORDER BY created_at, id LIMIT $2`,
  requestsOfOperation: `${COLUMNS} requests WHERE operation_id = $1 ORDER BY created_at, id LIMIT $2`,
  auditOfCard: "SELECT data FROM audit_events WHERE card_id = $1 ORDER BY seq LIMIT $2",
} as const;

/** A real issue's records (two certificates, staff PIV policy): the template every loaded card copies. */
async function realHistory(): Promise<CardHistoryTemplate> {
  const executor = new PgliteExecutor(await PGlite.create());
  await migrate(executor, migrations);
  const store = new SqlStore(executor);
  try {
    const [user] = benchUsers(1, "shape");
    const cardwright = benchSdk({ store, ca: await openBenchCa(workDir("store-shape")), users: [user!] });
    const { result } = await issueOn(cardwright, await blankCard("bench store"), user!.id);
    const cardId = result.card.id;
    const [operation, ...others] = await store.operations.list({ cardId });
    if (operation === undefined || others.length > 0) throw new Error("bench: expected one operation per issue");
    return {
      card: (await store.cards.get(cardId))!,
      operation,
      requests: await store.requests.listByOperation(operation.id),
      certificates: await store.certificates.list({ cardId }),
      audit: await store.audit.list({ cardId }),
    };
  } finally {
    await store.close();
  }
}

interface Loaded {
  cards: number;
  rows: Record<string, number>;
  loadSeconds: number;
  indexSeconds: number;
  analyzeSeconds: number;
  bytes: number;
}

/**
 * Loads cards in chunks (one transaction each) on `lanes` concurrent sessions until `cards` are
 * in or `budgetSeconds` have passed, then builds the secondary indexes and runs ANALYZE.
 */
async function load(
  executor: SqlExecutor,
  template: CardHistoryTemplate,
  shape: InventoryShape,
  options: { cards: number; chunk: number; lanes: number; budgetSeconds: number; label: string },
): Promise<Loaded> {
  const restore = await deferSecondaryIndexes(executor);
  const rows: Record<string, number> = {};
  const start = now();
  let next = 0;
  const lane = async () => {
    while (next < options.cards && now() - start < options.budgetSeconds * 1000) {
      const from = next;
      const to = Math.min(options.cards, from + options.chunk);
      next = to;
      const added = await loadCards(executor, template, shape, from, to);
      for (const [t, n] of Object.entries(added)) rows[t] = (rows[t] ?? 0) + n;
    }
  };
  await Promise.all(Array.from({ length: options.lanes }, lane));
  const loadSeconds = (now() - start) / 1000;
  console.error(`bench: store ${options.label}: ${next} cards loaded in ${fixed(loadSeconds)} s; building indexes…`);
  const indexStart = now();
  await restore();
  const indexSeconds = (now() - indexStart) / 1000;
  const analyzeStart = now();
  await executor.query(`ANALYZE ${LOADED_TABLES.join(", ")}`);
  const analyzeSeconds = (now() - analyzeStart) / 1000;
  const size = await executor.query<{ bytes: string }>("SELECT pg_database_size(current_database())::text AS bytes");
  return { cards: next, rows, loadSeconds, indexSeconds, analyzeSeconds, bytes: Number(size.rows[0]?.bytes) };
}

/** `count` sequential runs of `fn`, in milliseconds. */
async function sample(count: number, fn: (i: number) => Promise<unknown>): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = now();
    await fn(i);
    times.push(now() - start);
  }
  return summarize(times);
}

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

/** A plan as `Limit → Index Scan using x on t`, from `EXPLAIN (FORMAT JSON)`. */
function describePlan(node: PlanNode): string {
  const self =
    node["Index Name"] !== undefined
      ? `${node["Node Type"]} using \`${node["Index Name"]}\``
      : node["Relation Name"] !== undefined
        ? `${node["Node Type"]} on \`${node["Relation Name"]}\``
        : node["Node Type"];
  const children = (node.Plans ?? []).map(describePlan);
  return children.length === 0 ? self : `${self} → ${children.join(" + ")}`;
}

/** The plan PostgreSQL runs `sql` with, and its execution time inside the server (`EXPLAIN ANALYZE`). */
async function explain(executor: SqlExecutor, sql: string, params: readonly unknown[]): Promise<Plan> {
  const { rows } = await executor.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
  const raw = rows[0]?.["QUERY PLAN"];
  const [parsed] = (typeof raw === "string" ? JSON.parse(raw) : raw) as { Plan: PlanNode; "Execution Time": number }[];
  if (parsed === undefined) throw new Error("bench: EXPLAIN returned no plan");
  return { text: describePlan(parsed.Plan), serverMs: parsed["Execution Time"] };
}

interface Plan {
  text: string;
  serverMs: number;
}

/** Thrown to roll a transaction back on purpose. */
const ROLLBACK = new Error("bench: rolled back on purpose");

/**
 * The plan of `sql` as it would be without `index`: dropped inside a transaction that is then
 * rolled back, so the schema is left as it was (the drop holds the table's lock until then).
 */
async function explainWithout(
  executor: SqlExecutor,
  index: string,
  sql: string,
  params: readonly unknown[],
): Promise<Plan> {
  let plan: Plan | undefined;
  await executor
    .transaction(async (tx) => {
      await tx.query(`DROP INDEX ${index}`);
      plan = await explain(tx, sql, params);
      throw ROLLBACK;
    })
    .catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
  if (plan === undefined) throw new Error("bench: no plan without the index");
  return plan;
}

interface Measured {
  label: string;
  loaded: Loaded;
  rssMb: number;
  renewalRows: number;
  queries: Record<string, Summary>;
  rates: Record<string, number>;
  plans: Record<string, Plan>;
}

/** Times the queries and operations on a loaded store. */
async function measure(
  label: string,
  executor: SqlExecutor,
  loaded: Loaded,
  template: CardHistoryTemplate,
  shape: InventoryShape,
  samples: number,
): Promise<Measured> {
  const store: Store = new SqlStore(executor);
  const soon = new Date(shape.epoch + 30 * DAY_MS).toISOString();
  const renewal = (limit?: number) => store.certificates.list({ status: "written", expiringBefore: soon, limit });
  const pick = seededIndex(loaded.cards);
  const auditedCards = Math.floor((loaded.cards - 1) / shape.auditEvery) + 1;
  const auditedCard = () => `card-${pick(auditedCards) * shape.auditEvery}`;
  const expected = 1 + template.requests.length + template.certificates.length + template.audit.length;

  /** A card's full history through the port, as an application shows it. */
  const history = async (cardId: string) => {
    const certificates = await store.certificates.list({ cardId });
    const operations = await store.operations.list({ cardId });
    const requests = (await Promise.all(operations.map((o) => store.requests.listByOperation(o.id)))).flat();
    const audit = await store.audit.list({ cardId });
    const n = certificates.length + operations.length + requests.length + audit.length;
    if (n !== expected) throw new Error(`bench: history of ${cardId} has ${n} records, expected ${expected}`);
  };

  const queries: Record<string, Summary> = {};
  await renewal(100); // the first call plans and warms the cache; not counted
  queries["renewal, first page of 100"] = await sample(samples, () => renewal(100));
  queries["renewal, first page of 1000"] = await sample(samples, () => renewal(1000));
  let renewalRows = 0;
  queries["renewal, every row (no limit)"] = await sample(3, async () => {
    renewalRows = (await renewal()).length;
  });
  queries["expiringBefore only (no status), page of 100"] = await sample(samples, () =>
    store.certificates.list({ expiringBefore: soon, limit: 100 }),
  );
  await history(auditedCard());
  queries[`a card's full history (${expected} records, 4 + 1 per operation statements)`] = await sample(samples, () =>
    history(auditedCard()),
  );

  const rates: Record<string, number> = {};
  const certificateId = () => {
    const c = pick(loaded.cards);
    return `cert-${c}-${c % template.certificates.length}`;
  };
  rates["get (random certificate)"] = await opsPerSecond(2000, async () => {
    if ((await store.certificates.get(certificateId())) === null) throw new Error("bench: loaded certificate missing");
  });
  const { version: _v, createdAt: _c, updatedAt: _u, ...model } = template.certificates[0]!;
  rates["create (own transaction each)"] = await opsPerSecond(1000, (i) =>
    store.certificates.create({ ...model, id: `bench-new-${i}`, serialHex: (0xf0000000 + i).toString(16) }),
  );
  const current: CertificateRecord[] = [];
  for (let i = 0; i < 300; i++) {
    const found = await store.certificates.get(certificateId());
    if (found !== null && !current.some((c) => c.id === found.id)) current.push(found);
  }
  rates["update (read before it not timed)"] = await opsPerSecond(current.length, (i) =>
    store.certificates.update({ ...(current[i] as CertificateRecord & Versioned), status: "revoked" }),
  );

  const card = auditedCard();
  const plans: Record<string, Plan> = {
    "renewal, page of 100": await explain(executor, STATEMENTS.renewal, ["written", soon, 100]),
    "renewal, page of 100, without migration 0003's index": await explainWithout(
      executor,
      "certificates_status_not_after_idx",
      STATEMENTS.renewal,
      ["written", soon, 100],
    ),
    "renewal, every row": await explain(executor, STATEMENTS.renewal, ["written", soon, null]),
    "expiringBefore only, page of 100": await explain(executor, STATEMENTS.expiringOnly, [soon, 100]),
    "history: certificates of the card": await explain(executor, STATEMENTS.certificatesOfCard, [card, null]),
    "history: operations of the card": await explain(executor, STATEMENTS.operationsOfCard, [card, null]),
    "history: requests of an operation": await explain(executor, STATEMENTS.requestsOfOperation, [
      `op-${card.slice("card-".length)}`,
      null,
    ]),
    "history: audit events of the card": await explain(executor, STATEMENTS.auditOfCard, [card, null]),
  };
  return { label, loaded, rssMb: process.memoryUsage().rss / 2 ** 20, renewalRows, queries, rates, plans };
}

/** Sizes of one run of measurement 4. */
export interface StoreScaleOptions {
  /** Cards to load on PostgreSQL (two certificates each: 500,000 for 10⁶ certificates). */
  postgresCards: number;
  /** Cards to aim for on PGlite; loading stops at `pgliteBudgetSeconds`. */
  pgliteCards: number;
  postgresBudgetSeconds: number;
  pgliteBudgetSeconds: number;
  /** Cards per load transaction. */
  chunk: number;
  /** Timed runs of each query. */
  samples: number;
}

/** Runs measurement 4. */
export async function measureStoreOps(options: StoreScaleOptions): Promise<BenchSection> {
  const template = await realHistory();
  const shape: InventoryShape = { ...SHAPE_BASE, epoch: Date.now() };
  const results: Measured[] = [];

  let cluster: PostgresCluster | undefined;
  let pool: pg.Pool | undefined;
  try {
    cluster = await startPostgres();
    pool = new pg.Pool({ connectionString: cluster.createDatabase("scale"), max: 4 });
    const executor = new PostgresExecutor(pool);
    await migrate(executor, migrations);
    const label = "PostgreSQL 15 (`PostgresStore`)";
    const loaded = await load(executor, template, shape, {
      cards: options.postgresCards,
      chunk: options.chunk,
      lanes: 2,
      budgetSeconds: options.postgresBudgetSeconds,
      label,
    });
    results.push(await measure(label, executor, loaded, template, shape, options.samples));
  } finally {
    await pool?.end();
    cluster?.stop();
  }

  const db = await PGlite.create({ dataDir: join(workDir("store-scale"), "pglite") });
  try {
    const executor = new PgliteExecutor(db);
    await migrate(executor, migrations);
    const label = "PGlite on disk (`PgliteStore`)";
    const loaded = await load(executor, template, shape, {
      cards: options.pgliteCards,
      chunk: options.chunk,
      lanes: 1,
      budgetSeconds: options.pgliteBudgetSeconds,
      label,
    });
    results.push(await measure(label, executor, loaded, template, shape, options.samples));
  } finally {
    await db.close();
  }
  return report(results, template, shape, options);
}

function report(
  results: Measured[],
  template: CardHistoryTemplate,
  shape: InventoryShape,
  options: StoreScaleOptions,
): BenchSection {
  const certificateBytes = Buffer.from(template.certificates[0]?.certificate ?? "", "base64").length;
  const mb = (bytes: number) => fixed(bytes / 2 ** 20, 0);
  const loadTable = table(
    [
      "store",
      ...LOADED_TABLES.map((t) => `${t} rows`),
      "load s (rows/s)",
      "index build s",
      "ANALYZE s",
      "database MB",
      "process RSS MB",
    ],
    results.map((r) => {
      const total = Object.values(r.loaded.rows).reduce((a, b) => a + b, 0);
      return [
        r.label,
        ...LOADED_TABLES.map((t) => (r.loaded.rows[t] ?? 0).toLocaleString("en")),
        `${fixed(r.loaded.loadSeconds)} (${fixed(total / r.loaded.loadSeconds, 0)})`,
        fixed(r.loaded.indexSeconds),
        fixed(r.loaded.analyzeSeconds),
        mb(r.loaded.bytes),
        fixed(r.rssMb, 0),
      ];
    }),
  );
  const queryNames = Object.keys(results[0]?.queries ?? {});
  const queryTable = table(
    ["query (ms, median / p95)", ...results.map((r) => r.label)],
    queryNames.map((q) => [
      q,
      ...results.map((r) => {
        const s = r.queries[q];
        return s === undefined ? "n/a" : `${fixed(s.median)} / ${fixed(s.p95)}`;
      }),
    ]),
  );
  const rateNames = Object.keys(results[0]?.rates ?? {});
  const rateTable = table(
    ["operation (ops/s)", ...results.map((r) => r.label)],
    rateNames.map((op) => [op, ...results.map((r) => fixed(r.rates[op] ?? Number.NaN, 0))]),
  );
  const planNames = Object.keys(results[0]?.plans ?? {});
  const planTable = table(
    ["statement", ...results.map((r) => r.label)],
    planNames.map((p) => [
      p,
      ...results.map((r) => {
        const plan = r.plans[p];
        return plan === undefined ? "n/a" : `${plan.text} (${fixed(plan.serverMs, 2)} ms)`;
      }),
    ]),
  );

  const postgres = results[0];
  const pglite = results[1];
  const totalRows = Object.values(postgres?.loaded.rows ?? {}).reduce((a, b) => a + b, 0);
  const portSeconds = totalRows / (postgres?.rates["create (own transaction each)"] ?? Number.NaN);
  const certificatesOf = (r: Measured | undefined) => r?.loaded.rows["certificates"] ?? 0;
  const goalLines: string[] = [];
  if (postgres !== undefined) {
    const page = postgres.queries["renewal, first page of 100"];
    const historyKey = Object.keys(postgres.queries).find((k) => k.startsWith("a card's full history"));
    const hist = historyKey === undefined ? undefined : postgres.queries[historyKey];
    const met = page !== undefined && hist !== undefined && page.p95 < GOAL_MS && hist.p95 < GOAL_MS;
    const full = postgres.queries["renewal, every row (no limit)"];
    const fullServer = postgres.plans["renewal, every row"]?.serverMs ?? Number.NaN;
    goalLines.push(
      `**Goal (under ${GOAL_MS} ms on PostgreSQL at ${DESIGN_CERTIFICATES.toLocaleString("en")} certificates): ` +
        `${certificatesOf(postgres) >= DESIGN_CERTIFICATES ? "" : `not reached in size (${certificatesOf(postgres).toLocaleString("en")} certificates loaded); at the size loaded, `}` +
        `${met ? "met" : "missed"}** — renewal page of 100: ${fixed(page?.median ?? Number.NaN)} ms median, ` +
        `${fixed(page?.p95 ?? Number.NaN)} ms p95; full history of a card: ${fixed(hist?.median ?? Number.NaN)} ms median, ` +
        `${fixed(hist?.p95 ?? Number.NaN)} ms p95. The whole renewal list (${postgres.renewalRows.toLocaleString("en")} ` +
        `certificates) takes ${fixed(full?.median ?? Number.NaN)} ms through the port, of which ${fixed(fullServer)} ms ` +
        "inside PostgreSQL and the rest transferring and decoding the records: the API pages (`limit`), and a " +
        "renewal job should walk the pages rather than ask for every row.",
    );
  }
  if (pglite !== undefined) {
    const reached = certificatesOf(pglite);
    const total = Object.values(pglite.loaded.rows).reduce((a, b) => a + b, 0);
    const rate = total / pglite.loaded.loadSeconds;
    const projected =
      (DESIGN_CERTIFICATES / Math.max(1, reached)) * (pglite.loaded.loadSeconds + pglite.loaded.indexSeconds);
    goalLines.push(
      reached >= DESIGN_CERTIFICATES
        ? `PGlite holds all ${DESIGN_CERTIFICATES.toLocaleString("en")} certificates too.`
        : `**PGlite was loaded with ${reached.toLocaleString("en")} certificates, not ${DESIGN_CERTIFICATES.toLocaleString("en")}**, ` +
            `because of time: it loads ${fixed(rate, 0)} rows/s on one thread (PostgreSQL in WebAssembly, the ` +
            "load cannot use the second core), so the full size would take about " +
            `${fixed(projected, 0)} s of loading and index building — beyond this section's budget of ` +
            `${options.pgliteBudgetSeconds} s in a bench run of about 12 minutes. At the size loaded the on-disk ` +
            `database was ${mb(pglite.loaded.bytes)} MB and the bench process ${fixed(pglite.rssMb, 0)} MB resident.`,
    );
  }

  const markdown = [
    "Each store is filled with SQL (`INSERT … SELECT … FROM generate_series`, store-bulk-load.ts):",
    "through the `Store` port every row is a statement sent from JavaScript — at the *create* rate",
    `measured below on PostgreSQL, the ${totalRows.toLocaleString("en")} rows loaded there would take ${fixed(portSeconds / 60, 0)} minutes. Every loaded card copies the records one real issue`,
    "wrote (staff PIV policy, two certificates): its card record, the issue operation with its",
    `persisted workflow snapshot, ${template.requests.length} certification requests with their CSRs,`,
    `${template.certificates.length} certificates — the same real ${certificateBytes}-byte certificate in every row, with`,
    "id, serial, owner, dates and status varied per row — and its audit events, with ids, owner, dates",
    "and status varied per row. The JSON of each row matches its columns, so the port reads it back as",
    `a valid record. ${shape.cardsPerUser} cards per user; expiries are spread over three years, the first two`,
    "before the run's start (those certificates are `expired`); 5 % of cards `revoked`, the rest `written`.",
    `Audit events: the real issue wrote ${template.audit.length} per card; every ${shape.auditEvery}th card gets all of`,
    "them and the others none, which keeps that table near the certificates' size instead of 8×",
    "while each measured history is complete (the audit rows keep the template's shape; their hash",
    "chain is not recomputed, and nothing here verifies it). The secondary indexes are dropped",
    "before the load and re-created from their own definitions after it (as a restore does; the",
    "schema ends identical to the migrations', 0003 included), then ANALYZE. PostgreSQL 15 runs as a",
    "private cluster the bench starts (temporary directory, loopback port, `fsync=off`, default",
    "`shared_buffers`) and loads on two connections; PGlite on disk loads on its one thread.",
    "",
    loadTable,
    "",
    "Then, one call at a time through the `Store` port (`SqlStore` over each backend):",
    "",
    '- *renewal*: `certificates.list({ status: "written", expiringBefore: now + 30 days, limit })`, soonest',
    "  first — the certificates on cards that expire within 30 days. Migration 0003 adds the",
    "  `(status, not_after, id)` index it needs; the plans below show the query without it too.",
    "- *expiringBefore only*: the same without a status, as the port allows; soonest first means the",
    "  long-expired certificates first, so it serves housekeeping, not renewal.",
    "- *a card's full history*: `certificates.list({ cardId })`, `operations.list({ cardId })`,",
    "  `requests.listByOperation` for each operation and `audit.list({ cardId })`, on random cards with",
    "  an audit history; each call is checked to return the card's every record.",
    `- ${options.samples} timed runs of each (3 for the unpaged renewal list), after one untimed run.`,
    "",
    queryTable,
    "",
    rateTable,
    "",
    "Plans (`EXPLAIN ANALYZE`, after the tables' ANALYZE) of the statements behind those calls, with the",
    "parameters of one measured call, and in brackets the statement's execution time inside the",
    "database — the rest of a call's time is the round trip, transferring the rows and decoding",
    "their JSON into records:",
    "",
    planTable,
    "",
    ...goalLines.flatMap((l) => [l, ""]),
  ].join("\n");
  const headline: Record<string, string | number> = {};
  for (const r of results) {
    headline[`${r.label} certificates`] = certificatesOf(r);
    for (const [q, s] of Object.entries(r.queries)) headline[`${r.label} ${q} ms`] = fixed(s.median);
  }
  return { title: "4. Store at scale", markdown, headline };
}
