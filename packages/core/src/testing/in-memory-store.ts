/**
 * An in-memory {@link Store} with the same observable behaviour as the SQL stores: records are
 * copied through JSON on every read and write (what a JSONB column does, so tests catch values
 * that would not survive a real store), `update` checks the version, and `transaction` commits
 * all of its writes or none.
 */
import type { AuditEvent } from "../domain/audit.js";
import type { CardRecord, CertificateRecord, OperationRecord, RequestRecord, Versioned } from "../domain/card.js";
import type { AgentTaskRecord, ApprovalRecord, DocumentRecord, SecurityAnswersRecord } from "../domain/records.js";
import { CardwrightError, StoreConflictError } from "../errors.js";
import type { Clock } from "../ports/runtime.js";
import type {
  AgentTaskQuery,
  AgentTaskRepository,
  ApprovalQuery,
  ApprovalRepository,
  AuditRepository,
  CardLease,
  CardQuery,
  CardRepository,
  CertificateQuery,
  CertificateRepository,
  DocumentQuery,
  DocumentRepository,
  LeaseRepository,
  NewRecord,
  OperationRepository,
  RequestRepository,
  SecurityAnswersRepository,
  Store,
} from "../ports/store.js";
import { cardLeasedError, leaseLostError, requireLeaseOwner, requireLeaseTtl } from "../store/lease-checks.js";
import {
  type AuditHead,
  auditEventExistsError,
  auditEventLinks,
  auditLinkBrokenError,
  auditSeqTakenError,
  recordBody,
  recordExistsError,
  recordJsonText,
  recordMissingError,
  requireAuditEvent,
  requireCertificateRecord,
  requireRecordId,
  requireStoreInstant,
  requireStoreLimit,
} from "../store/record-checks.js";
import { type Table, TableOverlay } from "./table-overlay.js";

type Row = Versioned & { id: string };

interface Tables {
  cards: Table<string, CardRecord>;
  certificates: Table<string, CertificateRecord>;
  requests: Table<string, RequestRecord>;
  operations: Table<string, OperationRecord>;
  /** Keyed by `seq`. */
  audit: Table<number, AuditEvent>;
  /** Audit event id → seq: ids are unique too. */
  auditIds: Table<string, number>;
  /** Keyed by card id. */
  leases: Table<string, CardLease>;
  approvals: Table<string, ApprovalRecord>;
  documents: Table<string, DocumentRecord>;
  agentTasks: Table<string, AgentTaskRecord>;
  securityAnswers: Table<string, SecurityAnswersRecord>;
}

/** The committed tables: each transaction's overlay is written into these. */
type CommittedTables = { [N in keyof Tables]: Tables[N] extends Table<infer K, infer V> ? Map<K, V> : never };

type RecordTable = Exclude<keyof Tables, "audit" | "leases">;

/** How a repository reaches the tables: committed state, or a transaction's working copy. */
interface Access {
  read(): Tables;
  write<T>(fn: (tables: Tables) => T): Promise<T>;
}

/** Options for {@link InMemoryStore}. */
export interface InMemoryStoreOptions {
  /** Source of `createdAt`/`updatedAt` and of lease time; the system clock by default. */
  clock?: Clock;
}

/** Serialises writers. Waiters run in arrival order. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

function emptyTables(): CommittedTables {
  return {
    cards: new Map(),
    certificates: new Map(),
    requests: new Map(),
    operations: new Map(),
    audit: new Map(),
    auditIds: new Map(),
    leases: new Map(),
    approvals: new Map(),
    documents: new Map(),
    agentTasks: new Map(),
    securityAnswers: new Map(),
  };
}

/**
 * A transaction's view of the tables: its writes to a table go to an overlay of that table (see
 * {@link TableOverlay}), written into the committed tables when it commits and dropped otherwise.
 */
class WorkingTables {
  readonly #overlays: Partial<Record<keyof Tables, TableOverlay<unknown, unknown>>> = {};
  /** The tables as this transaction sees them: its overlays, the committed tables otherwise. */
  readonly view = {} as Tables;
  /** The same, but a table gets its overlay before it is handed out. */
  readonly writable = {} as Tables;

  constructor(base: CommittedTables) {
    for (const name of Object.keys(base) as (keyof Tables)[]) {
      Object.defineProperty(this.view, name, { get: () => this.#overlays[name] ?? base[name] });
      Object.defineProperty(this.writable, name, {
        get: () => {
          this.#overlays[name] ??= new TableOverlay(base[name] as Map<unknown, unknown>);
          return this.#overlays[name];
        },
      });
    }
  }

  /** Writes this transaction's changes into the committed tables. */
  commit(): void {
    for (const overlay of Object.values(this.#overlays)) overlay.commit();
  }
}

/**
 * A JSON round trip, so values behave exactly as they would after a JSONB column — including
 * refusing NUL characters, which PostgreSQL text and `jsonb` cannot store.
 */
function jsonCopy<T>(value: T, what: string): T {
  return JSON.parse(recordJsonText(value, what)) as T;
}

/** The shared limit check, with "no limit" as a count `slice` understands. */
function maxRows(limit: number | undefined): number {
  return requireStoreLimit(limit) ?? Number.POSITIVE_INFINITY;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `ORDER BY created_at, id` — ISO strings from one clock sort as instants. */
function byCreation(a: Row, b: Row): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return compareIds(a.id, b.id);
}

/** `ORDER BY not_after, id`, for certificates that all have a `notAfter`. */
function bySoonestExpiry(a: CertificateRecord, b: CertificateRecord): number {
  return Date.parse(a.notAfter ?? "") - Date.parse(b.notAfter ?? "") || compareIds(a.id, b.id);
}

class MemoryRepository<T extends Row> {
  constructor(
    protected readonly kind: string,
    private readonly table: RecordTable,
    protected readonly access: Access,
    private readonly clock: Clock,
  ) {}

  protected rows(): Table<string, T> {
    return this.access.read()[this.table] as unknown as Table<string, T>;
  }

  protected query(
    filter: (row: T) => boolean,
    limit: number | undefined,
    order: (a: T, b: T) => number = byCreation,
  ): T[] {
    const max = maxRows(limit);
    return [...this.rows().values()]
      .filter(filter)
      .sort(order)
      .slice(0, max)
      .map((row) => jsonCopy(row, this.kind));
  }

  /** Checks a record can be stored; subclasses add column-level checks the SQL store also makes. */
  protected validate(_record: Omit<T, keyof Versioned>): void {}

  async get(id: string): Promise<T | null> {
    const row = this.rows().get(id);
    return row === undefined ? null : jsonCopy(row, this.kind);
  }

  async create(record: NewRecord<T>): Promise<T> {
    const id = requireRecordId((record as { id?: unknown }).id, this.kind);
    const body = jsonCopy(recordBody<T>(record), this.kind);
    this.validate(body);
    const now = this.clock.now().toISOString();
    const stored = { ...body, version: 1, createdAt: now, updatedAt: now } as T;
    await this.access.write((t) => {
      const rows = t[this.table] as unknown as Table<string, T>;
      if (rows.has(id)) throw recordExistsError(this.kind, id);
      rows.set(id, stored);
    });
    return jsonCopy(stored, this.kind);
  }

  async update(record: T): Promise<T> {
    const id = requireRecordId(record.id, this.kind);
    const body = jsonCopy(recordBody<T>(record), this.kind);
    this.validate(body);
    const now = this.clock.now().toISOString();
    const stored = await this.access.write((t) => {
      const rows = t[this.table] as unknown as Table<string, T>;
      const current = rows.get(id);
      if (current === undefined) throw recordMissingError(this.kind, id);
      if (current.version !== record.version) {
        throw new StoreConflictError(this.kind, id, record.version, current.version);
      }
      const next = { ...body, version: current.version + 1, createdAt: current.createdAt, updatedAt: now } as T;
      rows.set(id, next);
      return next;
    });
    return jsonCopy(stored, this.kind);
  }
}

class MemoryCards extends MemoryRepository<CardRecord> implements CardRepository {
  async list(q: CardQuery = {}): Promise<CardRecord[]> {
    return this.query(
      (c) =>
        (q.userId === undefined || c.userId === q.userId) &&
        (q.deviceSerial === undefined || c.deviceSerial === q.deviceSerial) &&
        (q.state === undefined || c.state === q.state),
      q.limit,
    );
  }
}

class MemoryCertificates extends MemoryRepository<CertificateRecord> implements CertificateRepository {
  protected override validate(record: Omit<CertificateRecord, keyof Versioned>): void {
    requireCertificateRecord(record);
  }

  async list(q: CertificateQuery = {}): Promise<CertificateRecord[]> {
    const before =
      q.expiringBefore === undefined ? undefined : Date.parse(requireStoreInstant(q.expiringBefore, "expiringBefore"));
    // Soonest expiry first when asking for expiring certificates, as the SQL store does.
    const order = before === undefined ? byCreation : bySoonestExpiry;
    return this.query(
      (c) =>
        (q.cardId === undefined || c.cardId === q.cardId) &&
        (q.userId === undefined || c.userId === q.userId) &&
        (q.status === undefined || c.status === q.status) &&
        (before === undefined || (c.notAfter !== undefined && Date.parse(c.notAfter) < before)),
      q.limit,
      order,
    );
  }
}

class MemoryRequests extends MemoryRepository<RequestRecord> implements RequestRepository {
  async listByOperation(operationId: string): Promise<RequestRecord[]> {
    return this.query((r) => r.operationId === operationId, undefined);
  }
}

class MemoryOperations extends MemoryRepository<OperationRecord> implements OperationRepository {
  async list(
    q: { cardId?: string; status?: OperationRecord["status"]; limit?: number } = {},
  ): Promise<OperationRecord[]> {
    return this.query(
      (o) => (q.cardId === undefined || o.cardId === q.cardId) && (q.status === undefined || o.status === q.status),
      q.limit,
    );
  }
}

class MemoryApprovals extends MemoryRepository<ApprovalRecord> implements ApprovalRepository {
  async list(q: ApprovalQuery = {}): Promise<ApprovalRecord[]> {
    return this.query(
      (a) =>
        (q.kind === undefined || a.kind === q.kind) &&
        (q.status === undefined || a.status === q.status) &&
        (q.userId === undefined || a.userId === q.userId) &&
        (q.cardId === undefined || a.cardId === q.cardId) &&
        (q.operationId === undefined || a.operationId === q.operationId),
      q.limit,
    );
  }
}

class MemoryDocuments extends MemoryRepository<DocumentRecord> implements DocumentRepository {
  async list(q: DocumentQuery = {}): Promise<DocumentRecord[]> {
    return this.query(
      (d) =>
        (q.userId === undefined || d.userId === q.userId) &&
        (q.operationId === undefined || d.operationId === q.operationId) &&
        (q.status === undefined || d.status === q.status),
      q.limit,
    );
  }
}

class MemoryAgentTasks extends MemoryRepository<AgentTaskRecord> implements AgentTaskRepository {
  async list(q: AgentTaskQuery = {}): Promise<AgentTaskRecord[]> {
    return this.query(
      (t) =>
        (q.deviceSerials === undefined || q.deviceSerials.includes(t.deviceSerial)) &&
        (q.cardId === undefined || t.cardId === q.cardId) &&
        (q.status === undefined || t.status === q.status),
      q.limit,
    );
  }
}

/**
 * The head of the chain: `append` lets no event in without its predecessor, so the seqs are
 * exactly 1…size and the head is the event at `size`.
 */
function chainHead(t: Tables): AuditHead {
  const head = t.audit.get(t.audit.size);
  return head === undefined ? null : { seq: head.seq, hash: head.hash };
}

class MemoryAudit implements AuditRepository {
  constructor(private readonly access: Access) {}

  async append(event: AuditEvent): Promise<void> {
    const id = requireAuditEvent(event);
    const stored = jsonCopy(event, "audit event");
    await this.access.write((t) => {
      if (t.audit.has(event.seq)) throw auditSeqTakenError(event, chainHead(t));
      if (t.auditIds.has(id)) throw auditEventExistsError(id);
      if (!auditEventLinks(event, t.audit.get(event.seq - 1))) throw auditLinkBrokenError(event, chainHead(t));
      t.audit.set(event.seq, stored);
      t.auditIds.set(id, event.seq);
    });
  }

  async last(): Promise<AuditEvent | null> {
    // Seqs are exactly 1…size (see chainHead): the newest event is the one at `size`.
    const { audit } = this.access.read();
    const newest = audit.get(audit.size);
    return newest === undefined ? null : jsonCopy(newest, "audit event");
  }

  async list(q: { fromSeq?: number; cardId?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    const max = maxRows(q.limit);
    return [...this.access.read().audit.values()]
      .filter(
        (e) => (q.fromSeq === undefined || e.seq >= q.fromSeq) && (q.cardId === undefined || e.cardId === q.cardId),
      )
      .sort((a, b) => a.seq - b.seq)
      .slice(0, max)
      .map((e) => jsonCopy(e, "audit event"));
  }
}

/** Leases timed by the store's clock, each call one step under the store's write lock. */
class MemoryLeases implements LeaseRepository {
  constructor(
    private readonly access: Access,
    private readonly clock: Clock,
  ) {}

  async acquire(cardId: string, owner: string, ttlMs: number): Promise<CardLease> {
    requireRecordId(cardId, "card");
    requireLeaseOwner(owner);
    requireLeaseTtl(ttlMs);
    return this.access.write((t) => {
      const now = this.clock.now().getTime();
      const current = t.leases.get(cardId);
      if (current !== undefined && Date.parse(current.expiresAt) > now) throw cardLeasedError(current);
      const lease: CardLease = {
        cardId,
        owner,
        token: globalThis.crypto.randomUUID(),
        acquiredAt: new Date(now).toISOString(),
        expiresAt: new Date(now + ttlMs).toISOString(),
      };
      t.leases.set(cardId, lease);
      return { ...lease };
    });
  }

  async renew(lease: CardLease, ttlMs: number): Promise<CardLease> {
    requireLeaseTtl(ttlMs);
    return this.access.write((t) => {
      const current = t.leases.get(lease.cardId);
      if (current === undefined || current.token !== lease.token) throw leaseLostError(lease, current ?? null);
      const renewed = { ...current, expiresAt: new Date(this.clock.now().getTime() + ttlMs).toISOString() };
      t.leases.set(lease.cardId, renewed);
      return { ...renewed };
    });
  }

  async release(lease: CardLease): Promise<boolean> {
    return this.access.write((t) => {
      const current = t.leases.get(lease.cardId);
      if (current === undefined || current.token !== lease.token) return false;
      t.leases.delete(lease.cardId);
      return true;
    });
  }

  async get(cardId: string): Promise<CardLease | null> {
    const current = this.access.read().leases.get(cardId);
    return current === undefined ? null : { ...current };
  }
}

const systemClock: Clock = { now: () => new Date() };

/** The repositories over one {@link Access}. */
class MemoryView {
  readonly cards: CardRepository;
  readonly certificates: CertificateRepository;
  readonly requests: RequestRepository;
  readonly operations: OperationRepository;
  readonly audit: AuditRepository;
  readonly leases: LeaseRepository;
  readonly approvals: ApprovalRepository;
  readonly documents: DocumentRepository;
  readonly agentTasks: AgentTaskRepository;
  readonly securityAnswers: SecurityAnswersRepository;

  constructor(access: Access, clock: Clock) {
    this.cards = new MemoryCards("card", "cards", access, clock);
    this.certificates = new MemoryCertificates("certificate", "certificates", access, clock);
    this.requests = new MemoryRequests("request", "requests", access, clock);
    this.operations = new MemoryOperations("operation", "operations", access, clock);
    this.audit = new MemoryAudit(access);
    this.leases = new MemoryLeases(access, clock);
    this.approvals = new MemoryApprovals("approval", "approvals", access, clock);
    this.documents = new MemoryDocuments("document", "documents", access, clock);
    this.agentTasks = new MemoryAgentTasks("agent task", "agentTasks", access, clock);
    this.securityAnswers = new MemoryRepository<SecurityAnswersRecord>(
      "security answers",
      "securityAnswers",
      access,
      clock,
    );
  }
}

/** The store a transaction callback receives; nested `transaction` calls run in it. */
class MemoryTransaction extends MemoryView implements Store {
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {
    throw new CardwrightError("STORE_FAILURE", "close the store, not a transaction");
  }
}

/**
 * In-memory {@link Store} for tests and examples. Concurrent transactions run one at a time;
 * a transaction keeps its writes beside the tables and writes them in only when its callback resolves.
 *
 * Inside `transaction(fn)` use the `tx` argument: a write through the outer store waits for the
 * transaction to end, as it would on a single-connection SQL store, and so never completes.
 */
export class InMemoryStore extends MemoryView implements Store {
  readonly #tables: CommittedTables = emptyTables();
  #closed = false;
  readonly #mutex = new Mutex();
  readonly #clock: Clock;

  /** An empty store. */
  constructor(options: InMemoryStoreOptions = {}) {
    const clock = options.clock ?? systemClock;
    super(
      {
        read: () => this.#open().#tables,
        write: (fn) => this.#mutex.run(async () => fn(this.#open().#tables)),
      },
      clock,
    );
    this.#clock = clock;
  }

  #open(): this {
    if (this.#closed) throw new CardwrightError("STORE_FAILURE", "the store is closed; open a new one");
    return this;
  }

  /**
   * Runs `fn` atomically.
   * @throws whatever `fn` throws, after discarding every write it made.
   */
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      const working = new WorkingTables(this.#open().#tables);
      let finished = false;
      const live = (tables: Tables): Tables => {
        if (finished) throw new CardwrightError("STORE_FAILURE", "the transaction has already ended; use the store");
        return tables;
      };
      const tx = new MemoryTransaction(
        { read: () => live(working.view), write: async (apply) => apply(live(working.writable)) },
        this.#clock,
      );
      try {
        const result = await fn(tx);
        this.#open();
        working.commit();
        return result;
      } finally {
        finished = true;
      }
    });
  }

  /** Drops nothing but refuses further calls with `STORE_FAILURE`, like a closed SQL store. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
