/**
 * The default {@link AuditLog}: append-only events over `Store.audit`, each linked to the one
 * before by `hash = SHA-256(prevHash ‖ canonicalJson(event without hash))`, so rewriting or
 * deleting any event breaks every hash after it. Concurrent appenders race for the next `seq`;
 * the store's uniqueness on `seq` and its link check make the loser retry against the new head.
 */
import { createHash } from "node:crypto";
import type { AuditEvent, AuditEventInput } from "../domain/audit.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import type { AuditLog, AuditVerification } from "../ports/audit-log.js";
import type { Clock, Random } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";
import { systemClock } from "../runtime/clock.js";
import { cryptoRandom } from "../runtime/crypto-random.js";
import { canonicalJson } from "./canonical-json.js";
import { GENESIS_HASH } from "./genesis-hash.js";

export { GENESIS_HASH } from "./genesis-hash.js";

/** Hash of an event: SHA-256 hex over `prevHash` followed by the canonical JSON of the event without `hash`. */
export function auditEventHash(event: Omit<AuditEvent, "hash">): string {
  const { hash: _ignored, ...rest } = event as AuditEvent;
  return createHash("sha256").update(event.prevHash, "utf8").update(canonicalJson(rest), "utf8").digest("hex");
}

/** Where the next event goes: after `seq` (0 for an empty log), linking to `hash`. */
interface ChainHead {
  seq: number;
  hash: string;
}

/** Options for {@link HashChainAuditLog}. */
export interface HashChainAuditLogOptions {
  clock?: Clock;
  random?: Random;
  /** Attempts when concurrent appenders take the same `seq` or the remembered head is stale; default 50. */
  maxAttempts?: number;
}

/**
 * Hash-chained audit log over a {@link Store}. It remembers the head it last appended or read,
 * so an append is one store call (`audit.append`) instead of two (`audit.last` + `audit.append`)
 * while this instance's idea of the head is right.
 */
export class HashChainAuditLog implements AuditLog {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #maxAttempts: number;
  /**
   * A hint, never trusted: the head as this instance last saw it, `undefined` until it has seen
   * one. It may be stale — another appender moved the head, or the event it names was appended
   * in a transaction that rolled back and so never existed. Either way the store refuses an event
   * that does not link to the stored event before it (`STORE_CONFLICT`), and the append re-reads
   * `last()` and retries; a stale hint costs one refused call, never a gap or a broken link.
   */
  #head: ChainHead | undefined;

  constructor(store: Store, options: HashChainAuditLogOptions = {}) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? cryptoRandom;
    this.#maxAttempts = options.maxAttempts ?? 50;
  }

  /**
   * Append an event after the current head. Pass `tx` to append inside a
   * `store.transaction` so the event lands atomically with the change it records.
   * @throws CardwrightError `STORE_CONFLICT` when the head kept moving for `maxAttempts` tries;
   * store errors otherwise.
   */
  async append(input: AuditEventInput, tx?: Store): Promise<AuditEvent> {
    const store = tx ?? this.#store;
    const body = stripUndefined(input);
    let head = this.#head;
    let lastError: unknown;
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const tried = head;
      try {
        const event =
          head !== undefined
            ? await this.#appendAfter(store, body, head)
            : tx !== undefined
              ? await this.#appendAfterLast(tx, body)
              : // Read and append in one transaction: on a store that runs transactions one at a
                // time (PGlite, the in-memory store) no rival can append between the two, so a
                // crowd of appenders cannot keep moving the head under this one. Read apart, the
                // read and the append each queued behind the crowd's transactions, and the head
                // read was stale by the time the append ran, attempt after attempt.
                await store.transaction((own) => this.#appendAfterLast(own, body));
        // Concurrent appends through this instance finish in any order; keep the newest head.
        if (this.#head === undefined || this.#head.seq <= event.seq) this.#head = { seq: event.seq, hash: event.hash };
        return event;
      } catch (err) {
        // Retried inside a transaction too: on a server store (PostgreSQL, READ COMMITTED) every
        // statement sees what rival transactions committed, so re-reading the head finds the
        // event that took this seq. Inside a transaction of a store that runs them one at a time,
        // only a stale hint gets here, and the re-read replaces it.
        if (!isCardwrightError(err, "STORE_CONFLICT")) throw err;
        lastError = err;
        // The store may say which head it saw: on a first refusal (usually a stale hint) retry
        // after that one at once, without reading it — unless it is the very head just tried: the
        // statement then waited for a rival's insert at this seq and saw the chain as it was
        // before the rival committed (a statement reads what was committed when it began).
        const seen = attempt === 0 ? conflictHead(err.details) : undefined;
        head = seen !== undefined && !(seen.seq === tried?.seq && seen.hash === tried.hash) ? seen : undefined;
        // Appenders are racing: the next ones through this instance read the head as the store has
        // it rather than skip ahead of those retrying (which would let newcomers starve them).
        this.#head = undefined;
        if (head === undefined) {
          // Jittered backoff so a crowd of appenders spreads out instead of colliding again; the
          // head is read after it, when it is current, not before.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
        }
      }
    }
    throw new CardwrightError(
      "STORE_CONFLICT",
      `appending audit event: head kept moving after ${this.#maxAttempts} attempts`,
      {
        details: { recordKind: "audit" },
        cause: lastError,
      },
    );
  }

  /** Appends `body` through `store` as the event after `head`. */
  async #appendAfter(store: Store, body: AuditEventInput, head: ChainHead): Promise<AuditEvent> {
    const unhashed: Omit<AuditEvent, "hash"> = {
      ...body,
      seq: head.seq + 1,
      id: this.#random.uuid(),
      at: this.#clock.now().toISOString(),
      prevHash: head.hash,
    };
    const event: AuditEvent = { ...unhashed, hash: auditEventHash(unhashed) };
    await store.audit.append(event);
    return event;
  }

  /** Reads the head from `store`, remembers it, and appends `body` after it. */
  async #appendAfterLast(store: Store, body: AuditEventInput): Promise<AuditEvent> {
    const last = await store.audit.last();
    const head = last === null ? { seq: 0, hash: GENESIS_HASH } : { seq: last.seq, hash: last.hash };
    // Taken as is, even when lower than the hint: after a rollback the head does move back.
    this.#head = head;
    return this.#appendAfter(store, body, head);
  }

  /** Recompute every hash and link from the first event; report the first broken `seq`. */
  async verify(): Promise<AuditVerification> {
    const pageSize = 500;
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    for (;;) {
      const page = await this.#store.audit.list({ fromSeq: expectedSeq, limit: pageSize });
      for (const event of page) {
        if (event.seq !== expectedSeq) {
          return {
            ok: false,
            count,
            brokenAt: expectedSeq,
            reason: `event ${expectedSeq} is missing (found ${event.seq})`,
          };
        }
        if (event.prevHash !== prevHash) {
          return {
            ok: false,
            count,
            brokenAt: event.seq,
            reason: `event ${event.seq} does not link to event ${event.seq - 1}`,
          };
        }
        const { hash, ...rest } = event;
        if (auditEventHash(rest) !== hash) {
          return { ok: false, count, brokenAt: event.seq, reason: `event ${event.seq} was altered (hash mismatch)` };
        }
        prevHash = hash;
        expectedSeq++;
        count++;
      }
      if (page.length < pageSize) return { ok: true, count };
    }
  }
}

/** The head a store's `STORE_CONFLICT` reported (`details.headSeq`, `details.headHash`), if it did. */
function conflictHead(details: Readonly<Record<string, unknown>> | undefined): ChainHead | undefined {
  const seq = details?.headSeq;
  if (seq === 0) return { seq: 0, hash: GENESIS_HASH };
  const hash = details?.headHash;
  return typeof seq === "number" && Number.isSafeInteger(seq) && seq > 0 && typeof hash === "string"
    ? { seq, hash }
    : undefined;
}

/**
 * The input as the store will keep it: a JSON round trip drops `undefined` members and turns
 * Dates, NaN and the like into their JSON, so the hash is computed over exactly what `verify()`
 * later reads back. The native round trip is the cheapest exact way (about 4 µs for a typical
 * event); a hand-written walk would have to copy every `JSON.stringify` rule to keep the bytes.
 */
function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
