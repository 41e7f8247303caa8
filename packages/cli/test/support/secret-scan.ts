/**
 * The secret scan: collects every secret a run used or produced — PINs and PUKs (chosen, random
 * and factory), administrator credentials (PIV management keys, the factory default included),
 * private keys — and looks for each of them, in every encoding, in everything cardwright wrote or
 * said: log lines, the APDU trace, audit events, every persisted operation snapshot and input,
 * every store write and row (through the store API and as raw SQL), error messages and details,
 * and notifications.
 *
 * Secrets are captured from four independent sources, so one leak path cannot hide another:
 * a {@link RecordingVault} (what was wrapped and unwrapped), a {@link recordingDevice} (what the
 * card was told: `authenticateAdmin`, `setAdminCredential`, `verifyPin`, `changePin`, `changePuk`,
 * `unblockPin`, `importKeyPair`, and its `factoryCredentials`), the virtual card's own image (the
 * PIN, PUK, management key and private keys the card really holds) and what the test chose or was
 * given back (`IssueResult.pin`).
 *
 * How a secret is matched (see {@link scanForSecrets}):
 * - its bytes, and for PINs and PUKs also the PIV reference-data form (padded with 0xFF to 8 bytes,
 *   NIST SP 800-73-4 Part 2 §2.4.3), are looked for as hex (lower and upper case), base64 and
 *   base64url text anywhere in any string, as raw bytes in any binary value or byte array (a
 *   `Uint8Array` serialised to JSON as `{"0":1,…}` or `[1,…]` included), and as raw bytes inside
 *   every base64/hex run decoded at every alignment (so a secret embedded in a larger encoded blob
 *   is found too);
 * - a textual secret (PIN, PUK) is also looked for as UTF-8 text. Short ones — under 16 characters —
 *   are matched as a whole token only: not preceded or followed by a letter or digit. A 6-digit PIN
 *   is 6 characters from a 10-symbol alphabet, and base64 certificates and hex serials are long runs
 *   over alphabets that contain those digits: a hex run of a million characters holds a given
 *   6-digit string by chance with a probability of a few percent, so a plain substring match would
 *   fail on innocent data. Any PIN written as a value — a JSON string or number, `pin=123456`,
 *   `PIN 123456.` — is delimited and still found; its hex/base64 forms (12+ characters, 48+ bits)
 *   are matched anywhere.
 */
import { createPrivateKey } from "node:crypto";
import type {
  AdminCredential,
  Device,
  Logger,
  LogLevel,
  Notification,
  SecretVault,
  Store,
  WrappedSecret,
} from "@cardwright/core";
import type { VirtualPivCard } from "@cardwright/simulator";

/** What a captured secret is. */
export type SecretKind =
  | "pin"
  | "puk"
  | "management-key"
  | "so-pin"
  | "private-key"
  | "vault-secret"
  /** A security-question answer (offline unblock), as given and as normalised. */
  | "security-answer"
  /** An offline-unblock response code: with its challenge it opens the card's PUK. */
  | "unblock-code";

/** One secret the run used or produced. */
export interface CapturedSecret {
  kind: SecretKind;
  /** Where it was first captured, for the report (never the value). */
  label: string;
  /** Every capture of this value (vault, device call, card image...), first first. */
  sources: string[];
  bytes: Uint8Array;
  /** The text form of a textual secret (PIN, PUK, SO PIN). */
  text?: string;
}

/** Shortest secret the scan accepts: below this, chance matches in random data become likely. */
export const MIN_SECRET_BYTES = 6;
/** Textual secrets shorter than this are matched as whole tokens (see the module comment). */
export const TOKEN_MATCH_BELOW = 16;

const TEXTUAL: ReadonlySet<SecretKind> = new Set(["pin", "puk", "so-pin", "security-answer", "unblock-code"]);
const PIV_REFERENCE_DATA_BYTES = 8;

/** Every secret of a run, deduplicated by kind and value. */
export class SecretRegistry {
  readonly #secrets = new Map<string, CapturedSecret>();

  /**
   * Add a secret.
   * @throws Error when it is shorter than {@link MIN_SECRET_BYTES}: such a value cannot be scanned
   * for without false alarms, so a test that uses one must choose a longer one.
   */
  add(kind: SecretKind, label: string, value: string | Uint8Array): void {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : Uint8Array.from(value);
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new Error(
        `secret ${label} (${kind}) has ${bytes.length} bytes; the scan needs at least ${MIN_SECRET_BYTES}`,
      );
    }
    const key = `${kind}:${Buffer.from(bytes).toString("hex")}`;
    const known = this.#secrets.get(key);
    if (known !== undefined) {
      if (!known.sources.includes(label)) known.sources.push(label);
      return;
    }
    const text = typeof value === "string" ? value : TEXTUAL.has(kind) ? new TextDecoder().decode(bytes) : undefined;
    this.#secrets.set(key, { kind, label, sources: [label], bytes, ...(text === undefined ? {} : { text }) });
  }

  /** Add an administrator credential (management key bytes, or SO PIN text). */
  addAdminCredential(credential: AdminCredential, label: string): void {
    if (credential.kind === "management-key") this.add("management-key", label, credential.key);
    else this.add("so-pin", label, credential.pin);
  }

  /**
   * Add a PKCS#8 private key and, separately, its private scalar(s) (EC `d`; RSA `d`, `p`, `q`),
   * so a key written out in another container is still found.
   */
  addPrivateKey(pkcs8: Uint8Array, label: string): void {
    this.add("private-key", `${label} (PKCS#8)`, pkcs8);
    const jwk = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" }).export({ format: "jwk" });
    for (const field of ["d", "p", "q"] as const) {
      const v = jwk[field];
      if (typeof v === "string") this.add("private-key", `${label} (${field})`, Buffer.from(v, "base64url"));
    }
  }

  /** Every secret captured so far. */
  get all(): readonly CapturedSecret[] {
    return [...this.#secrets.values()];
  }

  /** The secrets of one kind. */
  ofKind(kind: SecretKind): CapturedSecret[] {
    return this.all.filter((s) => s.kind === kind);
  }

  /** Whether a textual secret with this value was captured (e.g. the PIN the card holds). */
  hasText(kind: SecretKind, text: string): boolean {
    return this.all.some((s) => s.kind === kind && s.text === text);
  }
}

// ---------------------------------------------------------------- capture

/** Classifies a vault context `cardwright:card:<id>:<purpose>` by its purpose. */
function kindOfContext(context: string): SecretKind {
  const purpose = context.split(":").at(-1) ?? "";
  if (purpose === "admin-credential") return "management-key";
  if (purpose === "puk") return "puk";
  if (purpose.includes("key")) return "private-key";
  return "vault-secret";
}

/**
 * A {@link SecretVault} that remembers every secret it wrapped or unwrapped (real AES-GCM
 * underneath: it delegates to the vault it wraps).
 */
export class RecordingVault implements SecretVault {
  constructor(
    private readonly inner: SecretVault,
    private readonly registry: SecretRegistry,
  ) {}

  async wrap(secret: Uint8Array, context: string): Promise<WrappedSecret> {
    this.#record(secret, context, "wrapped");
    return this.inner.wrap(secret, context);
  }

  async unwrap(wrapped: WrappedSecret, context: string): Promise<Uint8Array> {
    const secret = await this.inner.unwrap(wrapped, context);
    this.#record(secret, context, "unwrapped");
    return secret;
  }

  #record(secret: Uint8Array, context: string, how: string): void {
    const kind = kindOfContext(context);
    // An SO PIN is wrapped under "admin-credential" too; PIV management keys are binary.
    const textual = kind === "management-key" && isPrintable(secret);
    this.registry.add(textual ? "so-pin" : kind, `vault ${how} ${context}`, secret);
  }
}

function isPrintable(bytes: Uint8Array): boolean {
  return bytes.every((b) => b >= 0x20 && b < 0x7f);
}

/**
 * The device, remembering every secret handed to it or read from it. Everything else passes
 * through untouched (a Proxy, so methods added to the `Device` port later pass through as well).
 */
export function recordingDevice(device: Device, registry: SecretRegistry, label: string): Device {
  const record: Record<string, (args: unknown[], result: unknown) => void> = {
    factoryCredentials: (_args, result) => {
      const f = result as { pin: string; puk?: string; admin: AdminCredential };
      registry.add("pin", `${label} factory PIN`, f.pin);
      if (f.puk !== undefined) registry.add("puk", `${label} factory PUK`, f.puk);
      registry.addAdminCredential(f.admin, `${label} factory admin credential`);
    },
    authenticateAdmin: ([c]) => registry.addAdminCredential(c as AdminCredential, `${label} authenticateAdmin`),
    setAdminCredential: ([c]) => registry.addAdminCredential(c as AdminCredential, `${label} setAdminCredential`),
    verifyPin: ([pin]) => registry.add("pin", `${label} verifyPin`, pin as string),
    changePin: ([a, b]) => {
      registry.add("pin", `${label} changePin current`, a as string);
      registry.add("pin", `${label} changePin new`, b as string);
    },
    changePuk: ([a, b]) => {
      registry.add("puk", `${label} changePuk current`, a as string);
      registry.add("puk", `${label} changePuk new`, b as string);
    },
    unblockPin: ([puk, pin]) => {
      registry.add("puk", `${label} unblockPin PUK`, puk as string);
      registry.add("pin", `${label} unblockPin new PIN`, pin as string);
    },
    importKeyPair: ([, , pkcs8]) => registry.addPrivateKey(pkcs8 as Uint8Array, `${label} importKeyPair`),
  };
  return new Proxy(device, {
    get(target, prop) {
      // Methods run on the real device, never on the proxy.
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const hook = typeof prop === "string" ? record[prop] : undefined;
      if (hook === undefined) return value.bind(target);
      return async (...args: unknown[]) => {
        // Recorded before the call: a secret the card refuses (a wrong PIN) is still a secret.
        if (prop !== "factoryCredentials") hook(args, undefined);
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (prop === "factoryCredentials") hook(args, result);
        return result;
      };
    },
  });
}

/** The secrets a virtual card holds right now, read from its image (the card's own truth). */
export function harvestVirtualCard(card: VirtualPivCard, registry: SecretRegistry, label: string): void {
  const image = card.toImage();
  registry.add("pin", `${label} card PIN`, unpadReferenceData(image.pin.value));
  registry.add("puk", `${label} card PUK`, unpadReferenceData(image.puk.value));
  registry.add("management-key", `${label} card management key`, Buffer.from(image.managementKey.key, "hex"));
  for (const k of image.keys)
    registry.addPrivateKey(Buffer.from(k.privateKey, "base64"), `${label} slot ${k.slot} key`);
}

/** PIV reference data (hex, 0xFF-padded to 8 bytes) as the PIN/PUK text it encodes. */
export function unpadReferenceData(hex: string): string {
  const bytes = Buffer.from(hex, "hex");
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0xff) end--;
  return bytes.subarray(0, end).toString("latin1");
}

/** One log line. */
export interface LogLine {
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

/** A {@link Logger} that keeps every line. */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level, message, ...(fields === undefined ? {} : { fields: structuredClone(fields) }) });
  }
}

/** One write the store was asked to make, as given (committed or rolled back). */
export interface RecordedWrite {
  repository: string;
  method: string;
  args: unknown[];
}

const WRITES: ReadonlySet<string> = new Set(["create", "update", "append", "acquire", "renew", "release"]);

/**
 * The store, remembering every write — in transactions too. The store keeps only the latest
 * version of a row (an operation's snapshot is overwritten at every step), so the scan needs the
 * writes themselves to see every snapshot that was ever persisted.
 */
export function recordingStore(store: Store): { store: Store; writes: RecordedWrite[] } {
  const writes: RecordedWrite[] = [];
  const repositories = new WeakMap<object, object>();
  const wrapRepository = (name: string, repository: object): object => {
    let wrapped = repositories.get(repository);
    if (wrapped === undefined) {
      wrapped = new Proxy(repository, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (typeof value !== "function") return value;
          if (typeof prop !== "string" || !WRITES.has(prop)) return value.bind(target);
          return (...args: unknown[]) => {
            writes.push({ repository: name, method: prop, args: structuredClone(args) });
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      repositories.set(repository, wrapped);
    }
    return wrapped;
  };
  const wrapStore = (inner: Store): Store =>
    new Proxy(inner, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === "transaction") {
          return <T>(fn: (tx: Store) => Promise<T>) => target.transaction((tx) => fn(wrapStore(tx)));
        }
        if (typeof value === "function") return value.bind(target);
        if (typeof prop === "string" && typeof value === "object" && value !== null) return wrapRepository(prop, value);
        return value;
      },
    });
  return { store: wrapStore(store), writes };
}

// ---------------------------------------------------------------- places

/** A value to scan, and the place it came from ("log", "audit", "sql:cards"...). */
export interface HaystackEntry {
  place: string;
  /** Where in the place, e.g. the row id. */
  where: string;
  value: unknown;
}

/** Everything to scan. */
export class Haystack {
  readonly entries: HaystackEntry[] = [];

  add(place: string, where: string, value: unknown): void {
    this.entries.push({ place, where, value });
  }

  /** Places with at least one entry. */
  get places(): Set<string> {
    return new Set(this.entries.map((e) => e.place));
  }
}

/** Log lines (the application logger, or the APDU trace channel). */
export function addLogLines(haystack: Haystack, place: string, lines: readonly unknown[], from = 0): void {
  for (let i = from; i < lines.length; i++) haystack.add(place, `line ${i}`, lines[i]);
}

/** Every recorded store write; operation snapshots and inputs get places of their own. */
export function addWrites(haystack: Haystack, writes: readonly RecordedWrite[], from = 0): void {
  for (let i = from; i < writes.length; i++) {
    const w = writes[i]!;
    const where = `write ${i} ${w.repository}.${w.method}`;
    if (w.repository === "operations") {
      const { snapshot, input, ...rest } = (w.args[0] ?? {}) as { snapshot?: unknown; input?: unknown };
      haystack.add("operation-snapshot", where, snapshot);
      haystack.add("operation-input", where, input);
      haystack.add("store-write:operations", where, [rest, ...w.args.slice(1)]);
    } else if (w.repository === "audit") {
      haystack.add("audit", where, w.args);
    } else {
      haystack.add(`store-write:${w.repository}`, where, w.args);
    }
  }
}

/**
 * Every row of every repository, read through the store API. `userIds` are the users whose
 * security answers to read (that repository has no list).
 */
export async function addStoreRows(haystack: Haystack, store: Store, userIds: readonly string[]): Promise<void> {
  const cards = await store.cards.list();
  for (const c of cards) haystack.add("store:cards", c.id, c);
  for (const c of await store.certificates.list()) haystack.add("store:certificates", c.id, c);
  for (const o of await store.operations.list()) {
    const { snapshot, input, ...rest } = o;
    haystack.add("operation-snapshot", o.id, snapshot);
    haystack.add("operation-input", o.id, input);
    haystack.add("store:operations", o.id, rest);
    for (const r of await store.requests.listByOperation(o.id)) haystack.add("store:requests", r.id, r);
  }
  for (const a of await store.approvals.list()) haystack.add("store:approvals", a.id, a);
  for (const d of await store.documents.list()) haystack.add("store:documents", d.id, d);
  for (const t of await store.agentTasks.list()) haystack.add("store:agentTasks", t.id, t);
  for (const id of userIds) {
    const answers = await store.securityAnswers.get(id);
    if (answers !== null) haystack.add("store:securityAnswers", id, answers);
  }
  for (const key of cards.flatMap((c) => [c.id, `serial:${c.deviceSerial}`])) {
    const lease = await store.leases.get(key);
    if (lease !== null) haystack.add("store:leases", key, lease);
  }
  for (const e of await store.audit.list()) haystack.add("audit", `seq ${e.seq}`, e);
}

/** Runs one SQL statement (PGlite's `db.query`, or node-postgres). */
export type SqlQuery = (sql: string) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * `SELECT *` over every table of the database's user schemas — found from the catalogue, not from
 * a list, so a table added by a later migration is scanned without anyone remembering to.
 * @returns the tables read, as `schema.table`.
 */
export async function addSqlTables(haystack: Haystack, query: SqlQuery): Promise<string[]> {
  const { rows } = await query(
    `SELECT table_schema, table_name FROM information_schema.tables
     WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
     ORDER BY 1, 2`,
  );
  const tables: string[] = [];
  for (const r of rows) {
    const name = `${String(r.table_schema)}.${String(r.table_name)}`;
    tables.push(name);
    const ident = `"${String(r.table_schema).replaceAll('"', '""')}"."${String(r.table_name).replaceAll('"', '""')}"`;
    const result = await query(`SELECT * FROM ${ident}`);
    result.rows.forEach((row, i) => {
      haystack.add(`sql:${String(r.table_name)}`, `row ${i}`, row);
    });
  }
  return tables;
}

/** An error as it reaches the caller: message, code, details, cause chain and JSON form. */
export function addError(haystack: Haystack, where: string, err: unknown): void {
  haystack.add("error", where, err);
}

/**
 * Notifications. The `pin` notification exists to carry the PIN: it must carry exactly a PIN the
 * caller got back for that card (`expectedPins`: the random PINs returned for each card id, by issue
 * or a reset), and its other fields are scanned like any notification's.
 * @returns a description of each `pin` notification that does not carry its card's PIN.
 */
export function addNotifications(
  haystack: Haystack,
  sent: readonly Notification[],
  expectedPins: ReadonlyMap<string, readonly string[]>,
  from = 0,
): string[] {
  const problems: string[] = [];
  for (let i = from; i < sent.length; i++) {
    const n = sent[i]!;
    if (n.kind === "pin") {
      const { pin, ...rest } = n;
      const expected = expectedPins.get(n.cardId);
      if (expected === undefined || expected.length === 0) {
        problems.push(`notification ${i}: a pin notification for card ${n.cardId}, which got no random PIN`);
      } else if (!expected.includes(pin))
        problems.push(
          `notification ${i}: the pin notification for card ${n.cardId} carries another value than its PIN`,
        );
      haystack.add("notification", `notification ${i} (pin, without its pin)`, rest);
    } else {
      haystack.add("notification", `notification ${i} (${n.kind})`, n);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- scanning

/** A secret found where it must not be. Never carries the secret's value. */
export interface Finding {
  secret: string;
  kind: SecretKind;
  /** e.g. "text", "raw/hex", "piv-padded/base64", "raw/bytes in base64 blob". */
  encoding: string;
  place: string;
  where: string;
  /** Property path inside the value. */
  path: string;
}

interface Needles {
  secret: CapturedSecret;
  /** Byte forms: "raw" and, for PINs/PUKs, "piv-padded". */
  forms: Array<{ form: string; bytes: Buffer }>;
  /** Encoded text needles: [encoding, text]. */
  encoded: Array<[string, string]>;
  token?: RegExp;
  text?: string;
}

function needlesOf(secret: CapturedSecret): Needles {
  const raw = Buffer.from(secret.bytes);
  const forms = [{ form: "raw", bytes: raw }];
  if ((secret.kind === "pin" || secret.kind === "puk") && raw.length < PIV_REFERENCE_DATA_BYTES) {
    forms.push({
      form: "piv-padded",
      bytes: Buffer.concat([raw, Buffer.alloc(PIV_REFERENCE_DATA_BYTES - raw.length, 0xff)]),
    });
  }
  const encoded: Array<[string, string]> = [];
  for (const { form, bytes } of forms) {
    const hex = bytes.toString("hex");
    encoded.push([`${form}/hex`, hex], [`${form}/HEX`, hex.toUpperCase()]);
    encoded.push([`${form}/base64`, bytes.toString("base64").replace(/=+$/, "")]);
    encoded.push([`${form}/base64url`, bytes.toString("base64url")]);
  }
  const needles: Needles = { secret, forms, encoded };
  if (secret.text !== undefined) {
    if (secret.text.length < TOKEN_MATCH_BELOW) {
      const escaped = secret.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      needles.token = new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`);
    } else {
      needles.text = secret.text;
    }
  }
  return needles;
}

/** Base64, base64url or hex runs long enough to hide a secret. */
const BLOB_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;
/** Comma-separated small numbers, optionally with JSON index keys: a byte array written as text. */
const DECIMAL_LIST = /(?:"\d+"\s*:\s*)?\d{1,3}(?:\s*,\s*(?:"\d+"\s*:\s*)?\d{1,3}){5,}/g;
const MAX_DEPTH = 2;

class Scanner {
  readonly findings: Finding[] = [];
  readonly #seen = new Set<string>();
  #entry: HaystackEntry | undefined;

  constructor(private readonly needles: readonly Needles[]) {}

  scan(entry: HaystackEntry): void {
    this.#entry = entry;
    this.#walk(entry.value, "$", new WeakSet());
  }

  #report(n: Needles, encoding: string, path: string): void {
    const e = this.#entry!;
    const key = `${n.secret.label}|${encoding}|${e.place}|${e.where}|${path}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.findings.push({ secret: n.secret.label, kind: n.secret.kind, encoding, place: e.place, where: e.where, path });
  }

  #walk(value: unknown, path: string, seen: WeakSet<object>): void {
    if (value === null || value === undefined) return;
    if (typeof value === "string") {
      this.#text(value, path, 0);
      return;
    }
    if (typeof value === "number" || typeof value === "bigint") {
      this.#text(String(value), path, 0);
      return;
    }
    if (typeof value !== "object") return;
    if (seen.has(value)) return;
    seen.add(value);
    if (value instanceof Uint8Array) {
      this.#bytes(Buffer.from(value), path, "", 0);
      return;
    }
    if (value instanceof ArrayBuffer) {
      this.#bytes(Buffer.from(value), path, "", 0);
      return;
    }
    if (value instanceof Date) {
      this.#text(value.toISOString(), path, 0);
      return;
    }
    if (value instanceof Error) {
      const e = value as Error & { code?: unknown; details?: unknown; toJSON?: () => unknown };
      this.#walk(e.message, `${path}.message`, seen);
      this.#walk(e.name, `${path}.name`, seen);
      this.#walk(e.code, `${path}.code`, seen);
      this.#walk(e.details, `${path}.details`, seen);
      this.#walk(e.cause, `${path}.cause`, seen);
      if (typeof e.toJSON === "function") this.#walk(e.toJSON(), `${path}.toJSON()`, seen);
      return;
    }
    if (Array.isArray(value)) {
      if (isByteList(value)) this.#bytes(Buffer.from(value as number[]), path, " (array)", 0);
      value.forEach((v, i) => {
        this.#walk(v, `${path}[${i}]`, seen);
      });
      return;
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    // A Uint8Array that went through JSON: {"0":1,"1":2,…}.
    if (keys.length >= MIN_SECRET_BYTES && keys.every((k, i) => k === String(i))) {
      const list = keys.map((k) => record[k]);
      if (isByteList(list)) this.#bytes(Buffer.from(list as number[]), path, " (indexed object)", 0);
    }
    for (const k of keys) {
      this.#text(k, `${path} key ${JSON.stringify(k)}`, 0);
      this.#walk(record[k], `${path}.${k}`, seen);
    }
  }

  #text(s: string, path: string, depth: number): void {
    const via = depth === 0 ? "" : " (inside decoded blob)";
    for (const n of this.needles) {
      if (n.token?.test(s)) this.#report(n, `text${via}`, path);
      if (n.text !== undefined && s.includes(n.text)) this.#report(n, `text${via}`, path);
      for (const [encoding, needle] of n.encoded) if (s.includes(needle)) this.#report(n, `${encoding}${via}`, path);
    }
    // Byte arrays that became text: "[1,2,3…]" or a JSON'd Uint8Array "{"0":1,"1":2…}".
    for (const m of s.matchAll(DECIMAL_LIST)) {
      const list = [...m[0].matchAll(/(?:"\d+"\s*:\s*)?(\d{1,3})/g)].map((x) => Number(x[1]));
      if (isByteList(list)) this.#bytes(Buffer.from(list), path, " (decimal list)", MAX_DEPTH);
    }
    if (depth >= MAX_DEPTH) return;
    for (const m of s.matchAll(BLOB_RUN)) {
      const run = m[0];
      if (/^[0-9a-fA-F]+$/.test(run)) {
        for (const offset of [0, 1]) {
          const hex = run.slice(offset, offset + ((run.length - offset) & ~1));
          this.#bytes(Buffer.from(hex, "hex"), path, " in hex blob", depth + 1);
        }
      }
      const b64 = run.replace(/=+$/, "").replaceAll("-", "+").replaceAll("_", "/");
      for (let offset = 0; offset < 4; offset++) {
        this.#bytes(Buffer.from(b64.slice(offset), "base64"), path, " in base64 blob", depth + 1);
      }
    }
  }

  #bytes(b: Buffer, path: string, container: string, depth: number): void {
    if (b.length < MIN_SECRET_BYTES) return;
    for (const n of this.needles) {
      for (const { form, bytes } of n.forms) {
        if (b.includes(bytes)) this.#report(n, `${form}/bytes${container}`, path);
      }
    }
    // Binary that holds text (a bytea column with JSON in it): scan that text too.
    if (depth < MAX_DEPTH) this.#text(b.toString("latin1"), `${path} (as text)`, depth + 1);
  }
}

function isByteList(list: readonly unknown[]): boolean {
  return (
    list.length >= MIN_SECRET_BYTES &&
    list.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < 256)
  );
}

/** Every occurrence of every secret in every entry of the haystack. */
export function scanForSecrets(haystack: Haystack, secrets: readonly CapturedSecret[]): Finding[] {
  const scanner = new Scanner(secrets.map(needlesOf));
  for (const entry of haystack.entries) scanner.scan(entry);
  return scanner.findings;
}

/** Findings as readable lines for an assertion message (labels only, never values). */
export function describeFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => `${f.kind} "${f.secret}" as ${f.encoding} in ${f.place} (${f.where}) at ${f.path}`)
    .join("\n");
}
