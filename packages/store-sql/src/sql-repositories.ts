/** The `Store` port's repositories over the tables of the initial migration. */
import {
  type AgentTaskQuery,
  type AgentTaskRecord,
  type AgentTaskRepository,
  type ApprovalQuery,
  type ApprovalRecord,
  type ApprovalRepository,
  type CardQuery,
  type CardRecord,
  type CardRepository,
  type CertificateQuery,
  type CertificateRecord,
  type CertificateRepository,
  type DocumentQuery,
  type DocumentRecord,
  type DocumentRepository,
  type OperationRecord,
  type OperationRepository,
  type RequestRecord,
  type RequestRepository,
  requireCertificateRecord,
  requireStoreInstant,
  type SecurityAnswersRecord,
} from "@cardwright/core";
import { SqlRecordRepository, type TableSpec } from "./sql-record-repository.js";
import { Conditions } from "./sql-values.js";

const byCreation = "created_at, id";

/** `cards`, queried by user, device serial and state. */
export const cardTable: TableSpec<CardRecord> = {
  table: "cards",
  kind: "card",
  columns: [
    { name: "device_serial", value: (r) => r.deviceSerial },
    { name: "user_id", value: (r) => r.userId ?? null },
    { name: "state", value: (r) => r.state },
  ],
};

/** `certificates`, queried by card, user, status and expiry. */
export const certificateTable: TableSpec<CertificateRecord> = {
  table: "certificates",
  kind: "certificate",
  columns: [
    { name: "card_id", value: (r) => r.cardId },
    { name: "user_id", value: (r) => r.userId ?? null },
    { name: "status", value: (r) => r.status },
    { name: "not_after", value: (r) => r.notAfter ?? null, cast: "timestamptz" },
    { name: "serial_hex", value: (r) => r.serialHex ?? null },
  ],
  validate: requireCertificateRecord,
};

/** `requests`, queried by operation. */
export const requestTable: TableSpec<RequestRecord> = {
  table: "requests",
  kind: "request",
  columns: [
    { name: "card_id", value: (r) => r.cardId },
    { name: "operation_id", value: (r) => r.operationId },
    { name: "status", value: (r) => r.status },
  ],
};

/** `operations`, queried by card and status. */
export const operationTable: TableSpec<OperationRecord> = {
  table: "operations",
  kind: "operation",
  columns: [
    { name: "card_id", value: (r) => r.cardId },
    { name: "status", value: (r) => r.status },
  ],
};

/** Cards, oldest first. */
export class SqlCardRepository extends SqlRecordRepository<CardRecord> implements CardRepository {
  async list(q: CardQuery = {}): Promise<CardRecord[]> {
    const where = new Conditions()
      .equals("user_id", q.userId)
      .equals("device_serial", q.deviceSerial)
      .equals("state", q.state);
    return this.select(where, byCreation, q.limit);
  }
}

/** Certificates, oldest first; with `expiringBefore`, soonest expiry first. */
export class SqlCertificateRepository extends SqlRecordRepository<CertificateRecord> implements CertificateRepository {
  async list(q: CertificateQuery = {}): Promise<CertificateRecord[]> {
    const before = q.expiringBefore === undefined ? undefined : requireStoreInstant(q.expiringBefore, "expiringBefore");
    const where = new Conditions()
      .equals("card_id", q.cardId)
      .equals("user_id", q.userId)
      .equals("status", q.status)
      .where(before, (p) => `not_after < ${p}::timestamptz`);
    return this.select(where, before === undefined ? byCreation : "not_after, id", q.limit);
  }
}

/** Certification requests, oldest first. */
export class SqlRequestRepository extends SqlRecordRepository<RequestRecord> implements RequestRepository {
  async listByOperation(operationId: string): Promise<RequestRecord[]> {
    return this.select(new Conditions().equals("operation_id", operationId), byCreation, undefined);
  }
}

/** Persisted workflows, oldest first. */
export class SqlOperationRepository extends SqlRecordRepository<OperationRecord> implements OperationRepository {
  async list(
    q: { cardId?: string; status?: OperationRecord["status"]; limit?: number } = {},
  ): Promise<OperationRecord[]> {
    const where = new Conditions().equals("card_id", q.cardId).equals("status", q.status);
    return this.select(where, byCreation, q.limit);
  }
}

/** `approvals`, queried by kind, status, user, card and operation. */
export const approvalTable: TableSpec<ApprovalRecord> = {
  table: "approvals",
  kind: "approval",
  columns: [
    { name: "kind", value: (r) => r.kind },
    { name: "status", value: (r) => r.status },
    { name: "user_id", value: (r) => r.userId },
    { name: "card_id", value: (r) => r.cardId ?? null },
    { name: "operation_id", value: (r) => r.operationId ?? null },
  ],
};

/** `documents`, queried by user, operation and status. */
export const documentTable: TableSpec<DocumentRecord> = {
  table: "documents",
  kind: "document",
  columns: [
    { name: "user_id", value: (r) => r.userId },
    { name: "operation_id", value: (r) => r.operationId ?? null },
    { name: "status", value: (r) => r.status },
  ],
};

/** `agent_tasks`, queried by device serials, card and status. */
export const agentTaskTable: TableSpec<AgentTaskRecord> = {
  table: "agent_tasks",
  kind: "agent task",
  columns: [
    { name: "card_id", value: (r) => r.cardId },
    { name: "device_serial", value: (r) => r.deviceSerial },
    { name: "status", value: (r) => r.status },
  ],
};

/** `security_answers`, by user id only. */
export const securityAnswersTable: TableSpec<SecurityAnswersRecord> = {
  table: "security_answers",
  kind: "security answers",
  columns: [],
};

/** Approvals, oldest first. */
export class SqlApprovalRepository extends SqlRecordRepository<ApprovalRecord> implements ApprovalRepository {
  async list(q: ApprovalQuery = {}): Promise<ApprovalRecord[]> {
    const where = new Conditions()
      .equals("kind", q.kind)
      .equals("status", q.status)
      .equals("user_id", q.userId)
      .equals("card_id", q.cardId)
      .equals("operation_id", q.operationId);
    return this.select(where, byCreation, q.limit);
  }
}

/** Documents, oldest first. */
export class SqlDocumentRepository extends SqlRecordRepository<DocumentRecord> implements DocumentRepository {
  async list(q: DocumentQuery = {}): Promise<DocumentRecord[]> {
    const where = new Conditions()
      .equals("user_id", q.userId)
      .equals("operation_id", q.operationId)
      .equals("status", q.status);
    return this.select(where, byCreation, q.limit);
  }
}

/** Agent tasks, oldest first: the order they were queued in. */
export class SqlAgentTaskRepository extends SqlRecordRepository<AgentTaskRecord> implements AgentTaskRepository {
  async list(q: AgentTaskQuery = {}): Promise<AgentTaskRecord[]> {
    const where = new Conditions()
      .anyOf("device_serial", q.deviceSerials)
      .equals("card_id", q.cardId)
      .equals("status", q.status);
    return this.select(where, byCreation, q.limit);
  }
}
