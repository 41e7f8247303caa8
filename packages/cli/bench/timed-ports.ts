/**
 * Timing decorators for the SDK's ports: each implements the port, delegates every call and
 * meters the wall time the call took, so the SDK's own share of an issue can be isolated.
 */
import type {
  AgentTaskRepository,
  ApprovalRepository,
  AuditRepository,
  CaResult,
  CardRepository,
  CertificateAuthority,
  CertificateRepository,
  CertificateRequest,
  DocumentRepository,
  LeaseRepository,
  OperationRepository,
  RenewalRequest,
  RenewalSupport,
  RequestRepository,
  RevocationReason,
  SecurityAnswersRepository,
  Store,
} from "@cardwright/core";
import type { ApduTransport, TransmitOptions } from "@cardwright/pcsc";
import { BusyMeter } from "./stats.js";

/**
 * A {@link BusyMeter} for one party (card, CA or store) that also drives a meter shared by all
 * parties. Parties overlap in time — the SDK persists a step's snapshot to the store while the
 * card generates the next key — so summing their meters counts those moments twice, and "wall
 * minus the sum" comes out too small, even negative. The shared meter counts each moment once:
 * wall minus it is the time no party was working, the SDK's.
 */
export class PartyMeter extends BusyMeter {
  readonly #union: BusyMeter;

  constructor(union: BusyMeter) {
    super();
    this.#union = union;
  }

  override enter(): void {
    super.enter();
    this.#union.enter();
  }

  override exit(): void {
    super.exit();
    this.#union.exit();
  }
}

/**
 * An {@link ApduTransport} that meters every exchange with the card under it: the card's share of
 * an issue on the same clock as the CA's and the store's, so overlaps are seen.
 */
export class TimedTransport implements ApduTransport {
  readonly reader?: string;
  readonly #inner: ApduTransport;
  readonly #meter: BusyMeter;

  constructor(inner: ApduTransport, meter: BusyMeter) {
    if (inner.reader !== undefined) this.reader = inner.reader;
    this.#inner = inner;
    this.#meter = meter;
  }

  transmit(command: Uint8Array, options?: TransmitOptions): Promise<Uint8Array> {
    return this.#meter.run(() => this.#inner.transmit(command, options));
  }

  getAtr(): Promise<Uint8Array> {
    return this.#meter.run(() => this.#inner.getAtr());
  }

  reset(): Promise<void> {
    return this.#meter.run(() => this.#inner.reset());
  }
}

/** A {@link CertificateAuthority} that meters every call to `inner`. */
export class TimedCertificateAuthority implements CertificateAuthority {
  readonly id: string;
  readonly #inner: CertificateAuthority;
  readonly #meter: BusyMeter;

  constructor(inner: CertificateAuthority, meter: BusyMeter) {
    this.id = inner.id;
    this.#inner = inner;
    this.#meter = meter;
  }

  submit(request: CertificateRequest): Promise<CaResult> {
    return this.#meter.run(() => this.#inner.submit(request));
  }

  poll(caRequestId: string): Promise<CaResult> {
    return this.#meter.run(() => this.#inner.poll(caRequestId));
  }

  get renewal(): RenewalSupport {
    return this.#inner.renewal;
  }

  renew(request: RenewalRequest): Promise<CaResult> {
    return this.#meter.run(() => this.#inner.renew(request));
  }

  revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    return this.#meter.run(() => this.#inner.revoke(serialHex, reason));
  }

  suspend(serialHex: string): Promise<void> {
    return this.#meter.run(() => this.#inner.suspend(serialHex));
  }

  unsuspend(serialHex: string): Promise<void> {
    return this.#meter.run(() => this.#inner.unsuspend(serialHex));
  }

  chain(): Promise<Uint8Array[]> {
    return this.#meter.run(() => this.#inner.chain());
  }
}

/** How many calls a {@link TimedStore} (and the transactions it opened) received. */
export interface StoreCallCounts {
  repositoryCalls: number;
  transactions: number;
}

/** `repository` with every method metered and counted (all repository methods are async). */
function metered<T extends object>(repository: T, meter: BusyMeter, counts: StoreCallCounts): T {
  return new Proxy(repository, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counts.repositoryCalls++;
        return meter.run(async () => value.apply(target, args));
      };
    },
  });
}

/**
 * A {@link Store} that meters every repository call and the transaction's own cost (BEGIN,
 * COMMIT, the lock): the time `fn` runs inside a transaction is the caller's, not the store's.
 */
export class TimedStore implements Store {
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
  /** Calls so far, shared with the stores handed to transactions. */
  readonly counts: StoreCallCounts;
  readonly #inner: Store;
  readonly #meter: BusyMeter;

  constructor(inner: Store, meter: BusyMeter, counts: StoreCallCounts = { repositoryCalls: 0, transactions: 0 }) {
    this.#inner = inner;
    this.#meter = meter;
    this.counts = counts;
    this.cards = metered(inner.cards, meter, counts);
    this.certificates = metered(inner.certificates, meter, counts);
    this.requests = metered(inner.requests, meter, counts);
    this.operations = metered(inner.operations, meter, counts);
    this.audit = metered(inner.audit, meter, counts);
    this.leases = metered(inner.leases, meter, counts);
    this.approvals = metered(inner.approvals, meter, counts);
    this.documents = metered(inner.documents, meter, counts);
    this.agentTasks = metered(inner.agentTasks, meter, counts);
    this.securityAnswers = metered(inner.securityAnswers, meter, counts);
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    this.counts.transactions++;
    return this.#meter.run(() =>
      this.#inner.transaction(async (tx) => {
        this.#meter.exit();
        try {
          return await fn(new TimedStore(tx, this.#meter, this.counts));
        } finally {
          this.#meter.enter();
        }
      }),
    );
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
