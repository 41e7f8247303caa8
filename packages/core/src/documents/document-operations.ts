/**
 * The document check's API: users (or operators for them) upload the signed documents a policy
 * requires; an administrator holding the `approve-documents` permission approves or rejects them —
 * never their own upload (four-eyes rule). Documents are kept with their SHA-256 and approval
 * status in `store.documents`; the issue's `documents` approval in `store.approvals` follows the
 * reviews. Every upload, review and refusal is audited (with the document's hash, never its
 * content). The `Cardwright` facade delegates here.
 */

import { createHash } from "node:crypto";
import type { CardRecord } from "../domain/card.js";
import type { Policy } from "../domain/policy.js";
import type { DocumentRecord } from "../domain/records.js";
import { CardwrightError } from "../errors.js";
import { assertPermitted, type LifecycleActor, permissionGrants } from "../lifecycle/lifecycle-permissions.js";
import { auditRefusal, refusalOnCard } from "../lifecycle/operation-refusal.js";
import type { Clock } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";
import { notifySafely } from "../runtime/notify-safely.js";
import { requireCard } from "../workflows/step-preconditions.js";
import { checkDocuments, type DocumentCheck } from "./document-check.js";
import {
  approvalPatch,
  type DocumentCheckDependencies,
  documentsApprovalOf,
  documentsForIssue,
} from "./documents-approval.js";

/** Largest document accepted, in bytes (a scanned, signed form fits easily). */
export const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

/** What {@link DocumentOperations} needs; the facade passes its own parts. */
export interface DocumentOperationsDependencies extends DocumentCheckDependencies {
  clock: Clock;
}

/** Options of {@link DocumentOperations.upload}. */
export interface UploadDocumentOptions {
  /** The card being issued; the document belongs to its user. */
  cardId: string;
  /** A type the card's policy requires (`Policy.documents.required[].type`). */
  type: string;
  fileName: string;
  /** MIME type, e.g. `application/pdf`. */
  contentType: string;
  content: Uint8Array;
  /** The card's user, or an operator (or agent) uploading for them. */
  actor: LifecycleActor;
}

/** One decision of a review. */
export interface DocumentDecision {
  documentId: string;
  decision: "approve" | "reject";
  /** Required for `reject`: shown to the user, who uploads a new document. */
  reason?: string;
}

/** Options of {@link DocumentOperations.review}. */
export interface ReviewDocumentsOptions {
  /** Holder of the `approve-documents` permission; not the uploader of any reviewed document. */
  actor: LifecycleActor;
  /** Decisions on documents of one card. */
  decisions: readonly DocumentDecision[];
}

/** Outcome of {@link DocumentOperations.review}. */
export interface ReviewDocumentsResult {
  /** The reviewed documents as now recorded. */
  documents: DocumentRecord[];
  /** Where the card's required documents stand now (for its waiting issue, if any). */
  check: DocumentCheck;
}

/** Options of {@link DocumentOperations.list}. */
export interface ListDocumentsOptions {
  cardId?: string;
  userId?: string;
  operationId?: string;
  status?: DocumentRecord["status"];
  /** Leave out the content (base64) — lists for a UI rarely need it. Default `false`. */
  withoutContent?: boolean;
}

function invalid(rule: string, message: string, details: Record<string, string | number> = {}): CardwrightError {
  return new CardwrightError("DOCUMENT_INVALID", message, { details: { rule, ...details } });
}

/** Uploads, reviews and lists documents; see the module comment. */
export class DocumentOperations {
  readonly #d: DocumentOperationsDependencies;

  constructor(deps: DocumentOperationsDependencies) {
    this.#d = deps;
  }

  /**
   * Store a signed document for the card's user (status `uploaded`), bound to the card's issue in
   * progress if there is one; reviewers are notified. A new upload of a type replaces the earlier
   * one in the check (e.g. after a rejection).
   * @throws CardwrightError `STORE_NOT_FOUND` (card), `CARD_STATE` (card has no user yet),
   * `AUTHZ_DENIED` (a user uploading for another user's card), `DOCUMENT_INVALID` (empty, over
   * {@link MAX_DOCUMENT_BYTES}, or a type the card's policy does not require).
   */
  async upload(options: UploadDocumentOptions): Promise<DocumentRecord> {
    const card = await requireCard(this.#d.store, options.cardId);
    const userId = card.userId;
    if (userId === undefined) {
      throw new CardwrightError("CARD_STATE", `card ${card.id} is not assigned to a user; bind or issue it first`, {
        details: { cardId: card.id, state: card.state },
      });
    }
    try {
      if (options.actor.kind === "user" && options.actor.id !== userId) {
        throw new CardwrightError(
          "AUTHZ_DENIED",
          `user ${options.actor.id} may not upload documents for card ${card.id} of another user`,
          {
            details: { permission: "user:upload-documents:any", actorKind: "user", cardId: card.id },
          },
        );
      }
      if (options.content.length === 0) throw invalid("size", "the document is empty");
      if (options.content.length > MAX_DOCUMENT_BYTES) {
        throw invalid("size", `the document has ${options.content.length} bytes; at most ${MAX_DOCUMENT_BYTES}`, {
          size: options.content.length,
          limit: MAX_DOCUMENT_BYTES,
        });
      }
      const policy = await this.#policyOf(card);
      const required = policy?.documents?.required;
      if (required !== undefined && !required.some((r) => r.type === options.type)) {
        throw invalid(
          "type",
          `policy ${policy?.id} requires no document of type "${options.type}"; it requires ${required.map((r) => r.type).join(", ") || "none"}`,
          { type: options.type, policyId: policy?.id ?? "" },
        );
      }
    } catch (err) {
      await this.#refused(options.actor, card, "upload-documents", err);
      throw err;
    }
    const operationId = await this.#issueInProgress(card);
    const content = Buffer.from(options.content);
    const sha256 = createHash("sha256").update(content).digest("hex");
    const record = await this.#d.store.transaction(async (tx) => {
      const created = await tx.documents.create({
        id: this.#d.random.uuid(),
        type: options.type,
        userId,
        cardId: card.id,
        ...(operationId === undefined ? {} : { operationId }),
        fileName: options.fileName,
        contentType: options.contentType,
        content: content.toString("base64"),
        sha256,
        uploadedBy: options.actor.id,
        status: "uploaded",
      });
      await this.#d.auditLog.append(
        {
          actor: options.actor.id,
          action: "document.uploaded",
          cardId: card.id,
          userId,
          ...(operationId === undefined ? {} : { operationId }),
          details: {
            documentId: created.id,
            type: options.type,
            fileName: options.fileName,
            sha256,
            size: content.length,
            actorKind: options.actor.kind,
          },
        },
        tx,
      );
      if (operationId !== undefined) await this.#syncApproval(tx, card, userId, operationId);
      return created;
    });
    await notifySafely(this.#d, {
      kind: "documents-review-requested",
      cardId: card.id,
      userId,
      ...(operationId === undefined ? {} : { operationId }),
      documentTypes: [options.type],
    });
    return record;
  }

  /**
   * Approve or reject documents of one card. The reviewer needs the policy's `approve-documents`
   * permission and must not have uploaded any of them. When the card's issue is waiting, its
   * `documents` approval follows: `approved` once every required document is (the user or
   * operator then resumes the issue), `rejected` with the reasons otherwise; the user is notified.
   * @throws CardwrightError `STORE_NOT_FOUND` (a document), `DOCUMENT_INVALID` (no decisions,
   * documents of several cards, a document already reviewed, a rejection without a reason),
   * `AUTHZ_DENIED` (no `approve-documents` permission), `AUTHZ_SEPARATION_OF_DUTIES` (reviewer
   * uploaded a document), `STORE_CONFLICT` (reviewed concurrently).
   */
  async review(options: ReviewDocumentsOptions): Promise<ReviewDocumentsResult> {
    if (options.decisions.length === 0) throw invalid("decisions", "a review needs at least one decision");
    const documents: DocumentRecord[] = [];
    for (const decision of options.decisions) {
      const document = await this.#d.store.documents.get(decision.documentId);
      if (document === null) {
        throw new CardwrightError("STORE_NOT_FOUND", `document ${decision.documentId} is not on record`, {
          details: { recordKind: "document", recordId: decision.documentId },
        });
      }
      documents.push(document);
    }
    const cardIds = new Set(documents.map((d) => d.cardId));
    const cardId = documents[0]?.cardId;
    if (cardIds.size !== 1 || cardId === undefined) {
      throw invalid("card", "a review decides on documents of one card at a time");
    }
    const card = await requireCard(this.#d.store, cardId);
    try {
      assertPermitted(permissionGrants(await this.#policyOf(card)), options.actor, "approve-documents", card);
      for (const [i, d] of documents.entries()) {
        const decision = options.decisions[i]!;
        if (d.uploadedBy === options.actor.id) {
          throw new CardwrightError(
            "AUTHZ_SEPARATION_OF_DUTIES",
            `${options.actor.id} uploaded document ${d.id} and may not review it: another administrator must`,
            { details: { rule: "reviewer-is-uploader", documentId: d.id, cardId: card.id } },
          );
        }
        if (d.status !== "uploaded") {
          throw invalid("reviewed", `document ${d.id} was already ${d.status}; ask the user to upload a new one`, {
            documentId: d.id,
            status: d.status,
          });
        }
        if (decision.decision === "reject" && (decision.reason ?? "").trim() === "") {
          throw invalid("reason", `rejecting document ${d.id} needs a reason the user can act on`, {
            documentId: d.id,
          });
        }
      }
    } catch (err) {
      await this.#refused(options.actor, card, "approve-documents", err);
      throw err;
    }
    const userId = documents[0]!.userId;
    const operationId = await this.#issueInProgress(card);
    const outcome = await this.#d.store.transaction(async (tx) => {
      const reviewed: DocumentRecord[] = [];
      for (const [i, d] of documents.entries()) {
        const decision = options.decisions[i]!;
        const status = decision.decision === "approve" ? "approved" : "rejected";
        const next = await tx.documents.update({
          ...d,
          status,
          reviewedBy: options.actor.id,
          ...(status === "rejected" ? { reason: decision.reason?.trim() } : {}),
        });
        await this.#d.auditLog.append(
          {
            actor: options.actor.id,
            action: status === "approved" ? "document.approved" : "document.rejected",
            cardId: card.id,
            userId: d.userId,
            ...(d.operationId === undefined ? {} : { operationId: d.operationId }),
            details: {
              documentId: d.id,
              type: d.type,
              sha256: d.sha256,
              uploadedBy: d.uploadedBy,
              ...(status === "rejected" ? { reason: decision.reason?.trim() } : {}),
            },
          },
          tx,
        );
        reviewed.push(next);
      }
      const check = await this.#syncApproval(tx, card, userId, operationId, options.actor.id);
      return { reviewed, check };
    });
    const rejected = outcome.reviewed.filter((d) => d.status === "rejected");
    if (rejected.length > 0) {
      await notifySafely(this.#d, {
        kind: "documents-rejected",
        cardId: card.id,
        userId,
        ...(operationId === undefined ? {} : { operationId }),
        decidedBy: options.actor.id,
        reason: rejected.map((d) => `${d.type}: ${d.reason ?? ""}`).join("; "),
        documentTypes: rejected.map((d) => d.type),
      });
    } else if (outcome.check.status === "approved") {
      await notifySafely(this.#d, {
        kind: "documents-approved",
        cardId: card.id,
        userId,
        ...(operationId === undefined ? {} : { operationId }),
        decidedBy: options.actor.id,
      });
    }
    return { documents: outcome.reviewed, check: outcome.check };
  }

  /** Documents matching `options`, oldest first. */
  async list(options: ListDocumentsOptions = {}): Promise<DocumentRecord[]> {
    const found = await this.#d.store.documents.list({
      ...(options.userId === undefined ? {} : { userId: options.userId }),
      ...(options.operationId === undefined ? {} : { operationId: options.operationId }),
      ...(options.status === undefined ? {} : { status: options.status }),
    });
    return found
      .filter((d) => options.cardId === undefined || d.cardId === options.cardId)
      .map((d) => (options.withoutContent === true ? { ...d, content: "" } : d));
  }

  /**
   * Recompute the card's document check for its waiting issue and bring the `documents` approval
   * in line (status, reason, decider). Returns the check.
   */
  async #syncApproval(
    tx: Store,
    card: CardRecord,
    userId: string,
    operationId: string | undefined,
    decidedBy?: string,
  ): Promise<DocumentCheck> {
    const policy = await this.#policyOf(card, tx);
    const check = checkDocuments(
      policy?.documents?.required ?? [],
      await documentsForIssue(tx, card, userId, operationId),
    );
    if (operationId === undefined) return check;
    const approval = await documentsApprovalOf(tx, operationId);
    if (approval === null) return check;
    const patch = approvalPatch(check);
    const { reason: _old, decidedBy: _by, decidedAt: _at, ...rest } = approval;
    const decided = patch.status !== "pending" && decidedBy !== undefined;
    await tx.approvals.update({
      ...rest,
      ...patch,
      ...(decided ? { decidedBy, decidedAt: this.#d.clock.now().toISOString() } : {}),
    });
    return check;
  }

  /** The issue operation holding the card, if any. */
  async #issueInProgress(card: CardRecord): Promise<string | undefined> {
    if (card.pendingOperationId === undefined) return undefined;
    const operation = await this.#d.store.operations.get(card.pendingOperationId);
    return operation?.kind === "issue" ? operation.id : undefined;
  }

  /** The card's policy: its own, or the one its issue in progress resolved. */
  async #policyOf(card: CardRecord, store: Store = this.#d.store): Promise<Policy | undefined> {
    if (card.policyId !== undefined) return this.#d.policies.get(card.policyId, card.policyVersion);
    if (card.pendingOperationId === undefined) return undefined;
    const operation = await store.operations.get(card.pendingOperationId);
    const context = (operation?.snapshot as { context?: { policyId?: string; policyVersion?: number } } | null)
      ?.context;
    if (context?.policyId === undefined) return undefined;
    return this.#d.policies.get(context.policyId, context.policyVersion);
  }

  #refused(actor: LifecycleActor, card: CardRecord, operation: string, err: unknown): Promise<void> {
    return auditRefusal(this.#d.auditLog, { actor, operation, ...refusalOnCard(card), precedence: "error" }, err);
  }
}
