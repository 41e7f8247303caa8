/**
 * Replace a lost, stolen, damaged or forgotten card, run the way the other lifecycle operations
 * are: the old card is leased for the run; the actor's `replace` permission, the old card's state
 * transition, the new device (type, capabilities — key import where keys are recovered — and
 * record) are checked before anything happens (a refusal is audited and changes nothing); the
 * operation is persisted at every step and an interrupted or pending one is continued — in another
 * process — with {@link ReplaceOperations.continueOperation}. The {@link Cardwright} facade delegates here.
 */

import type { CardRecord, CertificateRecord, CertificateStatus, OperationRecord } from "../domain/card.js";
import type { Policy, ReplacementReason } from "../domain/policy.js";
import { CardwrightError, PolicyError, type SerializedError } from "../errors.js";
import { assertTransition, transitionTable } from "../lifecycle/card-state-transitions.js";
import type { LifecycleOperations } from "../lifecycle/lifecycle-operations.js";
import { assertPermitted, type LifecycleActor, permissionGrants } from "../lifecycle/lifecycle-permissions.js";
import { auditRefusal, refusalOnCard, refusing } from "../lifecycle/operation-refusal.js";
import { checkDeviceCapabilities, type PolicyEngine, selectTemplates } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { CertificateAuthority } from "../ports/certificate-authority.js";
import type { Device } from "../ports/device.js";
import type { Clock, Logger } from "../ports/runtime.js";
import type { SecretVault } from "../ports/secret-vault.js";
import type { Store } from "../ports/store.js";
import { CardLeaseKeeper } from "../workflows/card-lease-keeper.js";
import { DeviceSession } from "../workflows/device-session.js";
import { OperationRecordHandle } from "../workflows/operation-record-handle.js";
import { type ProgressEvent, runOperation } from "../workflows/operation-runner.js";
import { startOperation } from "../workflows/operation-start.js";
import { requireResumableOperation } from "../workflows/resumable-operation.js";
import { requireCard } from "../workflows/step-preconditions.js";
import {
  type KeyRecoveryTarget,
  REPLACE_MACHINE_ID,
  REPLACE_MACHINE_VERSION,
  REPLACE_REST_STATES,
  REPLACE_STEPS,
  type ReplaceContext,
  type ReplaceInput,
  type ReplaceTarget,
  replaceMachine,
} from "./replace-machine.js";
import { type ReplacementIssuer, ReplaceSteps, replaceActors } from "./replace-steps.js";
import {
  REPLACEMENT_REASONS,
  type ResolvedReplacementRule,
  replacementRule,
  temporaryCardPolicy,
  temporaryTemplates,
} from "./replacement-rules.js";

/** What {@link ReplaceOperations} needs; the facade passes its own parts. */
export interface ReplaceOperationsDependencies {
  store: Store;
  vault: SecretVault;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  policies: PolicyEngine;
  auditLog: AuditLog;
  logger: Logger;
  clock: Clock;
  /** Makes operation ids. */
  uuid: () => string;
  leaseOwner: string;
  leaseTtlMs: number;
  /** The facade's issue workflow, which issues the new card. */
  issuer: ReplacementIssuer;
  /** Revoke, retire and resume, for a temporary card's return. */
  lifecycle: LifecycleOperations;
}

/** Options of {@link ReplaceOperations.replace}. */
export interface ReplaceCardOptions {
  /** The card being replaced. */
  cardId: string;
  reason: ReplacementReason;
  /** The device that becomes the new card, in a reader. */
  newDevice: Device;
  /** Who asks, as the embedding application authenticated them; needs the `replace` permission. */
  actor: LifecycleActor;
  /** Why, in the operator's words; recorded in the audit log. */
  comment?: string;
  /** The user's chosen PIN for the new card, when the policy does not generate one. Never stored. */
  pin?: string;
  /**
   * Optional templates the new (permanent) card carries; default: the optional templates the old
   * card had. Ignored for a temporary card, whose templates the policy fixes.
   */
  optionalTemplates?: readonly string[];
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of {@link ReplaceOperations.continueOperation}. */
export interface ResumeReplaceOptions {
  actor: LifecycleActor;
  /** The new card in a reader: needed unless only the completion is left. */
  newDevice?: Device;
  pin?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of {@link ReplaceOperations.returnTemporaryCard}. */
export interface ReturnTemporaryCardOptions {
  /** The temporary card being handed back. */
  temporaryCardId: string;
  /** The temporary card in a reader: it is wiped. */
  temporaryDevice: Device;
  /** The permanent card in a reader: proof it came back. */
  permanentDevice: Device;
  actor: LifecycleActor;
  comment?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Outcome of a replacement. */
export type ReplaceResult =
  | {
      status: "completed";
      operationId: string;
      /** The old card as now recorded (`replacedBy` the new one). */
      oldCard: CardRecord;
      newCard: CardRecord;
      /** The new card's certificates, recovered ones included. */
      certificates: CertificateRecord[];
      /** The certificates recovered (same certificate, archived key imported) onto the new card. */
      recovered: CertificateRecord[];
      /** The new card's random PIN, shown once (also sent through the Notifier's `pin` notification). */
      pin?: string;
    }
  | {
      status: "pending";
      operationId: string;
      oldCard: CardRecord;
      /** The new card, whose issue waits for a CA's approval. */
      newCardId: string;
      issueOperationId?: string;
    };

/** Outcome of {@link ReplaceOperations.returnTemporaryCard}. */
export interface ReturnTemporaryCardResult {
  /** The permanent card, `active` again. */
  permanentCard: CardRecord;
  /** The temporary card, `retired`. */
  temporaryCard: CardRecord;
  /** The revoke, retire and resume operations run, in order. */
  operationIds: string[];
}

const LIVE: readonly CertificateStatus[] = ["written", "valid", "suspended"];

/** Runs replacements; see the module comment. */
export class ReplaceOperations {
  readonly #d: ReplaceOperationsDependencies;

  constructor(deps: ReplaceOperationsDependencies) {
    this.#d = deps;
  }

  /**
   * Replace a card: revoke or hold its certificates as the policy's rule for `reason` says (see
   * `replacement-rules.ts`), move it to the rule's state, issue the new device to the same user
   * (the full policy, or a temporary card's templates at the temporary validity), recover archived
   * encryption keys to it, and link the two records.
   * @throws CardwrightError `AUTHZ_DENIED` (`details.permission`), `CARD_TRANSITION`, `CARD_STATE`
   * (the old card has no user or policy; the new device's record cannot be issued), `POLICY_RULE`
   * (unknown reason, device type), `DEVICE_MISMATCH` (the new device is the old card),
   * `DEVICE_CAPABILITY` (the new device cannot carry the policy, or cannot import keys that are to
   * be recovered) — all refused before anything changes and audited as `operation.refused`;
   * `WORKFLOW_STATE` (another operation holds the card); CardLeasedError `CARD_LEASED`; CA, device
   * and issue errors, with `details.resumable` and `details.operationId` when something had changed
   * (see {@link continueOperation}).
   */
  async replace(options: ReplaceCardOptions): Promise<ReplaceResult> {
    if (!REPLACEMENT_REASONS.includes(options.reason)) {
      throw new PolicyError(
        undefined,
        "replacementReason",
        `"${String(options.reason)}" is not a replacement reason; use one of ${REPLACEMENT_REASONS.join(", ")}`,
      );
    }
    await requireCard(this.#d.store, options.cardId);
    const lease = await this.#lease(options.cardId);
    try {
      // Read again under the lease: the previous holder may have changed the card meanwhile.
      const card = await requireCard(this.#d.store, options.cardId);
      if (card.pendingOperationId !== undefined) {
        throw new CardwrightError(
          "WORKFLOW_STATE",
          `card ${card.id} is held by operation ${card.pendingOperationId}; resume or finish it first`,
          { details: { cardId: card.id, operationId: card.pendingOperationId } },
        );
      }
      let input: ReplaceInput;
      let policy: Policy | undefined;
      try {
        policy = this.#policyOf(card);
        assertPermitted(permissionGrants(policy), options.actor, "replace", card);
        if (policy === undefined || card.userId === undefined) {
          throw new CardwrightError(
            "CARD_STATE",
            `card ${card.id} was never issued to a user under a policy; there is nothing to replace`,
            { details: { cardId: card.id, state: card.state } },
          );
        }
        const rule = replacementRule(policy, options.reason);
        assertTransition(transitionTable(policy), card.state, rule.oldCardState, "replace", card.id);
        input = await this.#plan(card, card.userId, policy, rule, options);
        await this.#checkNewDevice(options.newDevice, card, policy, input);
      } catch (err) {
        await auditRefusal(
          this.#d.auditLog,
          {
            actor: options.actor,
            operation: "replace",
            ...refusalOnCard(card),
            context: { replacementReason: options.reason },
            precedence: "error",
          },
          err,
        );
        throw err;
      }
      const operation = await this.#create(card, input);
      return await this.#run(operation, { input }, lease, policy, options.newDevice, options.pin, options.onProgress);
    } finally {
      await lease.release();
    }
  }

  /**
   * Continue an interrupted or pending replacement (possibly in a new process) from the first phase
   * not done: the old card's certificates not yet changed, the new card's issue (started, resumed
   * or recognised as done), the keys not yet recovered, the completion. The resuming actor needs
   * the `replace` permission; their id is audited as `operation.resumed`.
   * @throws CardwrightError `STORE_NOT_FOUND`, `WORKFLOW_STATE` (not a replacement, or finished),
   * `WORKFLOW_VERSION`, `AUTHZ_DENIED`, `DEVICE_NOT_FOUND` (a step needs the new card and none was
   * given), `DEVICE_MISMATCH`; CardLeasedError `CARD_LEASED`; errors as for {@link replace}.
   */
  async continueOperation(operationId: string, options: ResumeReplaceOptions): Promise<ReplaceResult> {
    const first = await this.#resumable(operationId);
    const lease = await this.#lease(first.cardId);
    try {
      const operation = await this.#resumable(operationId);
      const card = await requireCard(this.#d.store, operation.cardId);
      const policy = this.#policyOf(card);
      const refusal = { actor: options.actor, operation: "replace", ...refusalOnCard(card), operationId };
      await refusing(this.#d.auditLog, { ...refusal, context: { step: "resume" }, precedence: "error" }, () =>
        assertPermitted(permissionGrants(policy), options.actor, "replace", card),
      );
      await this.#d.auditLog.append({
        actor: options.actor.id,
        action: "operation.resumed",
        cardId: card.id,
        ...(operation.userId === undefined ? {} : { userId: operation.userId }),
        operationId,
        details: { actorKind: options.actor.kind, operation: "replace" },
      });
      const value = (operation.snapshot as { value?: unknown } | null)?.value;
      const resting = (REPLACE_REST_STATES as readonly string[]).includes(value as string);
      const start: Start =
        operation.snapshot === null
          ? { input: operation.input as ReplaceInput }
          : { snapshot: operation.snapshot, ...(resting ? { event: { type: "RESUME" } } : {}) };
      return await this.#run(operation, start, lease, policy, options.newDevice, options.pin, options.onProgress);
    } finally {
      await lease.release();
    }
  }

  /**
   * The permanent card of a forgotten-card replacement is back: revoke the temporary card's
   * certificates (`cessationOfOperation`: no longer needed, no compromise), wipe it (retire), and
   * lift the hold on the permanent card's certificates (resume) — each through its own persisted
   * lifecycle operation, each skipped when already done, so calling this again after an
   * interruption finishes the rest. Every permission (replace and resume on the permanent card,
   * revoke and retire on the temporary one) and transition is checked before anything changes.
   * @throws CardwrightError `CARD_STATE` (not a temporary card, or it was already returned),
   * `DEVICE_MISMATCH` (a device is not the card it should be), `AUTHZ_DENIED`, `CARD_TRANSITION`
   * (refusals audited as `operation.refused`); errors of revoke, retire and resume.
   */
  async returnTemporaryCard(options: ReturnTemporaryCardOptions): Promise<ReturnTemporaryCardResult> {
    const temporary = await requireCard(this.#d.store, options.temporaryCardId);
    if (temporary.temporary === undefined || temporary.temporary.returnedAt !== undefined) {
      throw new CardwrightError(
        "CARD_STATE",
        temporary.temporary === undefined
          ? `card ${temporary.id} is not a temporary card`
          : `temporary card ${temporary.id} was returned already, at ${temporary.temporary.returnedAt}`,
        { details: { cardId: temporary.id, state: temporary.state } },
      );
    }
    const permanent = await requireCard(this.#d.store, temporary.temporary.replacesCardId);
    for (const [card, device] of [
      [permanent, options.permanentDevice],
      [temporary, options.temporaryDevice],
    ] as const) {
      if (device.identity.serial !== card.deviceSerial) {
        throw new CardwrightError(
          "DEVICE_MISMATCH",
          `the reader holds serial ${device.identity.serial}, not card ${card.id} (serial ${card.deviceSerial})`,
          { details: { cardId: card.id, deviceSerial: device.identity.serial, expectedSerial: card.deviceSerial } },
        );
      }
    }
    try {
      const permanentPolicy = this.#policyOf(permanent);
      const temporaryPolicy = this.#policyOf(temporary);
      assertPermitted(permissionGrants(permanentPolicy), options.actor, "replace", permanent);
      if (permanent.state !== "active") {
        assertPermitted(permissionGrants(permanentPolicy), options.actor, "resume", permanent);
        assertTransition(transitionTable(permanentPolicy), permanent.state, "active", "resume", permanent.id);
      }
      let state = temporary.state;
      if (state !== "revoked" && state !== "retired") {
        assertPermitted(permissionGrants(temporaryPolicy), options.actor, "revoke", temporary);
        assertTransition(transitionTable(temporaryPolicy), state, "revoked", "revoke", temporary.id);
        state = "revoked";
      }
      if (state !== "retired") {
        assertPermitted(permissionGrants(temporaryPolicy), options.actor, "retire", { ...temporary, state });
        assertTransition(transitionTable(temporaryPolicy), state, "retired", "retire", temporary.id);
      }
    } catch (err) {
      await auditRefusal(
        this.#d.auditLog,
        {
          actor: options.actor,
          operation: "replace",
          ...refusalOnCard(permanent),
          context: { step: "return-temporary", temporaryCardId: temporary.id },
          precedence: "error",
        },
        err,
      );
      throw err;
    }
    const common = {
      actor: options.actor,
      ...(options.comment === undefined ? {} : { comment: options.comment }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    };
    const operationIds: string[] = [];
    let current = temporary;
    if (current.state !== "revoked" && current.state !== "retired") {
      const r = await this.#d.lifecycle.revoke({ ...common, cardId: temporary.id, reason: "cessationOfOperation" });
      operationIds.push(r.operationId);
      current = r.card;
    }
    if (current.state !== "retired") {
      const r = await this.#d.lifecycle.retire({ ...common, cardId: temporary.id, device: options.temporaryDevice });
      operationIds.push(r.operationId);
    }
    if ((await requireCard(this.#d.store, permanent.id)).state !== "active") {
      const r = await this.#d.lifecycle.resumeCard({ ...common, cardId: permanent.id });
      operationIds.push(r.operationId);
    }
    return this.#d.store.transaction(async (tx) => {
      const temp = await requireCard(tx, temporary.id);
      const perm = await requireCard(tx, permanent.id);
      const returnedAt = this.#d.clock.now().toISOString();
      const temporaryCard = await tx.cards.update({
        ...temp,
        temporary: { ...(temp.temporary ?? temporary.temporary!), returnedAt },
      });
      // Back in service: the permanent card is no longer replaced by anything.
      const { replacedBy: _gone, ...rest } = perm;
      const permanentCard = await tx.cards.update(rest);
      await this.#d.auditLog.append(
        {
          actor: options.actor.id,
          action: "card.returned",
          cardId: permanent.id,
          ...(permanent.userId === undefined ? {} : { userId: permanent.userId }),
          details: {
            actorKind: options.actor.kind,
            temporaryCardId: temporary.id,
            operationIds,
            ...(options.comment === undefined ? {} : { comment: options.comment }),
          },
        },
        tx,
      );
      return { permanentCard, temporaryCard, operationIds };
    });
  }

  // ---------------------------------------------------------------- internals

  /**
   * What the replacement will do, decided before anything changes: the new card's templates, the
   * archived keys recovered to it (left out of its issue), and the old card's certificates to
   * revoke or hold (the recovered ones excepted — see `replacement-rules.ts`).
   */
  async #plan(
    card: CardRecord,
    userId: string,
    policy: Policy,
    rule: ResolvedReplacementRule,
    options: ReplaceCardOptions,
  ): Promise<ReplaceInput> {
    const certificates = await this.#d.store.certificates.list({ cardId: card.id });
    const live = certificates.filter((c) => LIVE.includes(c.status));
    let templates: string[];
    if (rule.newCard === "temporary") {
      templates = temporaryTemplates(policy);
    } else {
      const optional =
        options.optionalTemplates ??
        [...new Set(live.map((c) => c.templateId))].filter(
          (id): id is string => policy.certificates.find((t) => t.id === id)?.mandatory === false,
        );
      templates = selectTemplates(policy, optional).map((t) => t.id);
    }
    const recoveries: KeyRecoveryTarget[] = [];
    if (rule.newCard === "permanent" && rule.keyRecovery) {
      for (const c of live) {
        const t = policy.certificates.find((x) => x.id === c.templateId);
        if (t === undefined || !templates.includes(t.id)) continue;
        if (c.archivedKey === undefined || c.certificate === undefined || c.serialHex === undefined) continue;
        if (recoveries.some((r) => r.slot === c.slot)) continue;
        recoveries.push({
          certificateId: c.id,
          slot: c.slot,
          templateId: t.id,
          keyAlgorithm: t.keyAlgorithm,
          serialHex: c.serialHex,
          done: false,
        });
      }
    }
    const recovered = new Set(recoveries.map((r) => r.certificateId));
    const targets: ReplaceTarget[] = [];
    for (const c of certificates) {
      if (c.thirdParty === true || c.caId === undefined || c.serialHex === undefined) continue;
      let change: ReplaceTarget["change"] | undefined;
      if (recovered.has(c.id)) change = c.status === "suspended" ? "resume" : undefined;
      else if (rule.oldCard === "revoke") change = LIVE.includes(c.status) ? "revoke" : undefined;
      else change = c.status === "written" ? "suspend" : undefined;
      if (change === undefined) continue;
      targets.push({
        certificateId: c.id,
        caId: c.caId,
        serialHex: c.serialHex,
        slot: c.slot,
        ...(c.templateId === undefined ? {} : { templateId: c.templateId }),
        change,
        done: false,
      });
    }
    targets.sort((a, b) => a.slot.localeCompare(b.slot) || a.certificateId.localeCompare(b.certificateId));
    const recoveredTemplates = new Set(recoveries.map((r) => r.templateId));
    const temporary = rule.newCard === "temporary" ? temporaryCardPolicy(policy) : undefined;
    return {
      operationId: this.#d.uuid(),
      cardId: card.id,
      userId,
      actor: options.actor.id,
      actorKind: options.actor.kind,
      reason: options.reason,
      ...(options.comment === undefined ? {} : { comment: options.comment }),
      rule,
      fromState: card.state,
      newDeviceSerial: options.newDevice.identity.serial,
      selection: {
        // The new card keeps the old card's policy, which an update may have assigned.
        policyId: policy.id,
        templates: templates.filter((id) => !recoveredTemplates.has(id)),
        ...(temporary === undefined ? {} : { maxValidityDays: temporary.validityDays }),
      },
      targets,
      recoveries,
    };
  }

  /**
   * Refuse a new device that cannot become the replacement: the old card itself, a type the policy
   * does not allow, a record that cannot be issued, missing capabilities — key import above all
   * when archived keys are to be recovered.
   */
  async #checkNewDevice(device: Device, card: CardRecord, policy: Policy, input: ReplaceInput): Promise<void> {
    const identity = device.identity;
    if (identity.serial === card.deviceSerial) {
      throw new CardwrightError(
        "DEVICE_MISMATCH",
        `the new device (serial ${identity.serial}) is card ${card.id} itself; a replacement needs another device`,
        { details: { cardId: card.id, deviceSerial: identity.serial } },
      );
    }
    if (!policy.deviceTypes.includes(identity.type)) {
      throw new PolicyError(
        policy.id,
        "deviceTypes",
        `policy ${policy.id} does not allow ${identity.type} devices (allowed: ${policy.deviceTypes.join(", ")})`,
      );
    }
    const existing = (await this.#d.store.cards.list({ deviceSerial: identity.serial, limit: 1 }))[0];
    if (
      existing !== undefined &&
      (existing.pendingOperationId !== undefined ||
        !(existing.state === "registered" || (existing.state === "bound" && existing.userId === input.userId)))
    ) {
      throw new CardwrightError(
        "CARD_STATE",
        `the new device is card ${existing.id}, ${existing.state}${existing.pendingOperationId === undefined ? "" : ` and held by operation ${existing.pendingOperationId}`}; only an unissued card (registered, or bound to ${input.userId}) can become the replacement`,
        { details: { cardId: existing.id, state: existing.state, deviceSerial: identity.serial } },
      );
    }
    const templates = policy.certificates.filter(
      (t) => input.selection.templates.includes(t.id) || input.recoveries.some((r) => r.templateId === t.id),
    );
    if (input.recoveries.length > 0 && (device.capabilities.keyImport !== true || device.importKeyPair === undefined)) {
      throw new CardwrightError(
        "DEVICE_CAPABILITY",
        `the new device cannot import private keys, which recovering the archived key${input.recoveries.length === 1 ? "" : "s"} of slot${input.recoveries.length === 1 ? "" : "s"} ${input.recoveries.map((r) => r.slot).join(", ")} needs; use a device that can, or a policy without key recovery`,
        {
          details: {
            policyId: policy.id,
            rule: "deviceCapability",
            capability: "keyImport",
            deviceSerial: identity.serial,
            slots: input.recoveries.map((r) => r.slot),
          },
        },
      );
    }
    checkDeviceCapabilities(policy, device.capabilities, templates);
  }

  /** Hold the old card for the replacement and persist it, audited, in one transaction. */
  async #create(card: CardRecord, input: ReplaceInput): Promise<OperationRecord> {
    return startOperation(this.#d.store, this.#d.auditLog, {
      card,
      operationId: input.operationId,
      kind: "replace",
      userId: input.userId,
      machineId: REPLACE_MACHINE_ID,
      machineVersion: REPLACE_MACHINE_VERSION,
      input,
      actor: input.actor,
      details: {
        operation: "replace",
        actorKind: input.actorKind,
        replacementReason: input.reason,
        from: input.fromState,
        to: input.rule.oldCardState,
        oldCard: input.rule.oldCard,
        ...(input.rule.revocationReason === undefined ? {} : { revocationReason: input.rule.revocationReason }),
        newCard: input.rule.newCard,
        newDeviceSerial: input.newDeviceSerial,
        templates: input.selection.templates,
        recover: input.recoveries.map((r) => r.serialHex),
        ...(input.comment === undefined ? {} : { comment: input.comment }),
      },
    });
  }

  async #run(
    operation: OperationRecord,
    start: Start,
    lease: CardLeaseKeeper,
    policy: Policy | undefined,
    newDevice: Device | undefined,
    pin: string | undefined,
    onProgress: ((event: ProgressEvent) => void) | undefined,
  ): Promise<ReplaceResult> {
    // One handle for the runner's snapshots and the final status the releasing steps save.
    const handle = new OperationRecordHandle(operation);
    const steps = new ReplaceSteps(
      {
        store: this.#d.store,
        vault: this.#d.vault,
        certificateAuthorities: this.#d.certificateAuthorities,
        auditLog: this.#d.auditLog,
        logger: this.#d.logger,
        transitions: transitionTable(policy),
        issuer: this.#d.issuer,
      },
      newDevice === undefined ? undefined : new DeviceSession(newDevice, this.#d.vault),
      pin,
      { operation: handle },
    );
    const outcome = await runOperation({
      machine: replaceMachine.provide({ actors: replaceActors(steps) }),
      store: this.#d.store,
      operation,
      handle,
      ...start,
      restStates: REPLACE_REST_STATES,
      statusOf: (state, done) =>
        done
          ? state === "done"
            ? "completed"
            : "failed"
          : (REPLACE_REST_STATES as readonly string[]).includes(state)
            ? "pending"
            : "running",
      progressOf: replaceProgress,
      fence: () => lease.fence(),
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    const context = outcome.context as ReplaceContext;
    const oldCard = await requireCard(this.#d.store, operation.cardId);
    if (outcome.state === "done" && context.newCardId !== undefined) {
      const certificates = await this.#d.store.certificates.list({ cardId: context.newCardId });
      return {
        status: "completed",
        operationId: operation.id,
        oldCard,
        newCard: await requireCard(this.#d.store, context.newCardId),
        certificates,
        recovered: certificates.filter((c) => c.recoveredFrom !== undefined),
        ...(steps.issuedPin === undefined ? {} : { pin: steps.issuedPin }),
      };
    }
    if (outcome.state === "pending" && context.newCardId !== undefined) {
      return {
        status: "pending",
        operationId: operation.id,
        oldCard,
        newCardId: context.newCardId,
        ...(context.issueOperationId === undefined ? {} : { issueOperationId: context.issueOperationId }),
      };
    }
    const resumable = outcome.state !== "failed";
    const facts = {
      resumable,
      oldCardHandled: context.oldCardHandled,
      newCardIssued: context.newCardIssued,
      changed: context.targets.filter((t) => t.done).length,
      remaining: context.targets.filter((t) => !t.done).length,
    };
    if (resumable) {
      await this.#d.auditLog.append({
        actor: context.actor,
        action: "operation.interrupted",
        cardId: operation.cardId,
        userId: context.userId,
        operationId: operation.id,
        details: { operation: "replace", cause: context.error?.code ?? "unknown", ...facts },
      });
    }
    throw replaceFailure(context.error, operation, facts);
  }

  /** The card's policy, current version (rules changed since issue apply at once). */
  #policyOf(card: CardRecord): Policy | undefined {
    return card.policyId === undefined ? undefined : this.#d.policies.get(card.policyId);
  }

  #resumable(operationId: string): Promise<OperationRecord> {
    return requireResumableOperation(this.#d.store, operationId, {
      versions: { [REPLACE_MACHINE_ID]: REPLACE_MACHINE_VERSION },
      otherMachine: ", not a replacement",
    });
  }

  #lease(cardId: string): Promise<CardLeaseKeeper> {
    return CardLeaseKeeper.acquire(this.#d.store, cardId, this.#d.leaseOwner, this.#d.leaseTtlMs, this.#d.logger);
  }
}

type Start = { input: unknown } | { snapshot: unknown; event?: { type: string } };

/** Progress numbering for the replace machine. */
export function replaceProgress(state: string, context: unknown): Omit<ProgressEvent, "operationId" | "step"> {
  const c = context as ReplaceContext;
  if (state === "changeCertificate" || state === "recordCertificate") {
    return { index: c.targets.filter((t) => t.done).length + 1, total: c.targets.length };
  }
  if (state === "recoverKey") {
    return { index: c.recoveries.filter((r) => r.done).length + 1, total: c.recoveries.length };
  }
  const i = (REPLACE_STEPS as readonly string[]).indexOf(state);
  return { index: i < 0 ? REPLACE_STEPS.length : i + 1, total: REPLACE_STEPS.length };
}

function replaceFailure(
  error: SerializedError | undefined,
  operation: OperationRecord,
  facts: Record<string, boolean | number>,
): CardwrightError {
  const details = { ...(error?.details ?? {}), operationId: operation.id, operation: "replace", ...facts };
  if (error === undefined) {
    return new CardwrightError("WORKFLOW_FAILED", `replace operation ${operation.id} failed`, { details });
  }
  const err = new CardwrightError(
    error.code,
    `${error.message}${facts.resumable === true ? ` — replace operation ${operation.id} is interrupted; resume it to finish` : ""}`,
    { details },
  );
  Object.defineProperty(err, "name", { value: error.name });
  return err;
}
