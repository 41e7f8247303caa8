/**
 * Where the ACME adapter remembers which order answers which of our request ids, and which
 * certificates it received. A workflow resumed after a crash submits the same request id again;
 * the ledger sends it back to the same order instead of creating a second one (the idempotency
 * the CertificateAuthority port promises). Revocation needs the whole certificate (RFC 8555
 * §7.6) while the port names it by serial, so issued certificates are kept too.
 */

/** One order we created. */
export interface AcmeOrderEntry {
  /** Our request id (idempotency key). */
  requestId: string;
  /** The order URL, which is also the `caRequestId` cardwright stores. */
  orderUrl: string;
  /** The DER PKCS#10 to finalize with, base64 (kept until the order is finalized). */
  csrBase64: string;
}

/** A certificate received from the ACME server. */
export interface AcmeIssuedEntry {
  /** Serial, lowercase hex without leading zero bytes. */
  serialHex: string;
  /** DER certificate, base64. */
  certificateBase64: string;
  /** DER CA certificates that came with it, issuing CA first, base64. */
  chainBase64: string[];
}

/**
 * Persistence for the ACME adapter. Production hosts back it with their store so it survives a
 * restart; {@link MemoryAcmeOrderLedger} is the default.
 */
export interface AcmeOrderLedger {
  orderByRequestId(requestId: string): Promise<AcmeOrderEntry | undefined>;
  orderByUrl(orderUrl: string): Promise<AcmeOrderEntry | undefined>;
  /** Record an order right after the server created it, before anything else can fail. */
  recordOrder(entry: AcmeOrderEntry): Promise<void>;
  recordIssued(entry: AcmeIssuedEntry): Promise<void>;
  issuedBySerial(serialHex: string): Promise<AcmeIssuedEntry | undefined>;
  /** The most recently recorded issuance, for the CA chain. */
  lastIssued(): Promise<AcmeIssuedEntry | undefined>;
}

/** A ledger in memory: idempotent within one process only. */
export class MemoryAcmeOrderLedger implements AcmeOrderLedger {
  readonly #orders = new Map<string, AcmeOrderEntry>();
  readonly #issued = new Map<string, AcmeIssuedEntry>();
  #last: AcmeIssuedEntry | undefined;

  async orderByRequestId(requestId: string): Promise<AcmeOrderEntry | undefined> {
    return this.#orders.get(requestId);
  }

  async orderByUrl(orderUrl: string): Promise<AcmeOrderEntry | undefined> {
    for (const entry of this.#orders.values()) if (entry.orderUrl === orderUrl) return entry;
    return undefined;
  }

  async recordOrder(entry: AcmeOrderEntry): Promise<void> {
    this.#orders.set(entry.requestId, { ...entry });
  }

  async recordIssued(entry: AcmeIssuedEntry): Promise<void> {
    this.#issued.set(entry.serialHex, { ...entry, chainBase64: [...entry.chainBase64] });
    this.#last = this.#issued.get(entry.serialHex);
  }

  async issuedBySerial(serialHex: string): Promise<AcmeIssuedEntry | undefined> {
    return this.#issued.get(serialHex);
  }

  async lastIssued(): Promise<AcmeIssuedEntry | undefined> {
    return this.#last;
  }
}
