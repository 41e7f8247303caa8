/**
 * Step implementations of the replace machine. Each is idempotent — a run restored from a snapshot
 * re-runs the step that was in flight — and records what it did together with its audit event in
 * one transaction. The old card's certificates go through the same CA steps as suspend and revoke
 * ({@link LifecycleSteps}); the new card is issued through the facade's issue workflow.
 */
import { fromPromise } from "xstate";
import type { CardRecord, CertificateRecord } from "../domain/card.js";
import type { CardStateTransition } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import {
  importKeyToDevice,
  publicKeyOfPkcs8,
  unwrapArchivedKey,
  wrapArchivedKey,
  zeroKey,
} from "../keys/key-archival.js";
import { assertTransition } from "../lifecycle/card-state-transitions.js";
import type { LifecycleActor } from "../lifecycle/lifecycle-permissions.js";
import { parseCertificate, spkiEquals } from "../pki/certificate.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { CertificateAuthority } from "../ports/certificate-authority.js";
import type { Logger } from "../ports/runtime.js";
import type { SecretVault } from "../ports/secret-vault.js";
import type { Store } from "../ports/store.js";
import type { CertificateTargetInput } from "../workflows/certificate-status-machine.js";
import type { DeviceSession } from "../workflows/device-session.js";
import { LifecycleSteps } from "../workflows/lifecycle-steps.js";
import { type OperationRecordHandle, releasingCard } from "../workflows/operation-record-handle.js";
import { assertCardHeldBy, assertDeviceIsCard, requireCard } from "../workflows/step-preconditions.js";
import {
  type IssueNewCardOutput,
  type KeyRecoveryTarget,
  type ReplaceInput,
  type ReplaceStepInput,
  type ReplaceTargetInput,
  type replaceMachine,
  targetReason,
} from "./replace-machine.js";

/** What a replacement's issue step gets back from the issue workflow. */
export type ReplacementIssueResult =
  | { status: "active"; card: CardRecord; pin?: string }
  | { status: "pending"; card: CardRecord; operationId: string };

/** Starts or continues the issue of the new card (the facade's issue workflow). */
export interface ReplacementIssuer {
  /** Issue `selection` of the user's policy to the device (the facade's `issueCard`). */
  issue(options: {
    userId: string;
    actor: LifecycleActor;
    selection: ReplaceInput["selection"];
    session: DeviceSession;
    pin?: string;
  }): Promise<ReplacementIssueResult>;
  /** Continue the issue operation `operationId` (the facade's `resumeOperation`). */
  resume(
    operationId: string,
    options: { actor: string; session: DeviceSession; pin?: string },
  ): Promise<ReplacementIssueResult>;
}

/** What the replace steps need, all injected. */
export interface ReplaceDependencies {
  store: Store;
  vault: SecretVault;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  auditLog: AuditLog;
  logger: Logger;
  /** The transition table of the old card's policy. */
  transitions: readonly CardStateTransition[];
  issuer: ReplacementIssuer;
}

const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

/** Id of the new card's record of a recovered certificate: one per replacement and slot. */
export function recoveredCertificateId(operationId: string, slot: string): string {
  return `${operationId}:recovered:${slot}`;
}

/** The step implementations for one run over the new card's device session. */
export class ReplaceSteps {
  readonly #d: ReplaceDependencies;
  readonly #status: LifecycleSteps;
  readonly session: DeviceSession | undefined;
  /** The chosen PIN for the new card, when the policy does not generate one. Secret. */
  readonly #pin: string | undefined;
  /** The new card's random PIN, from the issue of this run. Secret: returned once. */
  issuedPin: string | undefined;
  readonly #operation: OperationRecordHandle | undefined;

  /**
   * @param run.operation the replacement's operation record, when the runner shares it: the steps
   * that end the run by releasing the old card (complete, release) then save the operation's final
   * status in the same transaction (see {@link OperationRecordHandle}).
   */
  constructor(
    deps: ReplaceDependencies,
    session?: DeviceSession,
    pin?: string,
    run: { operation?: OperationRecordHandle } = {},
  ) {
    this.#d = deps;
    this.session = session;
    this.#pin = pin;
    this.#operation = run.operation;
    this.#status = new LifecycleSteps({
      store: deps.store,
      certificateAuthorities: deps.certificateAuthorities,
      auditLog: deps.auditLog,
      logger: deps.logger,
      transitions: deps.transitions,
    });
  }

  #session(): DeviceSession {
    if (this.session === undefined) {
      throw new CardwrightError("DEVICE_NOT_FOUND", "this step needs the new card in a reader, and the run has none", {
        details: {},
      });
    }
    return this.session;
  }

  /**
   * A transaction that releases the card at the end of the run: with the operation's final
   * `status` — the one the runner gives the final state the step leads to — when the run shares its record.
   */
  #releasingCard<T>(status: "completed" | "failed", change: (tx: Store) => Promise<T>): Promise<T> {
    return releasingCard(this.#operation, status, (fn) => this.#d.store.transaction(fn), change);
  }

  #audit(input: ReplaceInput, action: string, details: Record<string, unknown>, tx?: Store, cardId = input.cardId) {
    return this.#d.auditLog.append(
      {
        actor: input.actor,
        action,
        cardId,
        userId: input.userId,
        operationId: input.operationId,
        details: {
          actorKind: input.actorKind,
          replacementReason: input.reason,
          ...details,
          ...(input.comment === undefined ? {} : { comment: input.comment }),
        },
      },
      tx,
    );
  }

  /** The old card's target as the suspend/resume/revoke steps take it. */
  #statusInput(input: ReplaceTargetInput): CertificateTargetInput {
    const reason = targetReason(input);
    const { target } = input;
    return {
      operationId: input.operationId,
      cardId: input.cardId,
      userId: input.userId,
      actor: input.actor,
      actorKind: input.actorKind,
      change: target.change,
      ...(target.change === "revoke" && reason !== undefined ? { reason } : {}),
      ...(input.comment === undefined ? {} : { comment: input.comment }),
      fromState: input.fromState,
      toState: input.rule.oldCardState,
      target: {
        certificateId: target.certificateId,
        caId: target.caId,
        serialHex: target.serialHex,
        slot: target.slot,
        ...(target.templateId === undefined ? {} : { templateId: target.templateId }),
        done: false,
      },
    };
  }

  // ------------------------------------------------------- phase 1: the old card

  /** Revoke, hold or release one certificate of the old card at its CA (never twice: see LifecycleSteps). */
  async changeCertificate(input: ReplaceTargetInput): Promise<void> {
    assertCardHeldBy(await requireCard(this.#d.store, input.cardId), input.operationId);
    await this.#status.changeCertificate(this.#statusInput(input));
  }

  /** Record the certificate's new status with its audit event. */
  async recordCertificate(input: ReplaceTargetInput): Promise<void> {
    await this.#status.recordCertificate(this.#statusInput(input));
  }

  /** Every target changed: move the old card to the rule's state (it stays held by the replacement). */
  async handleOldCard(input: ReplaceStepInput): Promise<void> {
    await this.#d.store.transaction(async (tx) => {
      const card = await requireCard(tx, input.cardId);
      assertCardHeldBy(card, input.operationId);
      if (card.state === input.rule.oldCardState) return;
      for (const t of input.targets) {
        const cert = await tx.certificates.get(t.certificateId);
        const expected = t.change === "revoke" ? "revoked" : t.change === "suspend" ? "suspended" : "written";
        if (cert?.status !== expected) {
          throw new CardwrightError(
            "WORKFLOW_STATE",
            `certificate ${t.serialHex} of card ${card.id} is ${cert?.status ?? "missing"}, not ${expected}`,
            { details: { cardId: card.id, serialHex: t.serialHex } },
          );
        }
      }
      assertTransition(this.#d.transitions, card.state, input.rule.oldCardState, "replace", card.id);
      await tx.cards.update({ ...card, state: input.rule.oldCardState });
      await this.#audit(
        input,
        "card.state",
        {
          from: card.state,
          to: input.rule.oldCardState,
          operation: "replace",
          ...(input.rule.oldCard === "revoke"
            ? { reason: input.rule.revocationReason }
            : { reason: "certificateHold" }),
        },
        tx,
      );
    });
  }

  // ------------------------------------------------------- phase 2: the new card

  /**
   * Issue the new card through the issue workflow — or, on a resumed run, continue the issue this
   * replacement started on it (its record holds the issue operation), or recognise the card this
   * replacement already issued.
   */
  async issueNewCard(input: ReplaceStepInput): Promise<IssueNewCardOutput> {
    const session = this.#session();
    const serial = session.device.identity.serial;
    if (serial !== input.newDeviceSerial) {
      throw new CardwrightError(
        "DEVICE_MISMATCH",
        `replacement ${input.operationId} issues the card with serial ${input.newDeviceSerial}, but the reader holds serial ${serial}`,
        { details: { operationId: input.operationId, deviceSerial: serial, expectedSerial: input.newDeviceSerial } },
      );
    }
    const existing = (await this.#d.store.cards.list({ deviceSerial: serial, limit: 1 }))[0];
    let result: ReplacementIssueResult;
    if (existing?.pendingOperationId !== undefined) {
      const op = await this.#d.store.operations.get(existing.pendingOperationId);
      if (op?.kind !== "issue" || !(await this.#startedByThisReplacement(input, op.createdAt))) {
        throw new CardwrightError(
          "WORKFLOW_STATE",
          `the new card ${existing.id} is held by operation ${existing.pendingOperationId}, which this replacement did not start`,
          { details: { cardId: existing.id, operationId: existing.pendingOperationId } },
        );
      }
      result = await this.#d.issuer.resume(op.id, {
        actor: input.actor,
        session,
        ...(this.#pin === undefined ? {} : { pin: this.#pin }),
      });
    } else if (
      existing?.state === "active" &&
      existing.userId === input.userId &&
      (await this.#issuedHere(input, existing))
    ) {
      return { newCardId: existing.id, status: "active" };
    } else {
      result = await this.#d.issuer.issue({
        userId: input.userId,
        actor: { id: input.actor, kind: input.actorKind },
        selection: input.selection,
        session,
        ...(this.#pin === undefined ? {} : { pin: this.#pin }),
      });
    }
    if (result.status === "pending") {
      await this.#audit(input, "replacement.pending", {
        newCardId: result.card.id,
        issueOperationId: result.operationId,
      });
      return { newCardId: result.card.id, issueOperationId: result.operationId, status: "pending" };
    }
    this.issuedPin = result.pin;
    await this.#audit(input, "replacement.issued", {
      newCardId: result.card.id,
      newDeviceSerial: result.card.deviceSerial,
      temporary: input.rule.newCard === "temporary",
      templates: input.selection.templates,
    });
    return { newCardId: result.card.id, status: "active" };
  }

  async #startedByThisReplacement(input: ReplaceInput, createdAt: string): Promise<boolean> {
    const replace = await this.#d.store.operations.get(input.operationId);
    return replace !== null && createdAt >= replace.createdAt;
  }

  /** The active card on the device was issued by an issue that started after this replacement did. */
  async #issuedHere(input: ReplaceInput, card: CardRecord): Promise<boolean> {
    const ops = await this.#d.store.operations.list({ cardId: card.id, status: "completed" });
    for (const op of ops) {
      if (op.kind === "issue" && (await this.#startedByThisReplacement(input, op.createdAt))) return true;
    }
    return false;
  }

  // ------------------------------------------------------- phase 3: key recovery

  /**
   * Recover one archived encryption key to the same slot of the new card: unwrap it, check it is
   * the certificate's key, import it (unless the slot already holds it: a resumed run), write the
   * certificate next to it, and record it on the new card — re-wrapped under the new record, so the
   * key stays archived — while the old card's record of it becomes `removed`. The certificate is
   * not revoked: see `replacement-rules.ts`.
   */
  async recoverKey(input: ReplaceStepInput & { recovery: KeyRecoveryTarget }): Promise<void> {
    const { recovery } = input;
    const newCardId = requireNewCard(input);
    const recordId = recoveredCertificateId(input.operationId, recovery.slot);
    if ((await this.#d.store.certificates.get(recordId))?.status === "written") return;
    const old = await this.#d.store.certificates.get(recovery.certificateId);
    if (old?.archivedKey === undefined || old.certificate === undefined) {
      throw new CardwrightError(
        "STORE_NOT_FOUND",
        `certificate ${recovery.certificateId} of card ${input.cardId} has no archived key to recover`,
        { details: { recordKind: "certificate", recordId: recovery.certificateId, cardId: input.cardId } },
      );
    }
    const certificate = unb64(old.certificate);
    const spki = parseCertificate(certificate).spki;
    const pkcs8 = await unwrapArchivedKey(this.#d.vault, old.archivedKey, { cardId: old.cardId, requestId: old.id });
    let rewrapped: CertificateRecord["archivedKey"];
    try {
      if (!spkiEquals(publicKeyOfPkcs8(recovery.keyAlgorithm, pkcs8), spki)) {
        throw new CardwrightError(
          "VAULT_UNWRAP_FAILED",
          `the key archived for certificate ${recovery.serialHex} is not that certificate's key; nothing was imported`,
          { details: { serialHex: recovery.serialHex, slot: recovery.slot, cardId: input.cardId } },
        );
      }
      rewrapped = await wrapArchivedKey(this.#d.vault, pkcs8, { cardId: newCardId, requestId: recordId });
      const session = this.#session();
      const newCard = await requireCard(this.#d.store, newCardId);
      assertDeviceIsCard(newCard, session.device.identity.serial);
      await session.ensureAdmin(newCard);
      const present = (await session.device.listObjects()).find((o) => o.slot === recovery.slot);
      if (present?.publicKey !== undefined && spkiEquals(present.publicKey.spki, spki)) {
        zeroKey(pkcs8);
      } else {
        // Zeroes the clear key whatever happens.
        await importKeyToDevice(session.device, recovery.slot, { algorithm: recovery.keyAlgorithm, pkcs8, spki });
      }
      const onCard = await session.device.readCertificate(recovery.slot);
      if (onCard === null || !Buffer.from(onCard).equals(Buffer.from(certificate))) {
        await session.device.writeCertificate(recovery.slot, certificate);
      }
    } finally {
      zeroKey(pkcs8);
    }
    const wrapped = rewrapped;
    await this.#d.store.transaction(async (tx) => {
      const { version: _v, createdAt: _c, updatedAt: _u, ...fields } = old;
      await tx.certificates.create({
        ...fields,
        id: recordId,
        cardId: newCardId,
        status: "written",
        archivedKey: wrapped,
        recoveredFrom: old.id,
      });
      const current = await tx.certificates.get(old.id);
      if (current !== null && current.status !== "removed")
        await tx.certificates.update({ ...current, status: "removed" });
      await this.#audit(
        input,
        "key.recovered",
        {
          slot: recovery.slot,
          templateId: recovery.templateId,
          serialHex: recovery.serialHex,
          fromCardId: input.cardId,
          fromCertificateId: old.id,
          certificateId: recordId,
          kekId: wrapped.kekId,
        },
        tx,
        newCardId,
      );
    });
  }

  // ------------------------------------------------------- completion

  /** Link the two cards (old `replacedBy`, a temporary card's `temporary`) and release the old card. */
  async complete(input: ReplaceStepInput): Promise<void> {
    const newCardId = requireNewCard(input);
    // `complete` leads to `done`: the replacement is `completed`.
    await this.#releasingCard("completed", async (tx) => {
      const old = await requireCard(tx, input.cardId);
      if (old.pendingOperationId !== input.operationId && old.replacedBy === newCardId) return;
      assertCardHeldBy(old, input.operationId);
      const { pendingOperationId: _done, ...rest } = old;
      await tx.cards.update({ ...rest, replacedBy: newCardId });
      const temporary = input.rule.newCard === "temporary";
      if (temporary) {
        const card = await requireCard(tx, newCardId);
        const notAfters = (await tx.certificates.list({ cardId: newCardId }))
          .map((c) => c.notAfter)
          .filter((n): n is string => n !== undefined)
          .sort();
        const expiresAt = notAfters.at(-1);
        if (expiresAt === undefined) {
          throw new CardwrightError("WORKFLOW_STATE", `temporary card ${newCardId} has no certificate`, {
            details: { cardId: newCardId },
          });
        }
        await tx.cards.update({ ...card, temporary: { replacesCardId: old.id, expiresAt } });
      }
      await this.#audit(
        input,
        "card.replaced",
        {
          newCardId,
          newDeviceSerial: input.newDeviceSerial,
          oldCard: input.rule.oldCard,
          oldCardState: input.rule.oldCardState,
          ...(input.rule.oldCard === "revoke" ? { revocationReason: input.rule.revocationReason } : {}),
          temporary,
          revoked: input.targets.filter((t) => t.change === "revoke").map((t) => t.serialHex),
          held: input.targets.filter((t) => t.change === "suspend").map((t) => t.serialHex),
          recovered: input.recoveries.map((r) => r.serialHex),
        },
        tx,
      );
    });
  }

  /** Nothing changed: give the old card back in the state it had, recording why. */
  async release(input: ReplaceStepInput): Promise<void> {
    // `release` leads to `failed`: the replacement is `failed`.
    await this.#releasingCard("failed", async (tx) => {
      const card = await requireCard(tx, input.cardId);
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
}

function requireNewCard(input: ReplaceStepInput): string {
  if (input.newCardId === undefined) {
    throw new CardwrightError("WORKFLOW_STATE", `replacement ${input.operationId} has no new card yet`, {
      details: { operationId: input.operationId },
    });
  }
  return input.newCardId;
}

/** The replace machine's actors, implemented by `steps`. */
export function replaceActors(steps: ReplaceSteps) {
  return {
    changeCertificate: fromPromise<void, ReplaceTargetInput>(({ input }) => steps.changeCertificate(input)),
    recordCertificate: fromPromise<void, ReplaceTargetInput>(({ input }) => steps.recordCertificate(input)),
    handleOldCard: fromPromise<void, ReplaceStepInput>(({ input }) => steps.handleOldCard(input)),
    issueNewCard: fromPromise<IssueNewCardOutput, ReplaceStepInput>(({ input }) => steps.issueNewCard(input)),
    recoverKey: fromPromise<void, ReplaceStepInput & { recovery: KeyRecoveryTarget }>(({ input }) =>
      steps.recoverKey(input),
    ),
    complete: fromPromise<void, ReplaceStepInput>(({ input }) => steps.complete(input)),
    release: fromPromise<void, ReplaceStepInput>(({ input }) => steps.release(input)),
  } satisfies Parameters<typeof replaceMachine.provide>[0]["actors"];
}
