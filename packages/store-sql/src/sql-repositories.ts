/** The `Store` port's repositories over the tables of the initial migration. */
import {
  type CardQuery,
  type CardRecord,
  type CardRepository,
  type CertificateQuery,
  type CertificateRecord,
  type CertificateRepository,
  type OperationRecord,
  type OperationRepository,
  type RequestRecord,
  type RequestRepository,
  requireCertificateRecord,
  requireStoreInstant,
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
