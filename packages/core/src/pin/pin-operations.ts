/**
 * PIN operations, run the way the other lifecycle operations are: the card is leased for the run;
 * the actor's permission (named in the refusal), the card's state, the device (the record's card,
 * able to do it) and the new PIN (against the policy's `PinPolicy`) are checked before the
 * card is touched — a refusal is audited and changes nothing; the operation is persisted and
 * audited with actor and comment, and no PIN, PUK or admin credential reaches an audit event, log
 * line, snapshot, store row or error.
 *
 * Also here: the helpdesk side of the offline unblock (security answers, response codes; the agent
 * side is `offline-unblock.ts`) and revealing a card's admin credential to a permission holder.
 * The {@link Cardwright} facade delegates here.
 */

import type { CardRecord, CardState, OperationRecord } from "../domain/card.js";
import type { LifecycleOperation, Policy } from "../domain/policy.js";
import type { SecurityAnswersRecord } from "../domain/records.js";
import { CardwrightError } from "../errors.js";
import { assertPermitted, type LifecycleActor, permissionGrants } from "../lifecycle/lifecycle-permissions.js";
import { refusalOnCard, refusing } from "../lifecycle/operation-refusal.js";
import { generatePin, validatePin } from "../policy/pin-policy.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { AdminCredential, Device } from "../ports/device.js";
import type { Notifier } from "../ports/notifier.js";
import type { Clock, Logger, Random } from "../ports/runtime.js";
import type { SecretVault } from "../ports/secret-vault.js";
import type { Store } from "../ports/store.js";
import { CardLeaseKeeper } from "../workflows/card-lease-keeper.js";
import { credentialFromBytes, secretContext } from "../workflows/device-session.js";
import { OperationRecordHandle } from "../workflows/operation-record-handle.js";
import { type ProgressEvent, runOperation } from "../workflows/operation-runner.js";
import { startOperation } from "../workflows/operation-start.js";
import { requireCard } from "../workflows/step-preconditions.js";
import { makeUnblockResponse, readUnblockChallenge } from "./offline-unblock.js";
import {
  PIN_MACHINE_ID,
  PIN_MACHINE_VERSION,
  PIN_STEPS,
  type PinContext,
  type PinInput,
  type PinOperationKind,
  type PinResetMethod,
  pinMachine,
} from "./pin-machine.js";
import { type PinSecrets, PinSteps, pinActors } from "./pin-steps.js";
import {
  type AnswerLockout,
  afterFailedCheck,
  afterSuccessfulCheck,
  assertNotLockedOut,
  DEFAULT_ANSWER_KDF,
  DEFAULT_ANSWER_LOCKOUT,
  hashSecurityAnswers,
  type ScryptParameters,
  type SecurityAnswerInput,
  securityAnswersMatch,
} from "./security-answers.js";

/** What {@link PinOperations} needs; the facade passes its own parts. */
export interface PinOperationsDependencies {
  store: Store;
  vault: SecretVault;
  policies: PolicyEngine;
  auditLog: AuditLog;
  logger: Logger;
  random: Random;
  clock: Clock;
  notifier?: Notifier;
  leaseOwner: string;
  leaseTtlMs: number;
  /** scrypt cost for security answers (default {@link DEFAULT_ANSWER_KDF}). */
  answerKdf?: ScryptParameters;
  /** Failed answer checks before lockout, and its length (default {@link DEFAULT_ANSWER_LOCKOUT}). */
  answerLockout?: AnswerLockout;
}

/** Options every PIN operation on a card in a reader takes. */
export interface PinOperationOptions {
  cardId: string;
  /** The card itself, in a reader. */
  device: Device;
  /** Who asks, as the embedding application authenticated them; checked against the policy's permissions. */
  actor: LifecycleActor;
  /** Why, in the actor's words; recorded in the audit log. */
  comment?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of {@link PinOperations.changePin}. */
export interface ChangePinOptions extends PinOperationOptions {
  /** Secret: never stored. */
  currentPin: string;
  /** Checked against the policy's PIN policy. Secret: never stored. */
  newPin: string;
}

/** Options of {@link PinOperations.resetPin}. */
export interface ResetPinOptions extends PinOperationOptions {
  /** The new PIN when the policy does not generate one (`pin.random` false); refused when it does. */
  newPin?: string;
}

/** Options of {@link PinOperations.unblockPin}. */
export interface UnblockPinOptions extends PinOperationOptions {
  /** The PUK the holder knows. Secret: never stored. */
  puk: string;
  /** Checked against the policy's PIN policy. Secret: never stored. */
  newPin: string;
}

/** A PIN operation that completed. */
export interface PinResult {
  status: "completed";
  operationId: string;
  card: CardRecord;
  /** The random PIN a reset generated, shown once: only here and in the Notifier's `pin` notification. */
  pin?: string;
  /** A disclosed PUK was replaced by a fresh random one in this run. */
  pukRotated: boolean;
}

/** Options of {@link PinOperations.enrollSecurityAnswers}. */
export interface EnrollSecurityAnswersOptions {
  userId: string;
  /** The user themselves, or an operator enrolling them in person. */
  actor: LifecycleActor;
  /** Questions and answers; answers are kept only as salted scrypt hashes. */
  answers: readonly SecurityAnswerInput[];
}

/** Options of {@link PinOperations.offlineUnblockResponse}. */
export interface OfflineUnblockResponseOptions {
  cardId: string;
  /** The helpdesk operator. */
  actor: LifecycleActor;
  /** The challenge code the holder read out. */
  challenge: string;
  /** The holder's answers to their security questions, as told. Secret: never stored. */
  answers: readonly SecurityAnswerInput[];
  comment?: string;
}

/** What the helpdesk reads back to the holder. */
export interface OfflineUnblockResponse {
  /** The response code: with the challenge it opens the card's PUK. Show it to the holder, never store it. */
  responseCode: string;
  /** A non-secret fingerprint of the challenge, as audited. */
  challengeFingerprint: string;
}

/** Options of {@link PinOperations.revealAdminCredential}. */
export interface RevealAdminCredentialOptions {
  cardId: string;
  actor: LifecycleActor;
  comment?: string;
}

/** Card states in which a card's PIN may be managed: issued and not revoked. */
export const PIN_CARD_STATES: readonly CardState[] = ["active", "suspended"];

const PERMISSION: Record<PinOperationKind, LifecycleOperation> = {
  "change-pin": "change-pin",
  "reset-pin": "reset-pin",
  "unblock-pin": "unblock-pin",
  // Replacing the unblocking credential is administration of the card, as a reset is.
  "rotate-puk": "reset-pin",
};

interface Prepared {
  input: Omit<PinInput, "operationId">;
  secrets: PinSecrets;
}

/** Runs the PIN operations; see the module comment. */
export class PinOperations {
  readonly #d: PinOperationsDependencies;

  constructor(deps: PinOperationsDependencies) {
    this.#d = deps;
  }

  /**
   * Change the PIN knowing the current one (CHANGE REFERENCE DATA, SP 800-73-4 Part 2 §3.2.2). The
   * new PIN is checked against the policy first. A wrong current PIN fails with the card's tries
   * left and changes nothing else.
   * @throws CardwrightError `AUTHZ_DENIED` (`details.permission`), `CARD_STATE`, `DEVICE_MISMATCH`,
   * `DEVICE_CAPABILITY` (`pinChange`), `POLICY_RULE` (new PIN), `WORKFLOW_STATE` (another operation
   * holds the card); `PIV_WRONG_PIN` with `details.retriesLeft`, `PIV_PIN_BLOCKED`;
   * CardLeasedError `CARD_LEASED`.
   */
  changePin(options: ChangePinOptions): Promise<PinResult> {
    return this.#start("change-pin", options, (card, policy) => {
      this.#checkNewPin(options.newPin, policy);
      return {
        input: this.#baseInput("change-pin", card, options),
        secrets: { currentPin: options.currentPin, newPin: options.newPin },
      };
    });
  }

  /**
   * Reset the PIN as helpdesk or administrator, without the current PIN: by the PUK kept wrapped in
   * the vault (policy `randomPuk`) or, where the admin credential unblocks (PKCS#11 SO PIN, device
   * `pukChange` false), by the admin credential (RESET RETRY COUNTER, SP 800-73-4 Part 2 §3.2.3;
   * PKCS#11 C_InitPIN). The new PIN is random when the policy says (`pin.random`): returned once
   * and delivered through the Notifier's `pin` notification; otherwise `options.newPin`.
   * @throws CardwrightError `DEVICE_CAPABILITY` (`pinUnblock`) before the card is touched;
   * `CARD_STATE` when the record holds no credential that unblocks; `POLICY_RULE` (`random`:
   * a PIN given where the policy generates one; `pin`: none given); otherwise as {@link changePin}.
   */
  resetPin(options: ResetPinOptions): Promise<PinResult> {
    return this.#start("reset-pin", options, (card, policy) => {
      const method = resetMethod(card, options.device);
      const random = policy?.pin.random === true;
      let newPin: string;
      if (random) {
        if (options.newPin !== undefined) {
          throw pinRule(policy, "random", "the policy generates the new PIN; do not pass one");
        }
        newPin = generatePin(policy!.pin, this.#d.random, policy!.id);
      } else {
        if (options.newPin === undefined)
          throw pinRule(policy, "pin", "give the new PIN (the policy does not generate one)");
        this.#checkNewPin(options.newPin, policy);
        newPin = options.newPin;
      }
      return {
        input: { ...this.#baseInput("reset-pin", card, options), method, randomPin: random },
        secrets: { newPin },
      };
    });
  }

  /**
   * Unblock a blocked (or forgotten) PIN with the PUK the holder knows, setting a new PIN.
   * @throws CardwrightError `DEVICE_CAPABILITY` (`pinUnblock`); `PIV_WRONG_PIN` (credential PUK,
   * `details.retriesLeft`); otherwise as {@link changePin}.
   */
  unblockPin(options: UnblockPinOptions): Promise<PinResult> {
    return this.#start("unblock-pin", options, (card, policy) => {
      this.#checkNewPin(options.newPin, policy);
      return {
        input: this.#baseInput("unblock-pin", card, options),
        secrets: { puk: options.puk, newPin: options.newPin },
      };
    });
  }

  /**
   * Replace the card's vault-kept PUK with a fresh random one (needed after an offline unblock
   * disclosed it; PIN operations do it by themselves when the card is in a reader). Needs the
   * `reset-pin` permission.
   * @throws CardwrightError `DEVICE_CAPABILITY` (`pukChange`), `CARD_STATE` (no PUK in the vault);
   * otherwise as {@link changePin}.
   */
  rotatePuk(options: PinOperationOptions): Promise<PinResult> {
    return this.#start("rotate-puk", options, (card) => {
      if (card.puk === undefined) {
        throw new CardwrightError(
          "CARD_STATE",
          `card ${card.id} has no PUK in the vault to rotate (its policy sets no random PUK)`,
          { details: { cardId: card.id, rule: "randomPuk" } },
        );
      }
      return { input: this.#baseInput("rotate-puk", card, options), secrets: {} };
    });
  }

  /**
   * Enrol (or replace) a user's security questions for offline unblock. Answers are normalised
   * and kept only as scrypt hashes with a random salt each; a current lockout stays.
   * @throws CardwrightError `AUTHZ_DENIED` (`details.permission`) when a user enrols someone else;
   * PolicyError `POLICY_RULE` (`security-answers`) for too few, repeated or too short answers.
   */
  async enrollSecurityAnswers(options: EnrollSecurityAnswersOptions): Promise<{ userId: string; questions: string[] }> {
    const { actor, userId } = options;
    if (actor.kind === "user" && actor.id !== userId) {
      const permission = "user:enroll-security-answers:any";
      await this.#d.auditLog.append({
        actor: actor.id,
        action: "operation.refused",
        userId,
        details: { operation: "enroll-security-answers", actorKind: actor.kind, code: "AUTHZ_DENIED", permission },
      });
      throw new CardwrightError(
        "AUTHZ_DENIED",
        `user ${actor.id} may enrol only their own security answers, not those of ${userId}`,
        { details: { permission, actorKind: actor.kind, operation: "enroll-security-answers", userId } },
      );
    }
    const kdf = this.#d.answerKdf ?? DEFAULT_ANSWER_KDF;
    const answers = await hashSecurityAnswers(options.answers, this.#d.random, kdf);
    await this.#d.store.transaction(async (tx) => {
      const existing = await tx.securityAnswers.get(userId);
      if (existing === null) await tx.securityAnswers.create({ id: userId, answers, kdf, failedAttempts: 0 });
      else await tx.securityAnswers.update({ ...existing, answers, kdf });
      await this.#d.auditLog.append(
        {
          actor: actor.id,
          action: "security-answers.enrolled",
          userId,
          details: { actorKind: actor.kind, questions: answers.length, replaced: existing !== null },
        },
        tx,
      );
    });
    return { userId, questions: answers.map((a) => a.question) };
  }

  /**
   * Helpdesk side of the offline unblock: check the holder's security answers (counted; locked
   * after too many failures), then turn the challenge the holder read out into the response code
   * that lets their agent recover the card's vault-kept PUK for this challenge only. From here on
   * the PUK counts as disclosed (`pukDisclosedAt`) until it is rotated. Audited: the answer check
   * (ok or failed) and the response issued — never the codes or the PUK.
   * @throws CardwrightError `AUTHZ_DENIED` (`offline-unblock` permission), `CARD_STATE` (no PUK in
   * the vault, or the card not issued), `OFFLINE_CODE_INVALID` (mistyped challenge, or one made on
   * another card), `STORE_NOT_FOUND` (the holder enrolled no answers), `AUTHZ_ANSWERS_REJECTED`
   * (`details.attemptsLeft`), `AUTHZ_LOCKED_OUT` (`details.lockedUntil`); CardLeasedError `CARD_LEASED`.
   */
  async offlineUnblockResponse(options: OfflineUnblockResponseOptions): Promise<OfflineUnblockResponse> {
    const { actor } = options;
    await requireCard(this.#d.store, options.cardId);
    const lease = await this.#lease(options.cardId);
    try {
      const card = await requireCard(this.#d.store, options.cardId);
      const challenge = await this.#refusing(card, actor, "offline-unblock", () => {
        assertPermitted(permissionGrants(this.#policyOf(card)), actor, "offline-unblock", card);
        assertFree(card);
        assertPinState(card, "offline-unblock");
        if (card.puk === undefined || card.userId === undefined) {
          throw new CardwrightError(
            "CARD_STATE",
            `card ${card.id} has no PUK kept in the vault (its policy sets no random PUK), so an offline unblock cannot recover one`,
            { details: { cardId: card.id, rule: "randomPuk" } },
          );
        }
        return readUnblockChallenge(options.challenge, card.deviceSerial);
      });
      await this.#checkAnswers(card, card.userId!, options.answers, actor, challenge.fingerprint);
      const puk = new TextDecoder().decode(await this.#d.vault.unwrap(card.puk!, secretContext(card.id, "puk")));
      const responseCode = makeUnblockResponse(options.challenge, card.deviceSerial, puk, this.#d.random);
      const now = this.#d.clock.now().toISOString();
      await this.#d.store.transaction(async (tx) => {
        const current = await requireCard(tx, card.id);
        await tx.cards.update({ ...current, pukDisclosedAt: current.pukDisclosedAt ?? now });
        await this.#d.auditLog.append(
          {
            actor: actor.id,
            action: "offline-unblock.response-issued",
            cardId: card.id,
            userId: card.userId!,
            details: {
              actorKind: actor.kind,
              operation: "offline-unblock",
              challenge: challenge.fingerprint,
              pukDisclosedAt: current.pukDisclosedAt ?? now,
              ...(options.comment === undefined ? {} : { comment: options.comment }),
            },
          },
          tx,
        );
      });
      return { responseCode, challengeFingerprint: challenge.fingerprint };
    } finally {
      await lease.release();
    }
  }

  /**
   * The card's administrator credential (PKCS#11 SO PIN, or PIV management key), unwrapped, for a
   * holder of the `view-admin-pin` permission — which no default grants. Audited.
   * @throws CardwrightError `AUTHZ_DENIED` (`details.permission` names `view-admin-pin`),
   * `CARD_STATE` (no admin credential on record), `VAULT_UNWRAP_FAILED`, `STORE_NOT_FOUND`.
   */
  async revealAdminCredential(options: RevealAdminCredentialOptions): Promise<AdminCredential> {
    const card = await requireCard(this.#d.store, options.cardId);
    await this.#refusing(card, options.actor, "view-admin-pin", () => {
      assertPermitted(permissionGrants(this.#policyOf(card)), options.actor, "view-admin-pin", card);
      if (card.adminCredential === undefined) {
        throw new CardwrightError("CARD_STATE", `card ${card.id} has no administrator credential on record`, {
          details: { cardId: card.id, state: card.state },
        });
      }
    });
    const bytes = await this.#d.vault.unwrap(card.adminCredential!, secretContext(card.id, "admin-credential"));
    const credential = credentialFromBytes(card.adminCredentialAlgorithm, bytes);
    await this.#d.auditLog.append({
      actor: options.actor.id,
      action: "card.admin-credential.revealed",
      cardId: card.id,
      ...(card.userId === undefined ? {} : { userId: card.userId }),
      details: {
        actorKind: options.actor.kind,
        operation: "view-admin-pin",
        algorithm: card.adminCredentialAlgorithm,
        ...(options.comment === undefined ? {} : { comment: options.comment }),
      },
    });
    return credential;
  }

  // ---------------------------------------------------------------- internals

  #baseInput(
    operation: PinOperationKind,
    card: CardRecord,
    options: PinOperationOptions,
  ): Omit<PinInput, "operationId"> {
    return {
      cardId: card.id,
      ...(card.userId === undefined ? {} : { userId: card.userId }),
      actor: options.actor.id,
      actorKind: options.actor.kind,
      operation,
      deviceSerial: card.deviceSerial,
      cardState: card.state,
      ...(options.comment === undefined ? {} : { comment: options.comment }),
    };
  }

  #checkNewPin(pin: string, policy: Policy | undefined): void {
    if (policy === undefined) return;
    validatePin(pin, policy.pin, policy.id);
  }

  /**
   * Lease the card, take over a PIN run whose process died, refuse (audited, changing nothing)
   * what may not happen, then persist and run the operation.
   */
  async #start(
    operation: PinOperationKind,
    options: PinOperationOptions,
    prepare: (card: CardRecord, policy: Policy | undefined) => Prepared,
  ): Promise<PinResult> {
    await requireCard(this.#d.store, options.cardId);
    const lease = await this.#lease(options.cardId);
    try {
      const card = await this.#takeOverAbandoned(await requireCard(this.#d.store, options.cardId), options.actor);
      const policy = this.#policyOf(card);
      const prepared = await this.#refusing(card, options.actor, operation, () => {
        assertPermitted(permissionGrants(policy), options.actor, PERMISSION[operation], card);
        assertFree(card);
        assertPinState(card, operation);
        assertDevice(card, options.device, operation);
        return prepare(card, policy);
      });
      const input: PinInput = { ...prepared.input, operationId: this.#d.random.uuid() };
      const record = await this.#create(card, input);
      return await this.#run(record, input, prepared.secrets, options.device, lease, options.onProgress);
    } finally {
      await lease.release();
    }
  }

  /** Run `checks`; a refusal is audited as `operation.refused` (code and secret-free details) and rethrown. */
  #refusing<T>(card: CardRecord, actor: LifecycleActor, operation: string, checks: () => T): Promise<T> {
    return refusing(this.#d.auditLog, { actor, operation, ...refusalOnCard(card) }, checks);
  }

  /**
   * A PIN run still `running` while we hold the lease stopped with its process; its secrets went
   * with it, so it cannot be resumed. Record it failed and release the card.
   */
  async #takeOverAbandoned(card: CardRecord, actor: LifecycleActor): Promise<CardRecord> {
    if (card.pendingOperationId === undefined) return card;
    const operation = await this.#d.store.operations.get(card.pendingOperationId);
    if (operation === null || operation.machineId !== PIN_MACHINE_ID || operation.status !== "running") return card;
    return this.#d.store.transaction(async (tx) => {
      const current = await requireCard(tx, card.id);
      const { pendingOperationId: _gone, ...rest } = current;
      const released = await tx.cards.update(rest);
      await tx.operations.update({ ...operation, status: "failed" });
      await this.#d.auditLog.append(
        {
          actor: actor.id,
          action: "operation.abandoned",
          cardId: card.id,
          ...(card.userId === undefined ? {} : { userId: card.userId }),
          operationId: operation.id,
          details: { operation: "pin", cause: "process stopped during a PIN operation", actorKind: actor.kind },
        },
        tx,
      );
      return released;
    });
  }

  /** Hold the card for the operation and persist it, audited, in one transaction. */
  async #create(card: CardRecord, input: PinInput): Promise<OperationRecord> {
    return startOperation(this.#d.store, this.#d.auditLog, {
      card,
      operationId: input.operationId,
      kind: "pin",
      machineId: PIN_MACHINE_ID,
      machineVersion: PIN_MACHINE_VERSION,
      input,
      actor: input.actor,
      details: {
        operation: input.operation,
        actorKind: input.actorKind,
        ...(input.method === undefined ? {} : { method: input.method }),
        ...(input.randomPin === undefined ? {} : { random: input.randomPin }),
        ...(input.comment === undefined ? {} : { comment: input.comment }),
      },
    });
  }

  async #run(
    operation: OperationRecord,
    input: PinInput,
    secrets: PinSecrets,
    device: Device,
    lease: CardLeaseKeeper,
    onProgress: ((event: ProgressEvent) => void) | undefined,
  ): Promise<PinResult> {
    // Shared by the runner and the steps that release the card, which save the final status with it.
    const handle = new OperationRecordHandle(operation);
    const steps = new PinSteps(
      {
        store: this.#d.store,
        vault: this.#d.vault,
        auditLog: this.#d.auditLog,
        logger: this.#d.logger,
        random: this.#d.random,
        ...(this.#d.notifier === undefined ? {} : { notifier: this.#d.notifier }),
      },
      device,
      secrets,
      { operation: handle },
    );
    try {
      const outcome = await runOperation({
        machine: pinMachine.provide({ actors: pinActors(steps) }),
        store: this.#d.store,
        operation,
        handle,
        input,
        restStates: [],
        statusOf: (state, done) => (done ? (state === "done" ? "completed" : "failed") : "running"),
        progressOf: pinProgress,
        fence: () => lease.fence(),
        ...(onProgress === undefined ? {} : { onProgress }),
      });
      const context = outcome.context as PinContext;
      if (outcome.state !== "done") {
        const error = context.error;
        const details = { ...(error?.details ?? {}), operationId: operation.id, operation: input.operation };
        const err =
          error === undefined
            ? new CardwrightError("WORKFLOW_FAILED", `${input.operation} operation ${operation.id} failed`, { details })
            : new CardwrightError(error.code, error.message, { details });
        if (error !== undefined) Object.defineProperty(err, "name", { value: error.name });
        throw err;
      }
      return {
        status: "completed",
        operationId: operation.id,
        card: await requireCard(this.#d.store, operation.cardId),
        ...(input.randomPin === true ? { pin: secrets.newPin! } : {}),
        pukRotated: context.pukRotated === true,
      };
    } finally {
      // Drop the run's secrets as soon as it ends.
      secrets.currentPin = undefined;
      secrets.puk = undefined;
      secrets.newPin = undefined;
    }
  }

  /**
   * Check the holder's answers: refused while locked; a failure counts (and may lock), a success
   * clears the count. Both audited, in the transaction that records the count.
   */
  async #checkAnswers(
    card: CardRecord,
    userId: string,
    answers: readonly SecurityAnswerInput[],
    actor: LifecycleActor,
    challenge: string,
  ): Promise<void> {
    const record = await this.#d.store.securityAnswers.get(userId);
    const audit = (result: string, details: Record<string, unknown>, tx?: Store) =>
      this.#d.auditLog.append(
        {
          actor: actor.id,
          action: "security-answers.checked",
          cardId: card.id,
          userId,
          details: { actorKind: actor.kind, operation: "offline-unblock", result, challenge, ...details },
        },
        tx,
      );
    if (record === null) {
      await audit("not-enrolled", {});
      throw new CardwrightError(
        "STORE_NOT_FOUND",
        `user ${userId} has enrolled no security answers; an offline unblock is not possible for them`,
        { details: { recordKind: "security answers", recordId: userId, userId } },
      );
    }
    const now = this.#d.clock.now();
    try {
      assertNotLockedOut(record, now);
    } catch (err) {
      await audit("locked", { lockedUntil: record.lockedUntil });
      throw err;
    }
    if (await securityAnswersMatch(record, answers)) {
      await this.#d.store.transaction(async (tx) => {
        await tx.securityAnswers.update(afterSuccessfulCheck(record));
        await audit("ok", {}, tx);
      });
      return;
    }
    const lockout = this.#d.answerLockout ?? DEFAULT_ANSWER_LOCKOUT;
    const next: SecurityAnswersRecord = afterFailedCheck(record, now, lockout);
    await this.#d.store.transaction(async (tx) => {
      await tx.securityAnswers.update(next);
      await audit(
        "failed",
        {
          failedAttempts: next.lockedUntil === undefined ? next.failedAttempts : lockout.maxFailedAttempts,
          ...(next.lockedUntil === undefined ? {} : { lockedUntil: next.lockedUntil }),
        },
        tx,
      );
    });
    const attemptsLeft = next.lockedUntil === undefined ? lockout.maxFailedAttempts - next.failedAttempts : 0;
    throw new CardwrightError(
      "AUTHZ_ANSWERS_REJECTED",
      next.lockedUntil === undefined
        ? `the security answers of user ${userId} do not match; ${attemptsLeft} ${attemptsLeft === 1 ? "attempt" : "attempts"} left before they are locked`
        : `the security answers of user ${userId} do not match; checks are now locked until ${next.lockedUntil}`,
      {
        details: {
          userId,
          attemptsLeft,
          ...(next.lockedUntil === undefined ? {} : { lockedUntil: next.lockedUntil }),
        },
      },
    );
  }

  #policyOf(card: CardRecord): Policy | undefined {
    return card.policyId === undefined ? undefined : this.#d.policies.get(card.policyId);
  }

  #lease(cardId: string): Promise<CardLeaseKeeper> {
    return CardLeaseKeeper.acquire(this.#d.store, cardId, this.#d.leaseOwner, this.#d.leaseTtlMs, this.#d.logger);
  }
}

/** Progress numbering for the PIN machine. */
export function pinProgress(state: string): Omit<ProgressEvent, "operationId" | "step"> {
  const i = (PIN_STEPS as readonly string[]).indexOf(state);
  return { index: i < 0 ? PIN_STEPS.length : i + 1, total: PIN_STEPS.length };
}

function pinRule(policy: Policy | undefined, rule: string, message: string): CardwrightError {
  return new CardwrightError("POLICY_RULE", message, { details: { policyId: policy?.id, rule } });
}

function assertFree(card: CardRecord): void {
  if (card.pendingOperationId !== undefined) {
    throw new CardwrightError(
      "WORKFLOW_STATE",
      `card ${card.id} is held by operation ${card.pendingOperationId}; resume or finish it first`,
      { details: { cardId: card.id, operationId: card.pendingOperationId } },
    );
  }
}

function assertPinState(card: CardRecord, operation: string): void {
  if (!PIN_CARD_STATES.includes(card.state)) {
    throw new CardwrightError(
      "CARD_STATE",
      `card ${card.id} is ${card.state}; ${operation} needs an issued card (${PIN_CARD_STATES.join(" or ")})`,
      { details: { cardId: card.id, state: card.state, allowed: PIN_CARD_STATES } },
    );
  }
}

/** The reader holds the record's card, and the device can do the operation — checked before any I/O. */
function assertDevice(card: CardRecord, device: Device, operation: PinOperationKind): void {
  if (device.identity.serial !== card.deviceSerial) {
    throw new CardwrightError(
      "DEVICE_MISMATCH",
      `the reader holds serial ${device.identity.serial}, not card ${card.id} (serial ${card.deviceSerial})`,
      { details: { cardId: card.id, deviceSerial: device.identity.serial, expectedSerial: card.deviceSerial } },
    );
  }
  const capability: keyof Device["capabilities"] =
    operation === "change-pin" ? "pinChange" : operation === "rotate-puk" ? "pukChange" : "pinUnblock";
  const able =
    capability === "pukChange"
      ? device.capabilities.pinUnblock && device.capabilities.pukChange !== false
      : device.capabilities[capability] === true;
  if (!able) {
    throw new CardwrightError(
      "DEVICE_CAPABILITY",
      `device ${device.identity.serial} (${device.identity.model}) cannot ${operation.replace("-", " ")}: it lacks ${capability}`,
      { details: { cardId: card.id, deviceSerial: device.identity.serial, capability, operation } },
    );
  }
}

/** How a reset can unblock this card's PIN, from what its record holds and what the device is. */
function resetMethod(card: CardRecord, device: Device): PinResetMethod {
  if (device.capabilities.pukChange === false) {
    if (card.adminCredential !== undefined && card.adminCredentialAlgorithm === "so-pin") return "admin-credential";
  } else if (card.puk !== undefined) {
    return "vault-puk";
  }
  throw new CardwrightError(
    "CARD_STATE",
    `card ${card.id} has neither a PUK in the vault nor an admin credential that unblocks; reset its PIN by unblocking with the holder's PUK`,
    { details: { cardId: card.id, rule: "randomPuk" } },
  );
}
