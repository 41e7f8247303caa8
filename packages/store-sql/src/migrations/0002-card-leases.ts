import type { Migration } from "./migration.js";

/**
 * Card leases: one row per leased card. A lease is taken, renewed and released by single
 * statements that compare and set in one step (see `SqlLeaseRepository`); `token` identifies one
 * acquisition so a holder that lost its lease cannot touch its successor's.
 */
export const cardLeases: Migration = {
  version: 2,
  name: "card-leases",
  statements: [
    `CREATE TABLE card_leases (
      card_id text COLLATE "C" PRIMARY KEY,
      owner text NOT NULL,
      token text NOT NULL,
      acquired_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL CHECK (expires_at > acquired_at)
    )`,
  ],
};
