/**
 * Starting a persisted operation: the card is held for it (`pendingOperationId`, and its new state
 * where the operation moves it at once), the operation record is created `running`, and
 * `operation.started` is audited — all in one store transaction, so a crash leaves either none or
 * all of them, and a concurrent change to the card since it was read fails the update
 * (optimistic concurrency) instead of being overwritten.
 */

import type { CardRecord, CardState, OperationKind, OperationRecord } from "../domain/card.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { Store } from "../ports/store.js";

/** The operation to start and what `operation.started` records of it. */
export interface OperationStart {
  /** The card as read; written back holding the operation. */
  card: CardRecord;
  /** The card's state while the operation runs, when it changes at the start (an update: `updating`). */
  cardState?: CardState;
  operationId: string;
  kind: OperationKind;
  /** The user recorded on the operation and the audit event; defaults to the card's. */
  userId?: string;
  machineId: string;
  machineVersion: string;
  /** The machine's input, persisted so a resume can start it again if it never ran a step. */
  input: unknown;
  /** Who started it. */
  actor: string;
  /** The `operation.started` event's details (secret-free). */
  details: Record<string, unknown>;
}

/**
 * Hold the card for the new operation and persist it, audited `operation.started`, in one transaction.
 * @throws the store's `STORE_CONFLICT` when the card changed since it was read.
 */
export function startOperation(store: Store, auditLog: AuditLog, start: OperationStart): Promise<OperationRecord> {
  const { card } = start;
  const userId = start.userId ?? card.userId;
  const user = userId === undefined ? {} : { userId };
  return store.transaction(async (tx) => {
    await tx.cards.update({
      ...card,
      ...(start.cardState === undefined ? {} : { state: start.cardState }),
      pendingOperationId: start.operationId,
    });
    const operation = await tx.operations.create({
      id: start.operationId,
      kind: start.kind,
      cardId: card.id,
      ...user,
      machineId: start.machineId,
      machineVersion: start.machineVersion,
      status: "running",
      snapshot: null,
      input: start.input,
      actor: start.actor,
    });
    await auditLog.append(
      {
        actor: start.actor,
        action: "operation.started",
        cardId: card.id,
        ...user,
        operationId: start.operationId,
        details: start.details,
      },
      tx,
    );
    return operation;
  });
}
