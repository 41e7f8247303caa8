/**
 * The "documents" approval of an issue (`ApprovalRecord` kind `documents`) and the issue step that
 * waits for it. The step runs before certificates are written: while a required document is
 * missing, unreviewed or rejected the card is `pending` and the issue rests in
 * `awaitingDocuments`; `resumeOperation` runs the check again. Idempotent: a re-run finds the
 * approval it created.
 */

import type { CardRecord } from "../domain/card.js";
import type { DocumentPolicy } from "../domain/policy.js";
import type { ApprovalRecord, DocumentRecord } from "../domain/records.js";
import { CardwrightError } from "../errors.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { Notifier } from "../ports/notifier.js";
import type { Logger, Random } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";
import { notifySafely } from "../runtime/notify-safely.js";
import { checkDocuments, type DocumentCheck, describeDocumentCheck } from "./document-check.js";

/** What the document check needs; the issue steps' dependencies provide it. */
export interface DocumentCheckDependencies {
  store: Store;
  policies: PolicyEngine;
  auditLog: AuditLog;
  notifier?: Notifier;
  logger: Logger;
  random: Random;
}

/** The issue step's input (a subset of the issue machine's `TemplatesStepInput`). */
export interface DocumentCheckInput {
  operationId: string;
  cardId: string;
  userId: string;
  actor: string;
  policyId: string;
  policyVersion: number;
}

/** The documents that count for `card`'s issue `operationId`: uploaded for this card, for this operation or before any. */
export async function documentsForIssue(
  store: Store,
  card: Pick<CardRecord, "id">,
  userId: string,
  operationId: string | undefined,
): Promise<DocumentRecord[]> {
  const all = await store.documents.list({ userId });
  return all.filter((d) => d.cardId === card.id && (d.operationId === undefined || d.operationId === operationId));
}

/** The `documents` approval of an operation, if one was opened. */
export async function documentsApprovalOf(store: Store, operationId: string): Promise<ApprovalRecord | null> {
  const found = await store.approvals.list({ kind: "documents", operationId, limit: 1 });
  return found[0] ?? null;
}

/**
 * The issue step: check the policy's required documents for this operation. Not all approved →
 * the card becomes `pending` and a `documents` approval is opened (reviewers are told once);
 * all approved → a `pending` card becomes `issuing` again. Audited as `documents.checked`.
 * @throws CardwrightError `STORE_NOT_FOUND` when the card is gone; store errors.
 */
export async function checkIssueDocuments(
  deps: DocumentCheckDependencies,
  input: DocumentCheckInput,
): Promise<DocumentCheck> {
  const policy = deps.policies.get(input.policyId, input.policyVersion);
  const required: DocumentPolicy["required"] = policy.documents?.required ?? [];
  if (required.length === 0) return { status: "approved", documents: [] };
  const opened = await deps.store.transaction(async (tx) => {
    const card = await tx.cards.get(input.cardId);
    if (card === null) {
      throw new CardwrightError("STORE_NOT_FOUND", `card ${input.cardId} is not on record`, {
        details: { recordKind: "card", recordId: input.cardId, cardId: input.cardId },
      });
    }
    const check = checkDocuments(required, await documentsForIssue(tx, card, input.userId, input.operationId));
    let approval = await documentsApprovalOf(tx, input.operationId);
    const created = approval === null;
    if (approval === null) {
      approval = await tx.approvals.create({
        id: deps.random.uuid(),
        kind: "documents",
        userId: input.userId,
        cardId: input.cardId,
        operationId: input.operationId,
        policyId: input.policyId,
        requestedBy: input.actor,
        status: check.status === "approved" ? "approved" : check.status === "rejected" ? "rejected" : "pending",
        subject: { documentTypes: required.map((r) => r.type), policyVersion: input.policyVersion },
      });
    }
    const to = check.status === "approved" ? "issuing" : "pending";
    if ((card.state === "issuing" || card.state === "pending") && card.state !== to) {
      await tx.cards.update({ ...card, state: to });
      await deps.auditLog.append(
        {
          actor: input.actor,
          action: "card.state",
          cardId: card.id,
          userId: input.userId,
          operationId: input.operationId,
          details: { from: card.state, to, cause: "documents" },
        },
        tx,
      );
    }
    await deps.auditLog.append(
      {
        actor: input.actor,
        action: "documents.checked",
        cardId: card.id,
        userId: input.userId,
        operationId: input.operationId,
        details: {
          status: check.status,
          approvalId: approval.id,
          documents: check.documents.map((d) => `${d.type}:${d.status}`),
        },
      },
      tx,
    );
    return { check, created };
  });
  if (opened.created && opened.check.status !== "approved") {
    await notifySafely(deps, {
      kind: "documents-review-requested",
      cardId: input.cardId,
      userId: input.userId,
      operationId: input.operationId,
      documentTypes: opened.check.documents.filter((d) => d.status !== "approved").map((d) => d.type),
    });
  }
  return opened.check;
}

/** The approval's status and reason for a check (what reviewers and users see on the record). */
export function approvalPatch(check: DocumentCheck): Pick<ApprovalRecord, "status"> & { reason?: string } {
  if (check.status === "approved") return { status: "approved" };
  if (check.status === "rejected") return { status: "rejected", reason: describeDocumentCheck(check) };
  return { status: "pending" };
}
