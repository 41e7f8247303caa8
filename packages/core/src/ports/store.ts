/**
 * The `Store` port: cards, certificate inventory, requests, persisted workflows and audit
 * events. Every record carries a `version`; `update` succeeds only if the caller holds the
 * current version, so two operators acting on one card cannot silently overwrite each other.
 */
import type { AuditEvent } from "../domain/audit.js";
import type { CardRecord, CertificateRecord, OperationRecord, RequestRecord, Versioned } from "../domain/card.js";

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

/**
 * Audit event storage. The chain itself is computed by the {@link AuditLog}; the store
 * guarantees `seq` is unique so two writers cannot fork the chain.
 */
export interface AuditRepository {
  /** Append; `STORE_CONFLICT` when `event.seq` is taken (the caller re-reads `last()` and retries). */
  append(event: AuditEvent): Promise<void>;
  /** The newest event, or `null` for an empty log. */
  last(): Promise<AuditEvent | null>;
  /** Events in `seq` order, from `fromSeq` (inclusive). */
  list(query?: { fromSeq?: number; cardId?: string; limit?: number }): Promise<AuditEvent[]>;
}

/** The store. */
export interface Store {
  readonly cards: CardRepository;
  readonly certificates: CertificateRepository;
  readonly requests: RequestRepository;
  readonly operations: OperationRepository;
  readonly audit: AuditRepository;
  /** Run `fn` atomically: all its writes land or none do. Nested calls join the outer transaction. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
