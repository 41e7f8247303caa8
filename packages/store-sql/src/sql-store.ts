/** The `Store` port over any {@link SqlExecutor}. */
import {
  type AgentTaskRepository,
  type ApprovalRepository,
  type AuditRepository,
  type CardRepository,
  CardwrightError,
  type CertificateRepository,
  type Clock,
  type DocumentRepository,
  type LeaseRepository,
  type OperationRepository,
  type RequestRepository,
  type SecurityAnswersRecord,
  type SecurityAnswersRepository,
  type Store,
} from "@cardwright/core";
import { SqlAuditRepository } from "./sql-audit-repository.js";
import { toStoreError } from "./sql-errors.js";
import type { SqlExecutor } from "./sql-executor.js";
import { SqlLeaseRepository } from "./sql-lease-repository.js";
import { SqlRecordRepository } from "./sql-record-repository.js";
import {
  agentTaskTable,
  approvalTable,
  cardTable,
  certificateTable,
  documentTable,
  operationTable,
  requestTable,
  SqlAgentTaskRepository,
  SqlApprovalRepository,
  SqlCardRepository,
  SqlCertificateRepository,
  SqlDocumentRepository,
  SqlOperationRepository,
  SqlRequestRepository,
  securityAnswersTable,
} from "./sql-repositories.js";

/** Options shared by the SQL stores. */
export interface SqlStoreOptions {
  /**
   * Source of `createdAt`/`updatedAt`; the system clock by default. Leases are timed by the
   * database server's clock instead, the one clock every process sharing the store agrees on.
   */
  clock?: Clock;
}

const systemClock: Clock = { now: () => new Date() };

/** The repositories over one executor (a session, or a transaction on it). */
abstract class SqlRepositories {
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

  constructor(executor: SqlExecutor, clock: Clock) {
    this.cards = new SqlCardRepository(executor, cardTable, clock);
    this.certificates = new SqlCertificateRepository(executor, certificateTable, clock);
    this.requests = new SqlRequestRepository(executor, requestTable, clock);
    this.operations = new SqlOperationRepository(executor, operationTable, clock);
    this.audit = new SqlAuditRepository(executor);
    this.leases = new SqlLeaseRepository(executor);
    this.approvals = new SqlApprovalRepository(executor, approvalTable, clock);
    this.documents = new SqlDocumentRepository(executor, documentTable, clock);
    this.agentTasks = new SqlAgentTaskRepository(executor, agentTaskTable, clock);
    this.securityAnswers = new SqlRecordRepository<SecurityAnswersRecord>(executor, securityAnswersTable, clock);
  }
}

/** The store a transaction callback receives; nested `transaction` calls join it. */
class SqlTransactionStore extends SqlRepositories implements Store {
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {
    throw new CardwrightError("STORE_FAILURE", "close the store, not a transaction");
  }
}

/**
 * A {@link Store} on PostgreSQL through a {@link SqlExecutor}; the schema must be migrated.
 *
 * Inside `transaction(fn)` use the `tx` argument: on a single-session executor (PGlite) a call
 * through the outer store waits for the transaction to end, and so never completes.
 */
export class SqlStore extends SqlRepositories implements Store {
  readonly #executor: SqlExecutor;
  readonly #clock: Clock;
  #closed = false;

  constructor(executor: SqlExecutor, options: SqlStoreOptions = {}) {
    const clock = options.clock ?? systemClock;
    super(executor, clock);
    this.#executor = executor;
    this.#clock = clock;
  }

  /**
   * Runs `fn` in one database transaction: all its writes commit or none do.
   * @throws whatever `fn` throws, after rolling back; CardwrightError `STORE_FAILURE` when
   * BEGIN or COMMIT fails.
   */
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    let failure: { error: unknown } | undefined;
    try {
      return await this.#executor.transaction(async (txExecutor) => {
        try {
          return await fn(new SqlTransactionStore(txExecutor, this.#clock));
        } catch (error) {
          failure = { error };
          throw error;
        }
      });
    } catch (err) {
      if (failure !== undefined && err === failure.error) throw err;
      throw toStoreError(err, "running transaction");
    }
  }

  /** Closes the session; later calls fail with `STORE_FAILURE`. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#executor.close();
    } catch (err) {
      throw toStoreError(err, "closing store");
    }
  }
}
