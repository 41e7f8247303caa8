/**
 * Step implementations of the PIN machine for one run. The run's secrets (current and new PIN,
 * the holder's PUK) are held here in memory, handed to the device at the moment of use, and
 * never put in the machine's context, an audit event or a log line.
 */

import { fromPromise } from "xstate";
import type { CardRecord } from "../domain/card.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import { generatePuk } from "../policy/pin-policy.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { Device } from "../ports/device.js";
import type { Notifier } from "../ports/notifier.js";
import type { Logger, Random } from "../ports/runtime.js";
import type { SecretVault, WrappedSecret } from "../ports/secret-vault.js";
import type { Store } from "../ports/store.js";
import { notifySafely } from "../runtime/notify-safely.js";
import { secretContext } from "../workflows/device-session.js";
import { type OperationRecordHandle, releasingCard } from "../workflows/operation-record-handle.js";
import { assertCardHeldBy, assertDeviceIsCard, requireCard } from "../workflows/step-preconditions.js";
import type { PinStepInput, pinMachine } from "./pin-machine.js";

/** What the PIN steps need, all injected. */
export interface PinStepDependencies {
  store: Store;
  vault: SecretVault;
  auditLog: AuditLog;
  logger: Logger;
  random: Random;
  notifier?: Notifier;
}

/** The secrets of one run. Never persisted. */
export interface PinSecrets {
  currentPin?: string;
  newPin?: string;
  /** The PUK the holder typed (unblock-pin). */
  puk?: string;
}

const COMPLETED_ACTION = {
  "change-pin": "card.pin.changed",
  "reset-pin": "card.pin.reset",
  "unblock-pin": "card.pin.unblocked",
  "rotate-puk": "card.puk.rotated",
} as const;

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const encode = (text: string) => new TextEncoder().encode(text);

/** The PIN machine's steps for one run. */
export class PinSteps {
  readonly #d: PinStepDependencies;
  readonly #device: Device;
  readonly #secrets: PinSecrets;
  readonly #operation: OperationRecordHandle | undefined;

  /**
   * @param run.operation the run's operation record, when the runner shares it: the steps that
   * release the card (complete, release) then save the operation's final status in the same
   * transaction (see {@link OperationRecordHandle}).
   */
  constructor(
    deps: PinStepDependencies,
    device: Device,
    secrets: PinSecrets,
    run: { operation?: OperationRecordHandle } = {},
  ) {
    this.#d = deps;
    this.#device = device;
    this.#secrets = secrets;
    this.#operation = run.operation;
  }

  /**
   * A transaction that releases the card at the end of the run: with the operation's final
   * `status` — the one the runner gives the final state the step leads to — when the run shares its record.
   */
  #releasingCard<T>(status: "completed" | "failed", change: (tx: Store) => Promise<T>): Promise<T> {
    return releasingCard(this.#operation, status, (fn) => this.#d.store.transaction(fn), change);
  }

  #audit(input: PinStepInput, action: string, details: Record<string, unknown>, tx?: Store) {
    return this.#d.auditLog.append(
      {
        actor: input.actor,
        action,
        cardId: input.cardId,
        ...(input.userId === undefined ? {} : { userId: input.userId }),
        operationId: input.operationId,
        details: {
          actorKind: input.actorKind,
          operation: input.operation,
          ...details,
          ...(input.comment === undefined ? {} : { comment: input.comment }),
        },
      },
      tx,
    );
  }

  async #unwrap(card: CardRecord, wrapped: WrappedSecret, purpose: "puk" | "admin-credential"): Promise<string> {
    return decode(await this.#d.vault.unwrap(wrapped, secretContext(card.id, purpose)));
  }

  #secret(name: keyof PinSecrets): string {
    const value = this.#secrets[name];
    if (value === undefined) {
      // Secrets live in the run's memory only; a run restored elsewhere has none.
      throw new CardwrightError("WORKFLOW_STATE", `this PIN operation run has no ${name}; start the operation again`, {
        details: { missing: name },
      });
    }
    return value;
  }

  /** The device is the card of the record, and the operation holds the card. */
  async connectCard(input: PinStepInput): Promise<void> {
    const card = await requireCard(this.#d.store, input.cardId);
    assertCardHeldBy(card, input.operationId);
    assertDeviceIsCard(card, this.#device.identity.serial);
  }

  /** The one card command the operation is about. */
  async applyPin(input: PinStepInput): Promise<void> {
    const device = this.#device;
    switch (input.operation) {
      case "change-pin":
        await device.changePin(this.#secret("currentPin"), this.#secret("newPin"));
        return;
      case "unblock-pin":
        await device.unblockPin(this.#secret("puk"), this.#secret("newPin"));
        return;
      case "reset-pin": {
        const card = await requireCard(this.#d.store, input.cardId);
        const wrapped = input.method === "vault-puk" ? card.puk : card.adminCredential;
        if (wrapped === undefined) {
          throw new CardwrightError("CARD_STATE", `card ${card.id} no longer has the credential to reset its PIN`, {
            details: { cardId: card.id, method: input.method },
          });
        }
        const credential = await this.#unwrap(card, wrapped, input.method === "vault-puk" ? "puk" : "admin-credential");
        await device.unblockPin(credential, this.#secret("newPin"));
        return;
      }
      case "rotate-puk":
        await this.#rotate(input);
        return;
    }
  }

  /** Replace a PUK that was disclosed (or whose rotation was interrupted), where the device can. */
  async rotatePuk(input: PinStepInput): Promise<{ rotated: boolean }> {
    if (input.operation === "rotate-puk") return { rotated: true };
    const card = await requireCard(this.#d.store, input.cardId);
    if (card.pukDisclosedAt === undefined && card.pukPrevious === undefined) return { rotated: false };
    if (this.#device.capabilities.pukChange === false || card.puk === undefined) return { rotated: false };
    await this.#rotate(input);
    return { rotated: true };
  }

  /**
   * Set a fresh random PUK on the card, crash-safe: the new PUK is saved (wrapped) with the old one
   * kept as `pukPrevious` before the card is changed, and the old one is dropped only after. A run
   * that finds `pukPrevious` finishes the earlier rotation instead of starting another.
   */
  async #rotate(input: PinStepInput): Promise<void> {
    if (this.#device.capabilities.pukChange === false || !this.#device.capabilities.pinUnblock) {
      throw new CardwrightError(
        "DEVICE_CAPABILITY",
        `device ${this.#device.identity.serial} has no PUK of its own to rotate (its admin credential unblocks)`,
        { details: { deviceSerial: this.#device.identity.serial, capability: "pukChange" } },
      );
    }
    let card = await requireCard(this.#d.store, input.cardId);
    if (card.puk === undefined) {
      throw new CardwrightError(
        "CARD_STATE",
        `card ${card.id} has no PUK in the vault to rotate (its policy sets no random PUK)`,
        { details: { cardId: card.id, rule: "randomPuk" } },
      );
    }
    if (card.pukPrevious === undefined) {
      const next = await this.#d.vault.wrap(encode(generatePuk(this.#d.random)), secretContext(card.id, "puk"));
      const previous = card.puk;
      card = await this.#d.store.transaction(async (tx) => {
        const current = await requireCard(tx, input.cardId);
        const saved = await tx.cards.update({ ...current, puk: next, pukPrevious: previous });
        await this.#audit(input, "card.puk.rotating", { kekId: next.kekId }, tx);
        return saved;
      });
    }
    const oldPuk = await this.#unwrap(card, card.pukPrevious!, "puk");
    const newPuk = await this.#unwrap(card, card.puk!, "puk");
    try {
      await this.#device.changePuk(oldPuk, newPuk);
    } catch (err) {
      if (!isCardwrightError(err, "PIV_WRONG_PIN")) throw err;
      // An earlier run may have set the new PUK and stopped before recording it: a no-op change
      // with the new PUK proves it (one PUK try spent, only after a crash).
      await this.#device.changePuk(newPuk, newPuk);
    }
    await this.#d.store.transaction(async (tx) => {
      const current = await requireCard(tx, input.cardId);
      const { pukPrevious: _p, pukDisclosedAt, ...rest } = current;
      await tx.cards.update(rest);
      await this.#audit(
        input,
        "card.puk.replaced",
        { kekId: current.puk?.kekId, ...(pukDisclosedAt === undefined ? {} : { disclosedAt: pukDisclosedAt }) },
        tx,
      );
    });
  }

  /** Record what was done and release the card; deliver a random PIN. */
  async complete(input: PinStepInput): Promise<void> {
    // Leads to `done`: the operation is `completed`.
    await this.#releasingCard("completed", async (tx) => {
      const card = await requireCard(tx, input.cardId);
      assertCardHeldBy(card, input.operationId);
      const { pendingOperationId: _done, ...rest } = card;
      await tx.cards.update(rest);
      await this.#audit(
        input,
        COMPLETED_ACTION[input.operation],
        {
          ...(input.method === undefined ? {} : { method: input.method }),
          ...(input.randomPin === undefined ? {} : { random: input.randomPin }),
          ...(input.operation === "rotate-puk" ? {} : { pukRotated: input.pukRotated === true }),
          ...(input.rotationError === undefined ? {} : { rotationError: input.rotationError.code }),
        },
        tx,
      );
    });
    if (input.rotationError !== undefined) {
      this.#d.logger.log("warn", "disclosed PUK not rotated; the next PIN operation retries", {
        cardId: input.cardId,
        code: input.rotationError.code,
      });
    }
    if (input.randomPin === true && input.userId !== undefined && this.#d.notifier !== undefined) {
      // The PIN is set and returned to the caller; a lost notification must not undo it.
      await notifySafely(this.#d, {
        kind: "pin",
        cardId: input.cardId,
        userId: input.userId,
        pin: this.#secret("newPin"),
      });
    }
  }

  /** Give the card back as it was, recording why. */
  async release(input: PinStepInput): Promise<void> {
    // Leads to `failed` whether it succeeds or not: the operation is `failed`.
    await this.#releasingCard("failed", async (tx) => {
      const card = await requireCard(tx, input.cardId);
      if (card.pendingOperationId !== input.operationId) return;
      const { pendingOperationId: _released, ...rest } = card;
      await tx.cards.update(rest);
      await this.#audit(
        input,
        "operation.failed",
        {
          cause: input.error?.code ?? "unknown",
          ...(typeof input.error?.details.retriesLeft === "number"
            ? { retriesLeft: input.error.details.retriesLeft }
            : {}),
        },
        tx,
      );
    });
  }
}

/** The PIN machine's actors, implemented by `steps`. */
export function pinActors(steps: PinSteps) {
  return {
    connectCard: fromPromise<void, PinStepInput>(({ input }) => steps.connectCard(input)),
    applyPin: fromPromise<void, PinStepInput>(({ input }) => steps.applyPin(input)),
    rotatePuk: fromPromise<{ rotated: boolean }, PinStepInput>(({ input }) => steps.rotatePuk(input)),
    complete: fromPromise<void, PinStepInput>(({ input }) => steps.complete(input)),
    release: fromPromise<void, PinStepInput>(({ input }) => steps.release(input)),
  } satisfies Parameters<typeof pinMachine.provide>[0]["actors"];
}
