import type { Migration } from "./migration.js";

/**
 * Records of the lifecycle workflows beyond issue: approvals (validated issuance, document
 * review), required documents, tasks queued for agents, and users' security answers (salted slow
 * hashes only). Same layout as the first schema: the whole record in `data`, queried fields in
 * columns with indexes matching the port's list queries (all ordered by creation).
 */
export const workflowRecords: Migration = {
  version: 4,
  name: "workflow-records",
  statements: [
    `CREATE TABLE approvals (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      kind text NOT NULL,
      status text NOT NULL,
      user_id text NOT NULL,
      card_id text,
      operation_id text,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX approvals_status_idx ON approvals (status, created_at, id)",
    "CREATE INDEX approvals_user_idx ON approvals (user_id, created_at, id)",
    "CREATE INDEX approvals_card_idx ON approvals (card_id, created_at, id)",
    "CREATE INDEX approvals_operation_idx ON approvals (operation_id, created_at, id)",

    `CREATE TABLE documents (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      user_id text NOT NULL,
      operation_id text,
      status text NOT NULL,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX documents_user_idx ON documents (user_id, created_at, id)",
    "CREATE INDEX documents_operation_idx ON documents (operation_id, created_at, id)",

    `CREATE TABLE agent_tasks (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      card_id text NOT NULL,
      device_serial text NOT NULL,
      status text NOT NULL,
      data jsonb NOT NULL
    )`,
    "CREATE INDEX agent_tasks_serial_idx ON agent_tasks (device_serial, status, created_at, id)",
    "CREATE INDEX agent_tasks_card_idx ON agent_tasks (card_id, created_at, id)",
    "CREATE INDEX agent_tasks_status_idx ON agent_tasks (status, created_at, id)",

    `CREATE TABLE security_answers (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL CHECK (version >= 1),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      data jsonb NOT NULL
    )`,
  ],
};
