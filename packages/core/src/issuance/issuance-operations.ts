/**
 * Issuance modes and limits: validated issuance (a validation officer approves an issuance request
 * before another operator personalises the card), self-service issue by the user, binding a device
 * to a user, and the policy's limits — all checked before an issue starts, so a refusal generates
 * nothing and changes nothing but the audit log. The {@link Cardwright} facade delegates here: its
 * `issueCard` asks {@link IssuanceOperations.clearIssue} before it starts the issue workflow and
 * {@link IssuanceOperations.claim} in the transaction that starts it.
 */

import type { CardRecord } from "../domain/card.js";
import type { IssuanceMode, Policy } from "../domain/policy.js";
import type { ApprovalRecord } from "../domain/records.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import { assertTransition, transitionTable } from "../lifecycle/card-state-transitions.js";
import { assertPermitted, type LifecycleActor, permissionGrants } from "../lifecycle/lifecycle-permissions.js";
import { refusing } from "../lifecycle/operation-refusal.js";
import { type PolicyEngine, selectTemplates } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { DeviceType } from "../ports/device.js";
import type { Directory, DirectoryUser } from "../ports/directory.js";
import type { Notifier } from "../ports/notifier.js";
import type { Clock, Logger } from "../ports/runtime.js";
import type { ApprovalQuery, Store } from "../ports/store.js";
import { notifySafely } from "../runtime/notify-safely.js";
import { assertApprovalClears, type IssuanceApprovalSubject } from "./approval-checks.js";
import { type IssuanceActorInput, issuanceActor } from "./issuance-actor.js";
import { assertWithinLimits } from "./issuance-limits.js";
import { assertSubjectPermitted } from "./issuance-permission.js";
import { issuanceMode, requiresBinding } from "./issuance-policy.js";

/** What {@link IssuanceOperations} needs; the facade passes its own parts. */
export interface IssuanceDependencies {
  store: Store;
  directory: Directory;
  policies: PolicyEngine;
  auditLog: AuditLog;
  notifier?: Notifier;
  clock: Clock;
  logger: Logger;
  /** Makes approval ids. */
  uuid: () => string;
}

/** Options of {@link IssuanceOperations.request} (`Cardwright.requestIssuance`). */
export interface RequestIssuanceOptions {
  /** The user the card is for. */
  userId: string;
  /** The device the card is to be issued on; when given, only that device can be issued with the approval. */
  deviceSerial?: string;
  /** Optional templates of the user's policy to issue as well; the issue may ask for these and no others. */
  optionalTemplates?: readonly string[];
  /** Who asks: a user for themself, or an operator (registrar) for anyone. A string is an operator id. */
  actor: IssuanceActorInput;
  /** Why, in the requester's words; recorded in the audit log and the approval. */
  comment?: string;
}

/** Options of {@link IssuanceOperations.decide} (`Cardwright.decideIssuance`). */
export interface DecideIssuanceOptions {
  approvalId: string;
  decision: "approve" | "reject";
  /** The officer's words: shown to the requester on rejection, recorded in the audit log. */
  reason: string;
  /** The validation officer; needs the `approve-issuance` permission and must not be the requester or the user. */
  actor: IssuanceActorInput;
}

/** Options of {@link IssuanceOperations.bind} (`Cardwright.bindCard`). */
export interface BindCardOptions {
  /** Who binds: an operator (string or actor), or the user themself when the policy grants them `bind`. Default operator `system`. */
  actor?: IssuanceActorInput;
  /** Why; recorded in the audit log. */
  comment?: string;
}

/** The issue `issueCard` is about to start, as {@link IssuanceOperations.clearIssue} checks it. */
export interface IssueRequest {
  userId: string;
  actor: IssuanceActorInput;
  /** Serial of the device in the reader. */
  deviceSerial: string;
  deviceType: DeviceType;
  optionalTemplates: readonly string[];
  /** Exactly the templates to issue, when the caller chose them (a replacement); else mandatory plus optional ones. */
  selectedTemplates?: readonly string[];
  /** The approval of a validated issue. */
  approvalId?: string;
  /** The policy to issue under, when the caller names it (a replacement); else the user's. */
  policyId?: string;
}

/** What cleared an issue: passed back to {@link IssuanceOperations.claim} when the issue starts. */
export interface IssueClearance {
  actor: LifecycleActor;
  mode: IssuanceMode;
  /** The user's policy, when one applies (the workflow resolves it again and fails if none does). */
  policyId?: string;
  /** The approval the issue uses up. */
  approval?: ApprovalRecord;
}

/** Runs the issuance modes' checks and approvals; see the module comment. */
export class IssuanceOperations {
  readonly #d: IssuanceDependencies;

  constructor(deps: IssuanceDependencies) {
    this.#d = deps;
  }

  /**
   * Ask a validation officer to approve issuing a card to a user (validated issuance). Records a
   * pending `issuance` {@link ApprovalRecord}, audits `issuance.requested` and notifies
   * `issuance-approval-requested`.
   * @throws CardwrightError `USER_NOT_FOUND`; `POLICY_NO_MATCH`; `POLICY_RULE` (rule
   * `issuance.mode`) when the user's policy does not use validated issuance, (rule `optionalTemplates`)
   * for a template the policy lacks; `AUTHZ_DENIED` (rule `issuance.request.own`) when a user asks
   * for someone else; `CARD_STATE` when the named device's card is not registered, or bound to someone else.
   */
  async request(options: RequestIssuanceOptions): Promise<ApprovalRecord> {
    const actor = issuanceActor(options.actor);
    const user = await this.#requireUser(options.userId);
    const card =
      options.deviceSerial === undefined
        ? undefined
        : (await this.#d.store.cards.list({ deviceSerial: options.deviceSerial, limit: 1 }))[0];
    const policy = this.#d.policies.resolve(user, card === undefined ? undefined : { type: card.deviceType });
    const optionalTemplates = [...(options.optionalTemplates ?? [])];
    await this.#refusing("request-issuance", actor, { userId: user.id, ...(card ? { cardId: card.id } : {}) }, () => {
      if (actor.kind === "user" && actor.id !== user.id) {
        throw new CardwrightError(
          "AUTHZ_DENIED",
          `user ${actor.id} may request issuance only for themself, not for ${user.id}`,
          { details: { rule: "issuance.request.own", actorKind: actor.kind, userId: user.id } },
        );
      }
      if (issuanceMode(policy) !== "validated") {
        throw new CardwrightError(
          "POLICY_RULE",
          `policy ${policy.id} issues in ${issuanceMode(policy)} mode; issuance requests are for validated issuance only`,
          { details: { policyId: policy.id, rule: "issuance.mode", mode: issuanceMode(policy) } },
        );
      }
      selectTemplates(policy, optionalTemplates);
      if (
        card !== undefined &&
        (!["registered", "bound"].includes(card.state) || (card.userId ?? user.id) !== user.id)
      ) {
        throw new CardwrightError(
          "CARD_STATE",
          `card ${card.id} (serial ${card.deviceSerial}) is ${card.state}${card.userId === undefined ? "" : ` for ${card.userId}`}: it cannot be issued to ${user.id}`,
          { details: { cardId: card.id, state: card.state, deviceSerial: card.deviceSerial, userId: user.id } },
        );
      }
    });
    const subject: IssuanceApprovalSubject = {
      ...(options.deviceSerial === undefined ? {} : { deviceSerial: options.deviceSerial }),
      optionalTemplates,
      ...(options.comment === undefined ? {} : { comment: options.comment }),
    };
    const approval = await this.#d.store.transaction(async (tx) => {
      const created = await tx.approvals.create({
        id: this.#d.uuid(),
        kind: "issuance",
        userId: user.id,
        ...(card === undefined ? {} : { cardId: card.id }),
        policyId: policy.id,
        requestedBy: actor.id,
        status: "pending",
        subject: { ...subject },
      });
      await this.#d.auditLog.append(
        {
          actor: actor.id,
          action: "issuance.requested",
          userId: user.id,
          ...(card === undefined ? {} : { cardId: card.id }),
          details: { approvalId: created.id, actorKind: actor.kind, policyId: policy.id, ...subject },
        },
        tx,
      );
      return created;
    });
    await notifySafely(this.#d, {
      kind: "issuance-approval-requested",
      approvalId: approval.id,
      userId: user.id,
      requestedBy: actor.id,
      policyId: policy.id,
      ...(card === undefined ? {} : { cardId: card.id }),
      ...(options.deviceSerial === undefined ? {} : { deviceSerial: options.deviceSerial }),
    });
    return approval;
  }

  /**
   * Approve or reject an issuance request as validation officer. Audits `issuance.approved` or
   * `issuance.rejected` (actor, reason) and notifies `issuance-approved` / `issuance-rejected`.
   * @throws CardwrightError `STORE_NOT_FOUND` (no such approval); `AUTHZ_DENIED` without the
   * `approve-issuance` permission (`details.permission`); `AUTHZ_SEPARATION_OF_DUTIES` when the
   * officer is the requester (rule `officer-not-requester`) or the user the card is for (rule
   * `officer-not-subject`); `WORKFLOW_STATE` when it was already decided; `STORE_CONFLICT` when
   * another officer decided it at the same moment.
   */
  async decide(options: DecideIssuanceOptions): Promise<ApprovalRecord> {
    const actor = issuanceActor(options.actor);
    const approval = await this.#d.store.approvals.get(options.approvalId);
    if (approval === null || approval.kind !== "issuance") {
      throw new CardwrightError("STORE_NOT_FOUND", `there is no issuance request ${options.approvalId}`, {
        details: { recordKind: "approval", recordId: options.approvalId },
      });
    }
    const card = approval.cardId === undefined ? null : await this.#d.store.cards.get(approval.cardId);
    const policy = this.#policyById(approval.policyId);
    const at = { userId: approval.userId, ...(card === null ? {} : { cardId: card.id }) };
    await this.#refusing("approve-issuance", actor, at, () => {
      assertSubjectPermitted(permissionGrants(policy), actor, "approve-issuance", {
        userId: approval.userId,
        ref: `issuance request ${approval.id}`,
        ...(card === null ? {} : { cardState: card.state }),
      });
      if (actor.id === approval.requestedBy) {
        throw separation(
          "officer-not-requester",
          `${actor.id} requested issuance ${approval.id} and may not also approve or reject it: another validation officer must decide`,
          approval,
          actor,
        );
      }
      if (actor.id === approval.userId) {
        throw separation(
          "officer-not-subject",
          `${actor.id} may not decide an issuance request for their own card (${approval.id})`,
          approval,
          actor,
        );
      }
      if (approval.status !== "pending") {
        throw new CardwrightError(
          "WORKFLOW_STATE",
          `issuance request ${approval.id} is already ${approval.status}${approval.decidedBy === undefined ? "" : ` by ${approval.decidedBy}`}`,
          { details: { approvalId: approval.id, approvalStatus: approval.status } },
        );
      }
    });
    const approved = options.decision === "approve";
    const decided = await this.#d.store.transaction(async (tx) => {
      const next = await tx.approvals.update({
        ...approval,
        status: approved ? "approved" : "rejected",
        decidedBy: actor.id,
        decidedAt: this.#d.clock.now().toISOString(),
        reason: options.reason,
      });
      await this.#d.auditLog.append(
        {
          actor: actor.id,
          action: approved ? "issuance.approved" : "issuance.rejected",
          ...at,
          details: {
            approvalId: approval.id,
            actorKind: actor.kind,
            requestedBy: approval.requestedBy,
            reason: options.reason,
          },
        },
        tx,
      );
      return next;
    });
    const onCard = approval.cardId === undefined ? {} : { cardId: approval.cardId };
    await notifySafely(
      this.#d,
      approved
        ? {
            kind: "issuance-approved",
            approvalId: approval.id,
            userId: approval.userId,
            decidedBy: actor.id,
            ...onCard,
          }
        : {
            kind: "issuance-rejected",
            approvalId: approval.id,
            userId: approval.userId,
            decidedBy: actor.id,
            reason: options.reason,
            ...onCard,
          },
    );
    return decided;
  }

  /** Approvals matching `query` (oldest first), e.g. `{ kind: "issuance", status: "pending" }` for an officer's queue. */
  list(query: ApprovalQuery = {}): Promise<ApprovalRecord[]> {
    return this.#d.store.approvals.list(query);
  }

  /**
   * The checks before an issue starts on `card` (already leased and checked to be registered or
   * bound by the caller): the actor's `issue` permission, the policy's issuance mode (a user only in
   * self-service; with `requireBinding`, only onto a card bound to them), the transition to
   * `issuing` in the policy's table, the approval of a validated issue (and that the issuing
   * operator is not its officer), and the limits. A refusal is audited as `operation.refused` and
   * changes nothing else.
   * @throws CardwrightError `AUTHZ_DENIED` (`details.permission`, or `details.rule`
   * `issuance.mode` / `issuance.requireBinding`), `CARD_TRANSITION`, `AUTHZ_APPROVAL_REQUIRED`,
   * `AUTHZ_SEPARATION_OF_DUTIES`, `POLICY_LIMIT`.
   */
  async clearIssue(card: CardRecord, request: IssueRequest): Promise<IssueClearance> {
    const actor = issuanceActor(request.actor);
    const policy =
      request.policyId === undefined
        ? await this.#policyForIssue(request.userId, request.deviceType)
        : this.#d.policies.get(request.policyId);
    const mode = issuanceMode(policy);
    let approval: ApprovalRecord | undefined;
    await this.#refusing("issue", actor, { userId: request.userId, cardId: card.id }, async () => {
      // The card will be the target user's: "own" means the actor issues to themself.
      assertPermitted(permissionGrants(policy), actor, "issue", { ...card, userId: card.userId ?? request.userId });
      if (request.optionalTemplates.length > 0) {
        assertPermitted(permissionGrants(policy), actor, "select-optional", {
          ...card,
          userId: card.userId ?? request.userId,
        });
      }
      if (actor.kind === "user") {
        if (mode !== "self-service") {
          throw new CardwrightError(
            "AUTHZ_DENIED",
            `policy ${policy?.id ?? "(none)"} issues in ${mode} mode: a user may not issue their own card; an operator issues it`,
            {
              details: {
                rule: "issuance.mode",
                mode,
                permission: `user:issue:own:${card.state}`,
                actorKind: actor.kind,
                cardId: card.id,
                ...(policy === undefined ? {} : { policyId: policy.id }),
              },
            },
          );
        }
        if (requiresBinding(policy) && (card.state !== "bound" || card.userId !== actor.id)) {
          throw new CardwrightError(
            "AUTHZ_DENIED",
            `policy ${policy?.id} allows self-enrolment only onto a device bound to the user beforehand; card ${card.id} is ${card.state}${card.userId === undefined ? "" : ` for ${card.userId}`}: ask an operator to bind it to ${actor.id}`,
            {
              details: {
                rule: "issuance.requireBinding",
                permission: "user:issue:own:bound",
                actorKind: actor.kind,
                cardId: card.id,
                state: card.state,
                ...(policy === undefined ? {} : { policyId: policy.id }),
              },
            },
          );
        }
      }
      assertTransition(transitionTable(policy), card.state, "issuing", "issue", card.id);
      const optionalTemplates = request.optionalTemplates;
      if (request.approvalId !== undefined || (mode === "validated" && actor.kind !== "user")) {
        if (request.approvalId === undefined) {
          throw new CardwrightError(
            "AUTHZ_APPROVAL_REQUIRED",
            `policy ${policy?.id} uses validated issuance: issuing a card to ${request.userId} needs the approvalId of an issuance request a validation officer approved`,
            { details: { rule: "issuance.approval.missing", userId: request.userId, policyId: policy?.id } },
          );
        }
        approval = assertApprovalClears(await this.#d.store.approvals.get(request.approvalId), {
          approvalId: request.approvalId,
          userId: request.userId,
          deviceSerial: request.deviceSerial,
          optionalTemplates,
          actor,
        });
      }
      if (policy?.limits !== undefined) {
        await assertWithinLimits(this.#d.store, {
          policy,
          userId: request.userId,
          cardId: card.id,
          // An unknown optional template is the workflow's to report, as without limits.
          templateIds:
            request.selectedTemplates ??
            policy.certificates.filter((t) => t.mandatory || optionalTemplates.includes(t.id)).map((t) => t.id),
          now: this.#d.clock.now(),
        });
      }
    });
    return {
      actor,
      mode,
      ...(policy === undefined ? {} : { policyId: policy.id }),
      ...(approval === undefined ? {} : { approval }),
    };
  }

  /**
   * Inside the transaction that starts the issue: use up the clearance's approval (link it to the
   * operation and card) and audit `issuance.cleared`. The approval is updated at the version
   * {@link clearIssue} read, so two issues racing for one approval cannot both start.
   * @throws StoreConflictError `STORE_CONFLICT` when the approval changed (was used) meanwhile.
   */
  async claim(tx: Store, clearance: IssueClearance, start: { operationId: string; cardId: string; userId: string }) {
    if (clearance.approval !== undefined) {
      await tx.approvals.update({ ...clearance.approval, operationId: start.operationId, cardId: start.cardId });
    }
    await this.#d.auditLog.append(
      {
        actor: clearance.actor.id,
        action: "issuance.cleared",
        cardId: start.cardId,
        userId: start.userId,
        operationId: start.operationId,
        details: {
          actorKind: clearance.actor.kind,
          mode: clearance.mode,
          ...(clearance.policyId === undefined ? {} : { policyId: clearance.policyId }),
          ...(clearance.approval === undefined
            ? {}
            : { approvalId: clearance.approval.id, officer: clearance.approval.decidedBy }),
        },
      },
      tx,
    );
  }

  /**
   * Bind a registered card to a user (state `bound`), so only that device is self-enrolled by
   * them. Needs the `bind` permission (operators by default; a user for themself only when the
   * policy grants it) and the `registered → bound` row of the policy's transition table.
   * @throws CardwrightError `USER_NOT_FOUND`, `STORE_NOT_FOUND`, `CARD_STATE` (not `registered`),
   * `AUTHZ_DENIED` (`details.permission`), `CARD_TRANSITION`, `STORE_CONFLICT` when the card changed meanwhile.
   */
  async bind(cardId: string, userId: string, options: BindCardOptions = {}): Promise<CardRecord> {
    const actor = issuanceActor(options.actor ?? "system");
    const user = await this.#requireUser(userId);
    const card = await this.#d.store.cards.get(cardId);
    if (card === null) {
      throw new CardwrightError("STORE_NOT_FOUND", `there is no card ${cardId}`, {
        details: { recordKind: "card", recordId: cardId },
      });
    }
    if (card.state !== "registered") {
      throw new CardwrightError("CARD_STATE", `card ${cardId} is ${card.state}; only a registered card can be bound`, {
        details: { cardId, state: card.state },
      });
    }
    const policy = this.#policyOrUndefined(user, card.deviceType);
    await this.#refusing("bind", actor, { userId, cardId }, () => {
      assertPermitted(permissionGrants(policy), actor, "bind", { ...card, userId });
      assertTransition(transitionTable(policy), card.state, "bound", "bind", cardId);
    });
    return this.#d.store.transaction(async (tx) => {
      const next = await tx.cards.update({ ...card, state: "bound", userId });
      await this.#d.auditLog.append(
        {
          actor: actor.id,
          action: "card.state",
          cardId,
          userId,
          details: {
            from: "registered",
            to: "bound",
            operation: "bind",
            actorKind: actor.kind,
            ...(options.comment === undefined ? {} : { comment: options.comment }),
          },
        },
        tx,
      );
      return next;
    });
  }

  // ---------------------------------------------------------------- internals

  /** Runs `checks`; a typed refusal is audited as `operation.refused` (nothing else changes) and rethrown. */
  #refusing(
    operation: string,
    actor: LifecycleActor,
    at: { userId: string; cardId?: string },
    checks: () => void | Promise<void>,
  ): Promise<void> {
    return refusing(this.#d.auditLog, { actor, operation, ...at }, checks);
  }

  async #requireUser(userId: string): Promise<DirectoryUser> {
    const user = await this.#d.directory.getUser(userId);
    if (user === null) {
      throw new CardwrightError("USER_NOT_FOUND", `the directory has no user ${userId}`, { details: { userId } });
    }
    return user;
  }

  /**
   * The user's policy for an issue, or `undefined` when none resolves: then the defaults apply
   * (operator mode, default permissions and transitions, no limits) and the issue workflow itself
   * reports the missing user or policy, as it always has.
   */
  async #policyForIssue(userId: string, deviceType: DeviceType): Promise<Policy | undefined> {
    const user = await this.#d.directory.getUser(userId);
    return user === null ? undefined : this.#policyOrUndefined(user, deviceType);
  }

  #policyOrUndefined(user: DirectoryUser, deviceType: DeviceType): Policy | undefined {
    try {
      return this.#d.policies.resolve(user, { type: deviceType });
    } catch (err) {
      if (isCardwrightError(err)) return undefined;
      throw err;
    }
  }

  #policyById(policyId: string | undefined): Policy | undefined {
    if (policyId === undefined) return undefined;
    try {
      return this.#d.policies.get(policyId);
    } catch (err) {
      if (isCardwrightError(err, "POLICY_NOT_FOUND")) return undefined;
      throw err;
    }
  }
}

function separation(rule: string, message: string, approval: ApprovalRecord, actor: LifecycleActor): CardwrightError {
  return new CardwrightError("AUTHZ_SEPARATION_OF_DUTIES", message, {
    details: {
      rule,
      approvalId: approval.id,
      actor: actor.id,
      requestedBy: approval.requestedBy,
      userId: approval.userId,
    },
  });
}
