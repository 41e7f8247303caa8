/**
 * Card update, "continue card update", cancel update, card inspection and third-party certificate
 * registration, run the way the other lifecycle operations are: the card is leased, the actor's
 * permission and the card's state transition are checked against the card's policy before
 * anything happens (a refusal is audited and changes nothing), and the update is a persisted
 * xstate workflow that can rest `pending` and be continued or cancelled in another process.
 * The {@link Cardwright} facade delegates here.
 */

import type { CardRecord, CertificateRecord, OperationRecord } from "../domain/card.js";
import type { LifecycleOperation, Policy } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import { assertTransition, transitionTable } from "../lifecycle/card-state-transitions.js";
import { assertPermitted, type LifecycleActor, permissionGrants } from "../lifecycle/lifecycle-permissions.js";
import { refusalOnCard, refusing } from "../lifecycle/operation-refusal.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { CertificateAuthority } from "../ports/certificate-authority.js";
import type { Device, SlotId } from "../ports/device.js";
import type { Directory, DirectoryUser } from "../ports/directory.js";
import type { Notifier } from "../ports/notifier.js";
import type { Logger, Random } from "../ports/runtime.js";
import type { SecretVault } from "../ports/secret-vault.js";
import type { Store } from "../ports/store.js";
import { CardLeaseKeeper } from "../workflows/card-lease-keeper.js";
import { DeviceSession } from "../workflows/device-session.js";
import { OperationRecordHandle } from "../workflows/operation-record-handle.js";
import { type ProgressEvent, runOperation } from "../workflows/operation-runner.js";
import { startOperation } from "../workflows/operation-start.js";
import { requireSavedOperation } from "../workflows/resumable-operation.js";
import type { CaRetryOptions } from "../workflows/retry-ca.js";
import { assertDeviceIsCard, requireCard } from "../workflows/step-preconditions.js";
import { checkUpdateTemplates } from "./update-capabilities.js";
import {
  UPDATE_MACHINE_ID,
  UPDATE_MACHINE_VERSION,
  UPDATE_REST_STATES,
  UPDATE_STEPS,
  type UpdateContext,
  type UpdateInput,
  type UpdateItem,
  updateMachine,
} from "./update-machine.js";
import { type ForeignCertificate, planCardUpdate, type UpdatePlan } from "./update-plan.js";
import { registerForeign, UpdateSession, UpdateSteps, updateActors } from "./update-steps.js";

/** What {@link CardUpdates} needs; the facade passes its own parts. */
export interface CardUpdatesDependencies {
  store: Store;
  vault: SecretVault;
  directory: Directory;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  policies: PolicyEngine;
  auditLog: AuditLog;
  notifier?: Notifier;
  random: Random;
  logger: Logger;
  caRetry?: CaRetryOptions;
  leaseOwner: string;
  leaseTtlMs: number;
}

/** How a certificate inside its renewal window (or with changed tracked attributes) is renewed. */
export type RenewalMode = "same-key" | "rekey";

/** Options of {@link CardUpdates.updateCard}. */
export interface UpdateCardOptions {
  cardId: string;
  /** The card, in a reader. */
  device: Device;
  /** Who asks; needs `update` (and `select-optional` when choosing optional templates). */
  actor: LifecycleActor;
  /** Assign this policy (current version) instead of updating under the card's own. */
  policyId?: string;
  /** Optional templates of the target policy the card should hold (default: those it holds). */
  optionalTemplates?: readonly string[];
  /** The user's PIN: the card signs the new requests with its keys. Never stored. */
  pin?: string;
  /**
   * `same-key` (the default where the CA accepts it) certifies the slot's key again, so a cancel
   * restores the card exactly; `rekey` generates a new key on the card — the safer key hygiene,
   * but from the key generation on the update can no longer be cancelled (no device gives a
   * replaced private key back).
   */
  renewal?: RenewalMode;
  /** Why, in the operator's words; recorded in the audit log. */
  comment?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of {@link CardUpdates.continueUpdate}. */
export interface ContinueUpdateOptions {
  actor: LifecycleActor;
  /** The card in a reader: needed to write certificates (not to merely poll a CA that still holds). */
  device?: Device;
  /** The user's PIN, when requests are still to be signed. */
  pin?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of {@link CardUpdates.cancelUpdate}. */
export interface CancelUpdateOptions {
  /** The update to cancel... */
  operationId?: string;
  /** ...or the card whose update to cancel. */
  cardId?: string;
  /** The card in a reader: needed when certificates of the update were already written to it. */
  device?: Device;
  actor: LifecycleActor;
  comment?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** A request a CA still holds. */
export interface PendingUpdateRequest {
  templateId: string;
  caId: string;
  requestId: string;
  caRequestId?: string;
}

/** Outcome of an update, a continued update or a cancel. */
export type UpdateResult =
  | { status: "completed"; operationId: string; card: CardRecord; certificates: CertificateRecord[]; plan: UpdatePlan }
  | {
      status: "pending";
      operationId: string;
      card: CardRecord;
      plan: UpdatePlan;
      pendingRequests: PendingUpdateRequest[];
    }
  | {
      status: "cancelled";
      operationId: string;
      card: CardRecord;
      certificates: CertificateRecord[];
      revoked: string[];
    };

/** Options of {@link CardUpdates.inspectCard}. */
export interface InspectCardOptions {
  cardId: string;
  device: Device;
  /** Preview an update to this policy instead of the card's own. */
  policyId?: string;
  optionalTemplates?: readonly string[];
  /**
   * The user the card is to be issued to, for a card not yet bound to one (an operator inspecting a
   * card before its first issue); ignored when the card has a user.
   */
  userId?: string;
}

/** What is on a card, against its records and policy. Changes nothing. */
export interface CardInspection {
  card: CardRecord;
  certificates: CertificateRecord[];
  /** Certificates on the device that no record lists (written outside cardwright). */
  foreign: ForeignCertificate[];
  /** What an update would do now. */
  plan: UpdatePlan;
}

/** Options of {@link CardUpdates.registerCertificate}. */
export interface RegisterCertificateOptions {
  cardId: string;
  device: Device;
  /** Slot of the third-party certificate (as {@link CardInspection.foreign} lists it). */
  slot: SlotId;
  /** Needs `register-certificate`. */
  actor: LifecycleActor;
  comment?: string;
}

type Start = { input: unknown } | { snapshot: unknown; event: { type: string } & Record<string, unknown> };

/** Runs card updates; see the module comment. */
export class CardUpdates {
  readonly #d: CardUpdatesDependencies;

  constructor(deps: CardUpdatesDependencies) {
    this.#d = deps;
  }

  /**
   * Update a card: diff it against its policy (or `options.policyId`) with {@link planCardUpdate},
   * then request what to add and renew, write it, and — only then — revoke and remove what the new
   * policy drops and what renewals supersede. A CA that holds a request leaves the update
   * `pending` ({@link continueUpdate} finishes it).
   * @throws CardwrightError `AUTHZ_DENIED` (`details.permission`), `CARD_TRANSITION`,
   * `WORKFLOW_STATE` (another operation holds the card), `DEVICE_MISMATCH`, `DEVICE_CAPABILITY`,
   * `PIV_SECURITY_STATUS` (PIN needed), `CA_UNSUPPORTED` (renewal mode), `POLICY_*`, `USER_NOT_FOUND`;
   * CardLeasedError `CARD_LEASED`; step failures with `details.resumable` and `details.operationId`.
   */
  async updateCard(options: UpdateCardOptions): Promise<UpdateResult> {
    await this.#requireCard(options.cardId);
    const lease = await this.#lease(options.cardId);
    try {
      const card = await this.#requireCard(options.cardId);
      const current = this.#policyOf(card);
      const prepared = await this.#refusing(card, options.actor, "update", async () => {
        if (card.pendingOperationId !== undefined) {
          throw new CardwrightError(
            "WORKFLOW_STATE",
            `card ${card.id} is held by operation ${card.pendingOperationId}; continue or cancel it first`,
            { details: { cardId: card.id, operationId: card.pendingOperationId } },
          );
        }
        const grants = permissionGrants(current);
        assertPermitted(grants, options.actor, "update", card);
        if ((options.optionalTemplates?.length ?? 0) > 0)
          assertPermitted(grants, options.actor, "select-optional", card);
        assertTransition(transitionTable(current), card.state, "updating", "update", card.id);
        assertDeviceIsCard(card, options.device.identity.serial);
        const target =
          options.policyId === undefined ? this.#requirePolicy(card, current) : this.#d.policies.get(options.policyId);
        const plan = await this.#plan(card, target, options.device, options.optionalTemplates, current);
        const items = this.#items(plan, target, options.renewal);
        const templates = [...new Set(items.map((i) => i.templateId))].map(
          (id) => target.certificates.find((t) => t.id === id)!,
        );
        checkUpdateTemplates(target, options.device.capabilities, templates);
        if (items.length > 0 && options.pin === undefined) {
          throw new CardwrightError(
            "PIV_SECURITY_STATUS",
            `updating card ${card.id} requests ${items.length} certificate(s) signed with the card's keys: pass the user's PIN`,
            { details: { cardId: card.id, reason: "pin-required" } },
          );
        }
        return { target, plan, items };
      });
      const input: UpdateInput = {
        operationId: this.#d.random.uuid(),
        cardId: card.id,
        ...(card.userId === undefined ? {} : { userId: card.userId }),
        actor: options.actor.id,
        actorKind: options.actor.kind,
        ...(options.comment === undefined ? {} : { comment: options.comment }),
        deviceSerial: card.deviceSerial,
        fromState: card.state,
        policyId: prepared.target.id,
        policyVersion: prepared.target.version,
        plan: prepared.plan,
        items: prepared.items,
      };
      const operation = await this.#create(card, input);
      return await this.#run(
        operation,
        { input },
        lease,
        prepared.target,
        current,
        options.device,
        options.pin,
        options.onProgress,
      );
    } finally {
      await lease.release();
    }
  }

  /**
   * "Continue card update": poll the CA for held requests, or re-run the step that failed, and
   * finish the update (possibly in another process). Needs `update`; audited `operation.resumed`.
   * @throws CardwrightError `STORE_NOT_FOUND`, `WORKFLOW_STATE` (not an update, or finished),
   * `WORKFLOW_VERSION`, `AUTHZ_DENIED`, `DEVICE_MISMATCH`; CardLeasedError `CARD_LEASED`; step failures.
   */
  async continueUpdate(operationId: string, options: ContinueUpdateOptions): Promise<UpdateResult> {
    return this.#onRestingUpdate(operationId, options, "update", async (held) => {
      await this.#d.auditLog.append({
        actor: options.actor.id,
        action: "operation.resumed",
        cardId: held.card.id,
        ...(held.card.userId === undefined ? {} : { userId: held.card.userId }),
        operationId,
        details: { actorKind: options.actor.kind, operation: "update" },
      });
      return this.#run(
        held.operation,
        { snapshot: held.operation.snapshot, event: { type: "RESUME" } },
        held.lease,
        held.target,
        held.current,
        options.device,
        options.pin,
        options.onProgress,
      );
    });
  }

  /**
   * Cancel update: restore the card and its record to their state before the update — every
   * certificate issued for it revoked at the CA and taken off the card, the certificates it
   * replaced written back, the card `active` under its old policy. Needs `cancel-update`.
   * @throws CardwrightError `WORKFLOW_STATE` (no update to cancel; its commit started; or a key the
   * card held was replaced — the update can then only be continued), `AUTHZ_DENIED`,
   * `DEVICE_NOT_FOUND` (certificates are on the card and no `device`), `DEVICE_MISMATCH`; CA errors.
   */
  async cancelUpdate(options: CancelUpdateOptions): Promise<UpdateResult> {
    const operationId = await this.#operationToCancel(options);
    const cancellable = (card: CardRecord, context: UpdateContext) => {
      if (!context.commitStarted && context.keysReplaced.length === 0) return;
      throw new CardwrightError(
        "WORKFLOW_STATE",
        context.commitStarted
          ? `update ${operationId} has started committing (old certificates are being revoked); it cannot be cancelled, continue it`
          : `update ${operationId} replaced the card's key in slot ${context.keysReplaced.join(", ")}; a private key cannot be restored, so continue the update instead`,
        {
          details: {
            operationId,
            cardId: card.id,
            slots: context.keysReplaced,
            commitStarted: context.commitStarted,
          },
        },
      );
    };
    return this.#onRestingUpdate(
      operationId,
      options,
      "cancel-update",
      (held) =>
        this.#run(
          held.operation,
          {
            snapshot: held.operation.snapshot,
            event: {
              type: "CANCEL",
              actor: options.actor.id,
              actorKind: options.actor.kind,
              ...(options.comment === undefined ? {} : { comment: options.comment }),
            },
          },
          held.lease,
          held.target,
          held.current,
          options.device,
          undefined,
          options.onProgress,
        ),
      cancellable,
    );
  }

  /**
   * Lease the card of a resting update (pending or interrupted), read it again under the lease, and
   * refuse — audited, changing nothing — an actor without `permission`, another card in the
   * reader, or what `check` refuses; then run `fn`.
   */
  async #onRestingUpdate(
    operationId: string,
    options: { actor: LifecycleActor; device?: Device },
    permission: "update" | "cancel-update",
    fn: (held: {
      operation: OperationRecord;
      card: CardRecord;
      lease: CardLeaseKeeper;
      target: Policy;
      current: Policy | undefined;
    }) => Promise<UpdateResult>,
    check?: (card: CardRecord, context: UpdateContext) => void,
  ): Promise<UpdateResult> {
    const first = await this.#resting(operationId);
    const lease = await this.#lease(first.cardId);
    try {
      const operation = await this.#resting(operationId);
      const card = await this.#requireCard(operation.cardId);
      const current = this.#policyOf(card);
      const context = (operation.snapshot as { context: UpdateContext }).context;
      await this.#refusing(card, options.actor, permission, async () => {
        assertPermitted(permissionGrants(current), options.actor, permission, card);
        if (options.device !== undefined) assertDeviceIsCard(card, options.device.identity.serial);
        check?.(card, context);
      });
      const target = this.#d.policies.get(context.policyId, context.policyVersion);
      return await fn({ operation, card, lease, target, current });
    } finally {
      await lease.release();
    }
  }

  /**
   * What is on the card against its records and policy: the certificates no record lists
   * (third-party) and the plan an update would run. Reads only; changes nothing.
   * @throws CardwrightError `STORE_NOT_FOUND`, `DEVICE_MISMATCH`, `USER_NOT_FOUND`, `POLICY_*`; device errors.
   */
  async inspectCard(options: InspectCardOptions): Promise<CardInspection> {
    const card = await this.#requireCard(options.cardId);
    assertDeviceIsCard(card, options.device.identity.serial);
    const current = this.#policyOf(card);
    const target =
      options.policyId === undefined ? this.#requirePolicy(card, current) : this.#d.policies.get(options.policyId);
    const plan = await this.#plan(
      card,
      target,
      options.device,
      options.optionalTemplates,
      current,
      card.userId ?? options.userId,
    );
    return {
      card,
      certificates: await this.#d.store.certificates.list({ cardId: card.id }),
      foreign: plan.foreign,
      plan,
    };
  }

  /**
   * Register a third-party certificate found on the card (see {@link inspectCard}) on the
   * operator's choice: recorded with `thirdParty: true`, tracked for expiry, audited
   * `certificate.registered`. Needs `register-certificate`.
   * @throws CardwrightError `AUTHZ_DENIED`, `DEVICE_MISMATCH`, `PIV_NOT_FOUND` (no certificate in
   * the slot), `STORE_DUPLICATE` (a record already lists it), `WORKFLOW_STATE` (an operation holds
   * the card); CardLeasedError `CARD_LEASED`.
   */
  async registerCertificate(options: RegisterCertificateOptions): Promise<CertificateRecord> {
    await this.#requireCard(options.cardId);
    const lease = await this.#lease(options.cardId);
    try {
      const card = await this.#requireCard(options.cardId);
      const current = this.#policyOf(card);
      const found = await this.#refusing(card, options.actor, "register-certificate", async () => {
        assertPermitted(permissionGrants(current), options.actor, "register-certificate", card);
        assertDeviceIsCard(card, options.device.identity.serial);
        if (card.pendingOperationId !== undefined) {
          throw new CardwrightError(
            "WORKFLOW_STATE",
            `card ${card.id} is held by operation ${card.pendingOperationId}`,
            {
              details: { cardId: card.id, operationId: card.pendingOperationId },
            },
          );
        }
        // A plan with no templates only sorts out what is foreign: it reads no user attribute, so a
        // card not yet bound to anyone (registering before the first issue) plans without one.
        const user = card.userId === undefined ? NO_USER : await this.#user(card);
        const plan = planCardUpdate({
          records: await this.#d.store.certificates.list({ cardId: card.id }),
          deviceObjects: await options.device.listObjects(),
          targetPolicy: { ...(current ?? EMPTY_POLICY), certificates: [], foreignCertificates: "keep" },
          optionalTemplates: [],
          user,
          now: new Date(),
        });
        const f = plan.foreign.find((x) => x.slot === options.slot);
        if (f === undefined) {
          const onCard = await options.device.readCertificate(options.slot);
          throw new CardwrightError(
            onCard === null ? "PIV_NOT_FOUND" : "STORE_DUPLICATE",
            onCard === null
              ? `slot ${options.slot} of card ${card.id} holds no certificate to register`
              : `the certificate in slot ${options.slot} of card ${card.id} is already on record`,
            { details: { cardId: card.id, slot: options.slot, recordKind: "certificate" } },
          );
        }
        return f;
      });
      return await registerForeign(
        this.#d.store,
        this.#d.auditLog,
        { cardId: card.id, ...(card.userId === undefined ? {} : { userId: card.userId }) },
        found,
        this.#d.random.uuid(),
        options.actor.id,
        options.actor.kind,
        options.comment,
      );
    } finally {
      await lease.release();
    }
  }

  // ---------------------------------------------------------------- internals

  /** Run `check`; a CardwrightError it throws is audited `operation.refused` (nothing else changes) and rethrown. */
  #refusing<T>(
    card: CardRecord,
    actor: LifecycleActor,
    operation: LifecycleOperation,
    check: () => Promise<T>,
  ): Promise<T> {
    return refusing(this.#d.auditLog, { actor, operation, ...refusalOnCard(card) }, check);
  }

  async #plan(
    card: CardRecord,
    target: Policy,
    device: Device,
    optionalTemplates: readonly string[] | undefined,
    current: Policy | undefined,
    userId: string | undefined = card.userId,
  ): Promise<UpdatePlan> {
    const user = await this.#user(card, userId);
    return planCardUpdate({
      records: await this.#d.store.certificates.list({ cardId: card.id }),
      deviceObjects: await device.listObjects(),
      ...(card.policyId === undefined
        ? {}
        : { currentPolicy: { id: card.policyId, version: card.policyVersion ?? current?.version ?? 0 } }),
      targetPolicy: target,
      ...(optionalTemplates === undefined ? {} : { optionalTemplates }),
      user,
      now: new Date(),
    });
  }

  /**
   * The requests the plan makes: one per renewal (by `mode`, or what the CA accepts) and per add (new
   * key). Renewals come first, so their certificates are written before the adds' and a cancel after
   * a partial write finds a replaced certificate to write back.
   */
  #items(plan: UpdatePlan, target: Policy, mode: RenewalMode | undefined): UpdateItem[] {
    const items: UpdateItem[] = [];
    for (const r of plan.renew) {
      const t = target.certificates.find((x) => x.id === r.templateId)!;
      const ca = this.#d.certificateAuthorities.get(t.caId);
      if (ca === undefined) {
        throw new CardwrightError("CONFIG_INVALID", `template ${t.id} names CA ${t.caId}, which is not configured`, {
          details: { templateId: t.id, caId: t.caId },
        });
      }
      const chosen: RenewalMode = mode ?? (ca.renewal.sameKey ? "same-key" : "rekey");
      if ((chosen === "same-key" && !ca.renewal.sameKey) || (chosen === "rekey" && !ca.renewal.rekey)) {
        throw new CardwrightError(
          "CA_UNSUPPORTED",
          `CA ${ca.id} does not accept ${chosen} renewals (template ${t.id})`,
          {
            details: { caId: ca.id, templateId: t.id, renewal: chosen },
          },
        );
      }
      items.push({
        kind: "renew",
        templateId: t.id,
        slot: t.slot,
        caId: t.caId,
        keyAlgorithm: t.keyAlgorithm,
        requestId: this.#d.random.uuid(),
        rekey: chosen === "rekey",
        previousCertificateId: r.certificateId,
        status: "planned",
      });
    }
    for (const a of plan.add) {
      const t = target.certificates.find((x) => x.id === a.templateId)!;
      items.push({
        kind: "add",
        templateId: t.id,
        slot: t.slot,
        caId: t.caId,
        keyAlgorithm: t.keyAlgorithm,
        requestId: this.#d.random.uuid(),
        rekey: true,
        ...(a.replacesCertificateId === undefined ? {} : { previousCertificateId: a.replacesCertificateId }),
        status: "planned",
      });
    }
    return items;
  }

  /** Hold the card (`updating`) for the new operation and persist it, audited, in one transaction. */
  async #create(card: CardRecord, input: UpdateInput): Promise<OperationRecord> {
    const p = input.plan;
    return startOperation(this.#d.store, this.#d.auditLog, {
      card,
      cardState: "updating",
      operationId: input.operationId,
      kind: "update",
      machineId: UPDATE_MACHINE_ID,
      machineVersion: UPDATE_MACHINE_VERSION,
      input,
      actor: input.actor,
      details: {
        operation: "update",
        actorKind: input.actorKind,
        from: card.state,
        to: "updating",
        ...(input.comment === undefined ? {} : { comment: input.comment }),
        policyId: input.policyId,
        policyVersion: input.policyVersion,
        ...(p.fromPolicy === undefined
          ? {}
          : { previousPolicyId: p.fromPolicy.id, previousPolicyVersion: p.fromPolicy.version }),
        remove: p.remove.map((r) => r.templateId ?? r.certificateId),
        add: p.add.map((a) => a.templateId),
        keep: p.keep.map((k) => k.templateId),
        renew: p.renew.map((r) => `${r.templateId}:${r.reasons.join("+")}`),
        foreign: p.foreign.map((f) => `${f.slot}:${f.serialHex}:${f.action}`),
      },
    });
  }

  async #run(
    operation: OperationRecord,
    start: Start,
    lease: CardLeaseKeeper,
    target: Policy,
    current: Policy | undefined,
    device: Device | undefined,
    pin: string | undefined,
    onProgress: ((event: ProgressEvent) => void) | undefined,
  ): Promise<UpdateResult> {
    // One handle for the runner's snapshots and the final status the releasing steps save.
    const handle = new OperationRecordHandle(operation);
    const steps = new UpdateSteps(
      {
        store: this.#d.store,
        directory: this.#d.directory,
        certificateAuthorities: this.#d.certificateAuthorities,
        auditLog: this.#d.auditLog,
        ...(this.#d.notifier === undefined ? {} : { notifier: this.#d.notifier }),
        random: this.#d.random,
        logger: this.#d.logger,
        ...(this.#d.caRetry === undefined ? {} : { caRetry: this.#d.caRetry }),
        policy: target,
        transitions: transitionTable(current),
      },
      device === undefined ? undefined : new UpdateSession(new DeviceSession(device, this.#d.vault), pin),
      { operation: handle },
    );
    const machine = updateMachine.provide({ actors: updateActors(steps) });
    const outcome = await runOperation({
      machine,
      store: this.#d.store,
      operation,
      handle,
      ...start,
      restStates: UPDATE_REST_STATES,
      statusOf: (state, done) =>
        done
          ? state === "done"
            ? "completed"
            : "failed"
          : (UPDATE_REST_STATES as readonly string[]).includes(state)
            ? "pending"
            : "running",
      progressOf: updateProgress,
      fence: () => lease.renew(),
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    const context = outcome.context as UpdateContext;
    const card = await this.#requireCard(operation.cardId);
    if (outcome.state === "done") {
      return {
        status: "completed",
        operationId: operation.id,
        card,
        certificates: await this.#d.store.certificates.list({ cardId: operation.cardId }),
        plan: context.plan,
      };
    }
    if (outcome.state === "pending") {
      return {
        status: "pending",
        operationId: operation.id,
        card,
        plan: context.plan,
        pendingRequests: context.items
          .filter((i) => i.status === "pending")
          .map((i) => ({
            templateId: i.templateId,
            caId: i.caId,
            requestId: i.requestId,
            ...(i.caRequestId === undefined ? {} : { caRequestId: i.caRequestId }),
          })),
      };
    }
    if (outcome.state === "cancelled") {
      if (context.error !== undefined) {
        throw new CardwrightError(context.error.code, context.error.message, {
          details: { ...context.error.details, operationId: operation.id, cancelled: true },
        });
      }
      return {
        status: "cancelled",
        operationId: operation.id,
        card,
        certificates: await this.#d.store.certificates.list({ cardId: operation.cardId }),
        revoked: context.items.flatMap((i) => (i.serialHex === undefined ? [] : [i.serialHex])),
      };
    }
    const cancellable = !context.commitStarted && context.keysReplaced.length === 0;
    await this.#d.auditLog.append({
      actor: context.cancel?.actor ?? context.actor,
      action: "operation.interrupted",
      cardId: operation.cardId,
      ...(operation.userId === undefined ? {} : { userId: operation.userId }),
      operationId: operation.id,
      details: { operation: "update", cause: context.error?.code ?? "unknown", cancellable },
    });
    const e = context.error;
    throw new CardwrightError(
      e?.code ?? "WORKFLOW_FAILED",
      `${e?.message ?? "update failed"} — update ${operation.id} is interrupted; continue it${cancellable ? " or cancel it" : ""}`,
      {
        details: {
          ...(e?.details ?? {}),
          operationId: operation.id,
          operation: "update",
          resumable: true,
          cancellable,
        },
      },
    );
  }

  async #operationToCancel(options: CancelUpdateOptions): Promise<string> {
    if (options.operationId !== undefined) return options.operationId;
    if (options.cardId === undefined) {
      throw new CardwrightError("WORKFLOW_STATE", "cancelUpdate needs the operationId or the cardId of the update", {
        details: {},
      });
    }
    const card = await this.#requireCard(options.cardId);
    if (card.pendingOperationId === undefined) {
      throw new CardwrightError("WORKFLOW_STATE", `card ${card.id} has no update in progress to cancel`, {
        details: { cardId: card.id },
      });
    }
    return card.pendingOperationId;
  }

  /** An update operation resting in `pending` or `interrupted`. */
  async #resting(operationId: string): Promise<OperationRecord> {
    const operation = await requireSavedOperation(this.#d.store, operationId, {
      versions: { [UPDATE_MACHINE_ID]: UPDATE_MACHINE_VERSION },
      otherMachine: ", not an update",
    });
    const value = (operation.snapshot as { value?: unknown } | null)?.value;
    if (operation.status !== "pending" || !(UPDATE_REST_STATES as readonly unknown[]).includes(value)) {
      throw new CardwrightError(
        "WORKFLOW_STATE",
        `update ${operationId} is ${operation.status}${typeof value === "string" ? ` (${value})` : ""}; only a pending or interrupted update can be continued or cancelled`,
        { details: { operationId, status: operation.status } },
      );
    }
    return operation;
  }

  #policyOf(card: CardRecord): Policy | undefined {
    if (card.policyId === undefined) return undefined;
    try {
      return this.#d.policies.get(card.policyId);
    } catch {
      return undefined;
    }
  }

  #requirePolicy(card: CardRecord, policy: Policy | undefined): Policy {
    if (policy !== undefined) return policy;
    throw new CardwrightError(
      "POLICY_NOT_FOUND",
      `card ${card.id} has no policy this instance knows${card.policyId === undefined ? "" : ` (${card.policyId})`}; pass policyId to assign one`,
      { details: { cardId: card.id, ...(card.policyId === undefined ? {} : { policyId: card.policyId }) } },
    );
  }

  async #user(card: CardRecord, id: string | undefined = card.userId): Promise<DirectoryUser> {
    if (id === undefined) {
      throw new CardwrightError(
        "USER_NOT_FOUND",
        `card ${card.id} is not bound to a user; name the user it is for (userId) to plan its certificates`,
        { details: { cardId: card.id } },
      );
    }
    const user = await this.#d.directory.getUser(id);
    if (user === null)
      throw new CardwrightError("USER_NOT_FOUND", `the directory has no user ${id}`, {
        details: { userId: id, cardId: card.id },
      });
    return user;
  }

  #lease(cardId: string): Promise<CardLeaseKeeper> {
    return CardLeaseKeeper.acquire(this.#d.store, cardId, this.#d.leaseOwner, this.#d.leaseTtlMs, this.#d.logger);
  }

  #requireCard(cardId: string): Promise<CardRecord> {
    return requireCard(this.#d.store, cardId);
  }
}

/** Stand-in policy for listing foreign certificates on a card that has none. */
/** The user of a plan that reads no attribute (see registerCertificate). */
const NO_USER: DirectoryUser = { id: "", displayName: "", groups: [], attributes: {} };

const EMPTY_POLICY: Policy = {
  id: "none",
  version: 0,
  name: "none",
  priority: 0,
  appliesTo: {},
  deviceTypes: [],
  certificates: [],
  pin: { minLength: 0, maxLength: 0, allowed: [], random: false },
  initialiseOnIssue: false,
};

/** Progress numbering for the update machine. */
export function updateProgress(state: string, context: unknown): Omit<ProgressEvent, "operationId" | "step"> {
  const c = context as UpdateContext;
  if (state === "generateKey" || state === "buildCsr" || state === "submitRequest") {
    const item = c.items[c.index];
    return {
      index: c.index + 1,
      total: c.items.length,
      ...(item === undefined ? {} : { templateId: item.templateId }),
    };
  }
  const i = (UPDATE_STEPS as readonly string[]).indexOf(state);
  return { index: i < 0 ? UPDATE_STEPS.length : i + 1, total: UPDATE_STEPS.length };
}
