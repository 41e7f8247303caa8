/**
 * Refusals: an operation the actor may not run, on a card or user it may not run on, fails before
 * anything changes. Every such refusal is audited as `operation.refused` — who, what, where, and
 * the error's code and (secret-free) details — then rethrown, so the audit trail shows what was
 * denied as well as what was done.
 */

import type { CardRecord } from "../domain/card.js";
import { isCardwrightError } from "../errors.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { LifecycleActor } from "./lifecycle-permissions.js";

/** What was refused, to whom and where: the `operation.refused` audit event's fields. */
export interface Refusal {
  actor: LifecycleActor;
  /** The refused operation, recorded as `details.operation`. */
  operation: string;
  cardId?: string;
  userId?: string;
  /** The operation record a refused resume belongs to. */
  operationId?: string;
  /** Further details of the refusal (a step, a replacement reason, a task kind...). */
  context?: Readonly<Record<string, unknown>>;
  /**
   * Which fields win when the error's details name the same key: `refusal` (default) records the
   * refusal's `operation`, `actorKind`, `code` and context over the error's details; `error` records
   * the error's details over them (a permission check on another card names its own operation).
   */
  precedence?: "refusal" | "error";
}

/** The `cardId` and (when bound) `userId` of a refusal on `card`. */
export function refusalOnCard(card: Pick<CardRecord, "id" | "userId">): { cardId: string; userId?: string } {
  return { cardId: card.id, ...(card.userId === undefined ? {} : { userId: card.userId }) };
}

/**
 * Audit `err` as `operation.refused` when it is a CardwrightError (a typed refusal); any other
 * error is not a refusal and is not audited.
 */
export async function auditRefusal(auditLog: AuditLog, refusal: Refusal, err: unknown): Promise<void> {
  if (!isCardwrightError(err)) return;
  const own = { operation: refusal.operation, actorKind: refusal.actor.kind, code: err.code };
  const details =
    refusal.precedence === "error"
      ? {
          operation: refusal.operation,
          ...refusal.context,
          actorKind: refusal.actor.kind,
          code: err.code,
          ...err.details,
        }
      : { ...err.details, ...own, ...refusal.context };
  await auditLog.append({
    actor: refusal.actor.id,
    action: "operation.refused",
    ...(refusal.cardId === undefined ? {} : { cardId: refusal.cardId }),
    ...(refusal.userId === undefined ? {} : { userId: refusal.userId }),
    ...(refusal.operationId === undefined ? {} : { operationId: refusal.operationId }),
    details,
  });
}

/**
 * Run `checks`; a CardwrightError they throw is audited as `operation.refused` (nothing else
 * changes) and rethrown.
 * @throws whatever `checks` throws.
 */
export async function refusing<T>(auditLog: AuditLog, refusal: Refusal, checks: () => T | Promise<T>): Promise<T> {
  try {
    return await checks();
  } catch (err) {
    await auditRefusal(auditLog, refusal, err);
    throw err;
  }
}
