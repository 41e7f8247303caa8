/**
 * The `Store` port: cards, certificate inventory, requests, persisted workflows and audit
 * events. Every record carries a `version`; `update` succeeds only if the caller holds the
 * current version, so two operators acting on one card cannot silently overwrite each other.
 */
import type { AuditEvent } from "../domain/audit.js";
import type { CardRecord, CertificateRecord, OperationRecord, RequestRecord, Versioned } from "../domain/card.js";
import type { AgentTaskRecord, ApprovalRecord, DocumentRecord, SecurityAnswersRecord } from "../domain/records.js";

/** A new record: the store sets `version`, `createdAt` and `updatedAt`. */
export type NewRecord<T extends Versioned> = Omit<T, keyof Versioned>;

/**
 * A collection of versioned records.
 * @throws CardwrightError `STORE_DUPLICATE` on `create` of an existing id; `STORE_CONFLICT`
 * ({@link StoreConflictError}) on `update` with a stale version; `STORE_NOT_FOUND` on `update` of a missing id.
 */
export interface Repository<T extends Versioned & { id: string }> {
  get(id: string): Promise<T | null>;
  /** Insert with version 1. Returns the stored record. */
  create(record: NewRecord<T>): Promise<T>;
  /** Replace the record if `record.version` is current. Returns it with the next version. */
  update(record: T): Promise<T>;
}

/** Filters for listing cards. */
export interface CardQuery {
  userId?: string;
  deviceSerial?: string;
  state?: CardRecord["state"];
  limit?: number;
}

/** Filters for the certificate inventory. */
export interface CertificateQuery {
  cardId?: string;
  userId?: string;
  status?: CertificateRecord["status"];
  /** ISO 8601: certificates whose notAfter is before this instant. */
  expiringBefore?: string;
  limit?: number;
}

export interface CardRepository extends Repository<CardRecord> {
  list(query?: CardQuery): Promise<CardRecord[]>;
}

export interface CertificateRepository extends Repository<CertificateRecord> {
  list(query?: CertificateQuery): Promise<CertificateRecord[]>;
}

export interface RequestRepository extends Repository<RequestRecord> {
  listByOperation(operationId: string): Promise<RequestRecord[]>;
}

export interface OperationRepository extends Repository<OperationRecord> {
  list(query?: { cardId?: string; status?: OperationRecord["status"]; limit?: number }): Promise<OperationRecord[]>;
}

/** Filters for approvals. */
export interface ApprovalQuery {
  kind?: ApprovalRecord["kind"];
  status?: ApprovalRecord["status"];
  userId?: string;
  cardId?: string;
  operationId?: string;
  limit?: number;
}

export interface ApprovalRepository extends Repository<ApprovalRecord> {
  /** Oldest first. */
  list(query?: ApprovalQuery): Promise<ApprovalRecord[]>;
}

/** Filters for documents. */
export interface DocumentQuery {
  userId?: string;
  operationId?: string;
  status?: DocumentRecord["status"];
  limit?: number;
}

export interface DocumentRepository extends Repository<DocumentRecord> {
  /** Oldest first. */
  list(query?: DocumentQuery): Promise<DocumentRecord[]>;
}

/** Filters for agent tasks. */
export interface AgentTaskQuery {
  /** Tasks for any of these device serials (the cards in an agent's readers). */
  deviceSerials?: readonly string[];
  cardId?: string;
  status?: AgentTaskRecord["status"];
  limit?: number;
}

export interface AgentTaskRepository extends Repository<AgentTaskRecord> {
  /** Oldest first: tasks run in the order they were queued. */
  list(query?: AgentTaskQuery): Promise<AgentTaskRecord[]>;
}

/** Security answers by user id. */
export type SecurityAnswersRepository = Repository<SecurityAnswersRecord>;

/**
 * Audit event storage. The chain itself is computed by the {@link AuditLog}; the store
 * guarantees `seq` is unique so two writers cannot fork the chain, and refuses an event that
 * does not link to the stored one before it, so a writer with a stale idea of the head cannot
 * leave a gap or a broken link.
 */
export interface AuditRepository {
  /**
   * Append, in one round trip on a server store. The event must link to the stored chain:
   * `seq` 1 with `prevHash` equal to the genesis hash (64 zeros), or the stored event at
   * `seq - 1` has `hash === event.prevHash`.
   * @throws CardwrightError `STORE_CONFLICT` when `event.seq` is taken or the event does not
   * link to the stored chain (the caller re-reads `last()` and retries); `STORE_DUPLICATE` when
   * `event.id` is taken; `STORE_FAILURE` when the event is malformed.
   */
  append(event: AuditEvent): Promise<void>;
  /** The newest event, or `null` for an empty log. */
  last(): Promise<AuditEvent | null>;
  /** Events in `seq` order, from `fromSeq` (inclusive). */
  list(query?: { fromSeq?: number; cardId?: string; limit?: number }): Promise<AuditEvent[]>;
}

/**
 * A lease on a card: while it is current, only its holder runs operations on the card. Leases
 * expire so that the card of a holder that crashed can be taken over; a live holder renews its
 * lease well before `expiresAt`.
 */
export interface CardLease {
  /** The card's id; or, before a card has one, `serial:<device serial>` (serialises its registration). */
  cardId: string;
  /** Who holds it: an instance, worker or operator name, shown to others in `CARD_LEASED`. */
  owner: string;
  /**
   * Unique to this acquisition. Renew and release present it, so a holder whose lease expired and
   * was taken over can neither renew nor release the new holder's lease, even under the same owner name.
   */
  token: string;
  /** ISO 8601, by the store's clock. */
  acquiredAt: string;
  /** ISO 8601, by the store's clock: after this instant anyone may take the card over. */
  expiresAt: string;
}

/**
 * Card leases with compare-and-set semantics: each call is one atomic step in the store, so two
 * processes racing for one card cannot both win. Time is the store's (the database server's clock
 * for the SQL stores), never the caller's, so processes with skewed clocks agree on expiry.
 */
export interface LeaseRepository {
  /**
   * Takes the card when it has no lease or its lease has expired.
   * @throws CardLeasedError `CARD_LEASED` (naming holder and expiry) when someone else's lease is
   * current — also when the same owner holds it: leases are not re-entrant. CardwrightError
   * `STORE_FAILURE` when `ttlMs` is not a whole number of milliseconds from 1 to 86 400 000.
   */
  acquire(cardId: string, owner: string, ttlMs: number): Promise<CardLease>;
  /**
   * Extends the lease to `ttlMs` from now, if `lease.token` still holds the card (also just after
   * expiry, when nobody took it over).
   * @throws CardwrightError `LEASE_LOST` when the card was released or taken over.
   */
  renew(lease: CardLease, ttlMs: number): Promise<CardLease>;
  /** Gives the card up if `lease.token` still holds it. Returns whether it did. */
  release(lease: CardLease): Promise<boolean>;
  /** The card's lease row, current or expired, or `null` when it has none. */
  get(cardId: string): Promise<CardLease | null>;
}

/** The store. */
export interface Store {
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
  /** Run `fn` atomically: all its writes land or none do. Nested calls join the outer transaction. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
