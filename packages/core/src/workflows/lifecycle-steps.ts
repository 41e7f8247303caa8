/**
 * Step implementations of the suspend/resume/revoke machine and the retire machine. Each is
 * idempotent — a run restored from a snapshot re-runs the step that was in flight — and records
 * what it did in the store together with its audit event, in one transaction.
 */
import { fromPromise } from "xstate";
import type { CardRecord, CertificateRecord, CertificateStatus } from "../domain/card.js";
import type { CardStateTransition } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import { assertTransition } from "../lifecycle/card-state-transitions.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { CertificateAuthority } from "../ports/certificate-authority.js";
import type { Logger } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";
import type {
  CertificateStatusInput,
  CertificateTarget,
  CertificateTargetInput,
  CertificateTargetsInput,
  certificateStatusMachine,
} from "./certificate-status-machine.js";
import type { DeviceSession } from "./device-session.js";
import { type OperationRecordHandle, releasingCard } from "./operation-record-handle.js";
import type { RetireStepInput, retireMachine, WipeMethod } from "./retire-machine.js";
import {
  assertCardHeldBy,
  assertDeviceIsCard,
  requireCard,
  requireCertificateAuthority,
} from "./step-preconditions.js";

/** What the lifecycle steps need, all injected. */
export interface LifecycleDependencies {
  store: Store;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  auditLog: AuditLog;
  logger: Logger;
  /** The transition table of the card's policy. */
  transitions: readonly CardStateTransition[];
}

/** Which certificate statuses each change acts on, and the status it leaves. */
const CHANGES = {
  suspend: { from: ["written"], to: "suspended", action: "certificate.suspended" },
  resume: { from: ["suspended"], to: "written", action: "certificate.unsuspended" },
  revoke: { from: ["written", "valid", "suspended"], to: "revoked", action: "certificate.revoked" },
} as const satisfies Record<
  CertificateStatusInput["change"],
  { from: readonly CertificateStatus[]; to: CertificateStatus; action: string }
>;

type BaseInput = Pick<CertificateStatusInput, "operationId" | "cardId" | "userId" | "actor" | "actorKind" | "comment">;

/** The step implementations for one run (with a device session for retire). */
export class LifecycleSteps {
  readonly #d: LifecycleDependencies;
  readonly session: DeviceSession | undefined;
  readonly #operation: OperationRecordHandle | undefined;

  /**
   * @param session the card in a reader, for retire.
   * @param run.operation the run's operation record, when the runner shares it: the steps that
   * release the card (complete, release, the retire's complete) then save the operation's final
   * status in the same transaction (see {@link OperationRecordHandle}).
   */
  constructor(deps: LifecycleDependencies, session?: DeviceSession, run: { operation?: OperationRecordHandle } = {}) {
    this.#d = deps;
    this.session = session;
    this.#operation = run.operation;
  }

  /**
   * A transaction that releases the card at the end of the run: with the operation's final
   * `status` — the one the runner gives the final state the step leads to — when the run shares its record.
   */
  #releasingCard<T>(status: "completed" | "failed", change: (tx: Store) => Promise<T>): Promise<T> {
    return releasingCard(this.#operation, status, (fn) => this.#d.store.transaction(fn), change);
  }

  #card(cardId: string, store: Store = this.#d.store): Promise<CardRecord> {
    return requireCard(store, cardId);
  }

  /** The card, checked to be held by this operation. */
  async #heldCard(input: BaseInput, store: Store = this.#d.store): Promise<CardRecord> {
    const card = await this.#card(input.cardId, store);
    assertCardHeldBy(card, input.operationId);
    return card;
  }

  #ca(caId: string): CertificateAuthority {
    return requireCertificateAuthority(this.#d.certificateAuthorities, caId);
  }

  #session(): DeviceSession {
    if (this.session === undefined) {
      throw new CardwrightError("WORKFLOW_STATE", "this step needs the card in the reader, and the run has no device", {
        details: {},
      });
    }
    return this.session;
  }

  #audit(input: BaseInput, action: string, details: Record<string, unknown>, tx?: Store) {
    return this.#d.auditLog.append(
      {
        actor: input.actor,
        action,
        cardId: input.cardId,
        ...(input.userId === undefined ? {} : { userId: input.userId }),
        operationId: input.operationId,
        details: {
          actorKind: input.actorKind,
          ...details,
          ...(input.comment === undefined ? {} : { comment: input.comment }),
        },
      },
      tx,
    );
  }

  // ------------------------------------------------------- suspend / resume / revoke

  /** The certificates the change acts on: cardwright's own, with a CA and serial, in a status it changes. */
  async plan(input: CertificateStatusInput): Promise<{ targets: CertificateTarget[] }> {
    await this.#heldCard(input);
    const from: readonly CertificateStatus[] = CHANGES[input.change].from;
    const certificates = await this.#d.store.certificates.list({ cardId: input.cardId });
    const targets = certificates
      .filter((c) => c.thirdParty !== true && c.caId !== undefined && c.serialHex !== undefined)
      .filter((c) => from.includes(c.status))
      .sort((a, b) => a.slot.localeCompare(b.slot) || a.id.localeCompare(b.id))
      .map((c) => ({
        certificateId: c.id,
        caId: c.caId!,
        serialHex: c.serialHex!,
        slot: c.slot,
        ...(c.templateId === undefined ? {} : { templateId: c.templateId }),
        done: false,
      }));
    await this.#audit(input, "operation.planned", {
      operation: input.change,
      certificates: targets.map((t) => t.serialHex),
    });
    return { targets };
  }

  /**
   * Change one certificate at its CA (hold, release, or revocation with the operation's reason).
   * A certificate whose record already has the new status is not sent to the CA again.
   */
  async changeCertificate(input: CertificateTargetInput): Promise<void> {
    const change = CHANGES[input.change];
    const { target } = input;
    const before = await this.#certificate(input);
    if (before.status === change.to) return;
    const ca = this.#ca(target.caId);
    if (input.change === "suspend") await ca.suspend(target.serialHex);
    else if (input.change === "resume") await ca.unsuspend(target.serialHex);
    else await ca.revoke(target.serialHex, input.reason ?? "unspecified");
  }

  /** Record the certificate's new status, with its audit event, once the CA has acted. */
  async recordCertificate(input: CertificateTargetInput): Promise<void> {
    const change = CHANGES[input.change];
    const { target } = input;
    await this.#d.store.transaction(async (tx) => {
      const current = await this.#certificate(input, tx);
      if (current.status === change.to) return;
      await tx.certificates.update({ ...current, status: change.to });
      await this.#audit(
        input,
        change.action,
        {
          serialHex: target.serialHex,
          caId: target.caId,
          slot: target.slot,
          from: current.status,
          to: change.to,
          ...(input.change === "revoke" ? { reason: input.reason ?? "unspecified" } : {}),
          ...(input.change === "suspend" ? { reason: "certificateHold" } : {}),
        },
        tx,
      );
    });
  }

  async #certificate(input: CertificateTargetInput, store: Store = this.#d.store): Promise<CertificateRecord> {
    const cert = await store.certificates.get(input.target.certificateId);
    if (cert === null) {
      throw new CardwrightError("STORE_NOT_FOUND", `certificate ${input.target.certificateId} does not exist`, {
        details: { recordKind: "certificate", recordId: input.target.certificateId, cardId: input.cardId },
      });
    }
    return cert;
  }

  /** Every certificate changed: move the card to its new state and release it. */
  async complete(input: CertificateTargetsInput): Promise<void> {
    // Leads to `done`: the operation is `completed`.
    await this.#releasingCard("completed", async (tx) => {
      const card = await this.#heldCard(input, tx);
      for (const t of input.targets) {
        const cert = await tx.certificates.get(t.certificateId);
        if (cert?.status !== CHANGES[input.change].to) {
          throw new CardwrightError(
            "WORKFLOW_STATE",
            `certificate ${t.serialHex} is ${cert?.status ?? "missing"}, not ${CHANGES[input.change].to}; the card cannot become ${input.toState}`,
            { details: { cardId: input.cardId, serialHex: t.serialHex } },
          );
        }
      }
      assertTransition(this.#d.transitions, card.state, input.toState, input.change, card.id);
      const { pendingOperationId: _done, ...rest } = card;
      await tx.cards.update({ ...rest, state: input.toState });
      await this.#audit(
        input,
        "card.state",
        {
          from: card.state,
          to: input.toState,
          operation: input.change,
          ...(input.reason === undefined ? {} : { reason: input.reason }),
        },
        tx,
      );
    });
  }

  /** Nothing was changed: give the card back in the state it had, recording why. */
  async release(input: CertificateTargetsInput | RetireStepInput): Promise<void> {
    // Leads to `failed` in both machines: the operation is `failed`, whether or not this run still held the card.
    await this.#releasingCard("failed", async (tx) => {
      const card = await this.#card(input.cardId, tx);
      if (card.pendingOperationId !== input.operationId) return;
      const { pendingOperationId: _released, ...rest } = card;
      await tx.cards.update(rest);
      await this.#audit(
        input,
        "operation.abandoned",
        { state: card.state, cause: input.error?.code ?? "unknown", message: input.error?.message },
        tx,
      );
    });
  }

  // ------------------------------------------------------- retire

  /** The device is the card of the record, and the operation holds the card. */
  async connectCard(input: RetireStepInput): Promise<void> {
    const card = await this.#heldCard(input);
    assertDeviceIsCard(card, this.#session().device.identity.serial);
  }

  /** Authenticate as the card's administrator (its stored credential, else the factory one). */
  async authenticateAdmin(input: RetireStepInput): Promise<void> {
    await this.#session().ensureAdmin(await this.#card(input.cardId));
  }

  /**
   * Wipe the device: a factory reset where it can (keys, certificates, PINs and admin credential
   * back to factory), else delete every certificate slot the record lists.
   */
  async wipe(input: RetireStepInput): Promise<{ method: WipeMethod }> {
    const session = this.#session();
    const card = await this.#card(input.cardId);
    await session.ensureAdmin(card);
    if (session.device.capabilities.reset) {
      await session.device.reset();
      session.forget();
      await this.#audit(input, "card.wiped", { method: "reset", deviceSerial: card.deviceSerial });
      return { method: "reset" };
    }
    const slots = await this.#recordedSlots(input.cardId);
    for (const slot of slots) {
      if ((await session.device.readCertificate(slot)) !== null) await session.device.deleteCertificate(slot);
    }
    await this.#audit(input, "card.wiped", { method: "delete", slots, deviceSerial: card.deviceSerial });
    return { method: "delete" };
  }

  /**
   * Read the device back: after a reset no slot holds a key or certificate; after deletion none
   * of the recorded slots holds a certificate.
   * @throws CardwrightError `WORKFLOW_STATE` naming the slots still holding something.
   */
  async verifyWiped(input: RetireStepInput): Promise<void> {
    const device = this.#session().device;
    const objects = await device.listObjects();
    const recorded = new Set(await this.#recordedSlots(input.cardId));
    const left =
      input.method === "reset"
        ? objects.filter((o) => o.certificate !== undefined || o.publicKey !== undefined)
        : objects.filter((o) => o.certificate !== undefined && recorded.has(o.slot));
    if (left.length > 0) {
      throw new CardwrightError(
        "WORKFLOW_STATE",
        `card ${input.cardId} still holds objects in slots ${left.map((o) => o.slot).join(", ")} after the wipe`,
        { details: { cardId: input.cardId, slots: left.map((o) => o.slot) } },
      );
    }
  }

  /**
   * Record the card `retired` and its certificates off the card (`removed`, unless revoked). After
   * a reset the stored admin credential and PUK no longer open the card: they are dropped.
   */
  async completeRetire(input: RetireStepInput): Promise<void> {
    // Leads to `done`: the operation is `completed`.
    await this.#releasingCard("completed", async (tx) => {
      const card = await this.#heldCard(input, tx);
      assertTransition(this.#d.transitions, card.state, input.toState, "retire", card.id);
      const certificates = await tx.certificates.list({ cardId: input.cardId });
      const removed: string[] = [];
      for (const c of certificates) {
        if (c.status === "revoked" || c.status === "removed" || c.status === "expired") continue;
        await tx.certificates.update({ ...c, status: "removed" });
        removed.push(c.serialHex ?? c.id);
      }
      const { pendingOperationId: _done, ...rest } = card;
      const next: Omit<CardRecord, "pendingOperationId"> =
        input.method === "reset"
          ? (({ adminCredential: _a, adminCredentialAlgorithm: _b, puk: _c, ...kept }) => kept)(rest)
          : rest;
      await tx.cards.update({ ...next, state: input.toState } as CardRecord);
      await this.#audit(input, "card.state", { from: card.state, to: input.toState, operation: "retire", removed }, tx);
    });
  }

  async #recordedSlots(cardId: string): Promise<string[]> {
    const certificates: CertificateRecord[] = await this.#d.store.certificates.list({ cardId });
    return [...new Set(certificates.map((c) => c.slot))].sort();
  }
}

/** The suspend/resume/revoke machine's actors, implemented by `steps`. */
export function certificateStatusActors(steps: LifecycleSteps) {
  return {
    plan: fromPromise<{ targets: CertificateTarget[] }, CertificateStatusInput>(({ input }) => steps.plan(input)),
    changeCertificate: fromPromise<void, CertificateTargetInput>(({ input }) => steps.changeCertificate(input)),
    recordCertificate: fromPromise<void, CertificateTargetInput>(({ input }) => steps.recordCertificate(input)),
    complete: fromPromise<void, CertificateTargetsInput>(({ input }) => steps.complete(input)),
    release: fromPromise<void, CertificateTargetsInput>(({ input }) => steps.release(input)),
  } satisfies Parameters<typeof certificateStatusMachine.provide>[0]["actors"];
}

/** The retire machine's actors, implemented by `steps`. */
export function retireActors(steps: LifecycleSteps) {
  return {
    connectCard: fromPromise<void, RetireStepInput>(({ input }) => steps.connectCard(input)),
    authenticateAdmin: fromPromise<void, RetireStepInput>(({ input }) => steps.authenticateAdmin(input)),
    wipe: fromPromise<{ method: WipeMethod }, RetireStepInput>(({ input }) => steps.wipe(input)),
    verifyWiped: fromPromise<void, RetireStepInput>(({ input }) => steps.verifyWiped(input)),
    complete: fromPromise<void, RetireStepInput>(({ input }) => steps.completeRetire(input)),
    release: fromPromise<void, RetireStepInput>(({ input }) => steps.release(input)),
  } satisfies Parameters<typeof retireMachine.provide>[0]["actors"];
}
