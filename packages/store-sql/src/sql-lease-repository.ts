/**
 * Card leases in `card_leases`. Each operation is one statement that compares and sets in one
 * step, so it is atomic under PostgreSQL's READ COMMITTED without explicit locks: two sessions
 * racing for one card both reach the same row, and the second sees the first's committed lease.
 * Time is `clock_timestamp()` on the server, one clock for every process.
 */
import {
  type CardLease,
  cardLeasedError,
  type LeaseRepository,
  leaseLostError,
  requireLeaseOwner,
  requireLeaseTtl,
  requireRecordId,
} from "@cardwright/core";
import { toStoreError } from "./sql-errors.js";
import type { SqlExecutor } from "./sql-executor.js";
import { toIso } from "./sql-values.js";

interface LeaseRow {
  card_id: string;
  owner: string;
  token: string;
  acquired_at: unknown;
  expires_at: unknown;
}

const COLUMNS = "card_id, owner, token, acquired_at, expires_at";

/**
 * Takes the card when there is no row, or replaces the row when its lease has expired; returns
 * nothing when a current lease stands. The upsert's WHERE is checked against the row as the
 * statement finds it after any concurrent writer committed, so exactly one racer wins.
 */
const ACQUIRE_SQL =
  "WITH now AS (SELECT clock_timestamp() AS t) " +
  `INSERT INTO card_leases AS l (${COLUMNS}) ` +
  "SELECT $1, $2, $3, now.t, now.t + make_interval(secs => $4::double precision / 1000) FROM now " +
  "ON CONFLICT (card_id) DO UPDATE SET owner = EXCLUDED.owner, token = EXCLUDED.token, " +
  "acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at " +
  `WHERE l.expires_at <= EXCLUDED.acquired_at RETURNING ${COLUMNS}`;

const RENEW_SQL =
  "UPDATE card_leases SET expires_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000) " +
  `WHERE card_id = $1 AND token = $2 RETURNING ${COLUMNS}`;

function toLease(row: LeaseRow): CardLease {
  return {
    cardId: row.card_id,
    owner: row.owner,
    token: row.token,
    acquiredAt: toIso(row.acquired_at),
    expiresAt: toIso(row.expires_at),
  };
}

/** The `LeaseRepository` of the SQL stores. */
export class SqlLeaseRepository implements LeaseRepository {
  constructor(private readonly executor: SqlExecutor) {}

  async #run(context: string, text: string, params: readonly unknown[]): Promise<LeaseRow[]> {
    try {
      return (await this.executor.query<LeaseRow>(text, params)).rows;
    } catch (err) {
      throw toStoreError(err, context);
    }
  }

  /**
   * Takes the card if it is free or its lease expired.
   * @throws CardLeasedError `CARD_LEASED` when another lease is current; CardwrightError
   * `STORE_FAILURE` for a bad argument or a database error.
   */
  async acquire(cardId: string, owner: string, ttlMs: number): Promise<CardLease> {
    requireRecordId(cardId, "card");
    requireLeaseOwner(owner);
    requireLeaseTtl(ttlMs);
    const context = `leasing card ${cardId}`;
    // A lease released between the upsert and the read below leaves nothing to report: try again.
    for (let attempt = 0; ; attempt++) {
      const token = globalThis.crypto.randomUUID();
      const won = await this.#run(context, ACQUIRE_SQL, [cardId, owner, token, ttlMs]);
      if (won[0] !== undefined) return toLease(won[0]);
      const current = await this.get(cardId);
      if (current !== null || attempt >= 3) {
        if (current === null) throw toStoreError(new Error("the lease kept changing; retry"), context);
        throw cardLeasedError(current);
      }
    }
  }

  /**
   * Extends the lease if its token still holds the card.
   * @throws CardwrightError `LEASE_LOST` when it does not.
   */
  async renew(lease: CardLease, ttlMs: number): Promise<CardLease> {
    requireLeaseTtl(ttlMs);
    const rows = await this.#run(`renewing lease on card ${lease.cardId}`, RENEW_SQL, [
      lease.cardId,
      lease.token,
      ttlMs,
    ]);
    if (rows[0] !== undefined) return toLease(rows[0]);
    throw leaseLostError(lease, await this.get(lease.cardId));
  }

  /** Deletes the lease if its token still holds the card. */
  async release(lease: CardLease): Promise<boolean> {
    const rows = await this.#run(
      `releasing lease on card ${lease.cardId}`,
      "DELETE FROM card_leases WHERE card_id = $1 AND token = $2 RETURNING card_id",
      [lease.cardId, lease.token],
    );
    return rows.length > 0;
  }

  /** The lease row of the card, current or expired. */
  async get(cardId: string): Promise<CardLease | null> {
    const rows = await this.#run(
      `reading lease on card ${cardId}`,
      `SELECT ${COLUMNS} FROM card_leases WHERE card_id = $1`,
      [cardId],
    );
    return rows[0] === undefined ? null : toLease(rows[0]);
  }
}
