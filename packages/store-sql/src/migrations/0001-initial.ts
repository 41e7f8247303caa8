import type { Migration } from "./migration.js";

/**
 * The first schema: one table per repository of the `Store` port. Each row keeps the whole record
 * in `data` (JSONB) and copies into real columns what the port queries by, with indexes that
 * match those queries. `id` uses the "C" collation so `ORDER BY id` is byte order everywhere.
 */
export const initialSchema: Migration = {
  version: 1,
  name: "initial",
  statements: [
    `CREATE TABLE cards (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      device_serial text NOT NULL,
      user_id text,
      state text NOT NULL,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX cards_created_idx ON cards (created_at, id)",
    "CREATE INDEX cards_user_idx ON cards (user_id, created_at, id)",
    "CREATE INDEX cards_device_serial_idx ON cards (device_serial, created_at, id)",
    "CREATE INDEX cards_state_idx ON cards (state, created_at, id)",

    `CREATE TABLE certificates (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      card_id text NOT NULL,
      user_id text,
      status text NOT NULL,
      not_after timestamptz,
      serial_hex text,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX certificates_created_idx ON certificates (created_at, id)",
    "CREATE INDEX certificates_card_idx ON certificates (card_id, created_at, id)",
    "CREATE INDEX certificates_user_idx ON certificates (user_id, created_at, id)",
    "CREATE INDEX certificates_status_idx ON certificates (status, created_at, id)",
    "CREATE INDEX certificates_not_after_idx ON certificates (not_after, id)",
    "CREATE INDEX certificates_serial_idx ON certificates (serial_hex)",

    `CREATE TABLE requests (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      card_id text NOT NULL,
      operation_id text NOT NULL,
      status text NOT NULL,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX requests_operation_idx ON requests (operation_id, created_at, id)",

    `CREATE TABLE operations (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      card_id text NOT NULL,
      status text NOT NULL,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX operations_created_idx ON operations (created_at, id)",
    "CREATE INDEX operations_card_idx ON operations (card_id, created_at, id)",
    "CREATE INDEX operations_status_idx ON operations (status, created_at, id)",

    // seq is the primary key: two writers appending the same seq cannot both commit, so the
    // hash chain cannot fork.
    `CREATE TABLE audit_events (
      seq bigint PRIMARY KEY CHECK (seq >= 1),
      id text COLLATE "C" NOT NULL UNIQUE,
      at timestamptz NOT NULL,
      card_id text,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX audit_events_card_idx ON audit_events (card_id, seq)",
  ],
};
