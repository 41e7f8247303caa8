/**
 * Suspend, resume, revoke and retire, run the way issue is: the card is leased for the run, the
 * actor's permission and the card's state transition are checked against the card's policy before
 * anything happens (a refusal is audited and changes nothing), the operation is persisted at every
 * step and an interrupted one can be resumed — in another process — with
 * {@link LifecycleOperations.resume}. The {@link Cardwright} facade delegates here.
 */

import type { AnyStateMachine } from "xstate";
import type { CardRecord, CardState, CertificateRecord, OperationKind, OperationRecord } from "../domain/card.js";
import type { LifecycleOperation, Policy } from "../domain/policy.js";
import { CardwrightError, type SerializedError } from "../errors.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { CertificateAuthority, RevocationReason } from "../ports/certificate-authority.js";
import type { Device } from "../ports/device.js";
import type { Logger } from "../ports/runtime.js";
import type { SecretVault } from "../ports/secret-vault.js";
import type { Store } from "../ports/store.js";
import { CardLeaseKeeper } from "../workflows/card-lease-keeper.js";
import {
  CERTIFICATE_STATUS_MACHINE_ID,
  CERTIFICATE_STATUS_MACHINE_VERSION,
  CERTIFICATE_STATUS_REST_STATES,
  CERTIFICATE_STATUS_STEPS,
  type CertificateStatusContext,
  type CertificateStatusInput,
  certificateStatusMachine,
} from "../workflows/certificate-status-machine.js";
import { DeviceSession } from "../workflows/device-session.js";
import { certificateStatusActors, LifecycleSteps, retireActors } from "../workflows/lifecycle-steps.js";
import { OperationRecordHandle } from "../workflows/operation-record-handle.js";
import { type ProgressEvent, runOperation } from "../workflows/operation-runner.js";
import { startOperation } from "../workflows/operation-start.js";
import { type ResumableMachines, requireResumableOperation } from "../workflows/resumable-operation.js";
import {
  RETIRE_MACHINE_ID,
  RETIRE_MACHINE_VERSION,
  RETIRE_REST_STATES,
  RETIRE_STEPS,
  type RetireContext,
  type RetireInput,
  retireMachine,
} from "../workflows/retire-machine.js";
import { assertResumingOnCard, requireCard } from "../workflows/step-preconditions.js";
import { assertTransition, transitionTable } from "./card-state-transitions.js";
import { assertPermitted, type LifecycleActor, permissionGrants } from "./lifecycle-permissions.js";
import { refusalOnCard, refusing } from "./operation-refusal.js";

/** What {@link LifecycleOperations} needs; the facade passes its own parts. */
export interface LifecycleOperationsDependencies {
  store: Store;
  vault: SecretVault;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  policies: PolicyEngine;
  auditLog: AuditLog;
  logger: Logger;
  /** Makes operation ids. */
  uuid: () => string;
  leaseOwner: string;
  leaseTtlMs: number;
}

/** Options of suspend and resume. */
export interface CardStatusOptions {
  cardId: string;
  /** Who asks, as the embedding application authenticated them; checked against the policy's permissions. */
  actor: LifecycleActor;
  /** Why, in the operator's words; recorded in the audit log. */
  comment?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of revoke. */
export interface RevokeCardOptions extends CardStatusOptions {
  /** RFC 5280 §5.3.1 reason (not `certificateHold`/`removeFromCRL`: use suspend and resume). */
  reason: RevocationReason;
}

/** Options of retire. */
export interface RetireCardOptions {
  cardId: string;
  /** The card itself, in a reader: retire wipes it. */
  device: Device;
  actor: LifecycleActor;
  comment?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of {@link LifecycleOperations.resume}. */
export interface ResumeLifecycleOptions {
  actor: LifecycleActor;
  /** Required to resume a retire: the card in a reader. */
  device?: Device;
  onProgress?: (event: ProgressEvent) => void;
}

/** A lifecycle operation that completed. */
export interface LifecycleResult {
  status: "completed";
  operationId: string;
  card: CardRecord;
  /** The card's certificates as now recorded. */
  certificates: CertificateRecord[];
}

const TARGET_STATE: Record<"suspend" | "resume" | "revoke" | "retire", CardState> = {
  suspend: "suspended",
  resume: "active",
  revoke: "revoked",
  retire: "retired",
};

const MACHINES: Record<string, { version: string; restStates: readonly string[] }> = {
  [CERTIFICATE_STATUS_MACHINE_ID]: {
    version: CERTIFICATE_STATUS_MACHINE_VERSION,
    restStates: CERTIFICATE_STATUS_REST_STATES,
  },
  [RETIRE_MACHINE_ID]: { version: RETIRE_MACHINE_VERSION, restStates: RETIRE_REST_STATES },
};

const RESUMABLE: ResumableMachines = {
  versions: Object.fromEntries(Object.entries(MACHINES).map(([id, machine]) => [id, machine.version])),
  otherMachine: ", not a suspend, resume, revoke or retire",
};

type Start = { input: unknown } | { snapshot: unknown; event?: { type: string } };

/** Runs the lifecycle operations; see the module comment. */
export class LifecycleOperations {
  readonly #d: LifecycleOperationsDependencies;

  constructor(deps: LifecycleOperationsDependencies) {
    this.#d = deps;
  }

  /**
   * Put every written certificate of an active card on hold at its CA; the card becomes `suspended`.
   * @throws CardwrightError `AUTHZ_DENIED` (details.permission), `CARD_TRANSITION`, `WORKFLOW_STATE`
   * (another operation holds the card), `STORE_NOT_FOUND`; CardLeasedError `CARD_LEASED`; CA errors
   * (with `details.resumable` when some certificates were already changed — see {@link continueOperation}).
   */
  suspend(options: CardStatusOptions): Promise<LifecycleResult> {
    return this.#statusChange("suspend", options);
  }

  /**
   * Release the hold on a suspended card's certificates; the card becomes `active` again.
   * @throws as {@link suspend}.
   */
  resumeCard(options: CardStatusOptions): Promise<LifecycleResult> {
    return this.#statusChange("resume", options);
  }

  /**
   * Revoke every certificate of the card at its CA with an RFC 5280 reason; the card becomes
   * `revoked`. When the CA fails after some certificates were revoked, the error carries
   * `details.operationId` and `details.resumable`; {@link continueOperation} revokes the rest (never one twice).
   * @throws CardwrightError `CA_INVALID_REQUEST` for `certificateHold`/`removeFromCRL` or an unknown
   * reason; otherwise as {@link suspend}.
   */
  async revoke(options: RevokeCardOptions): Promise<LifecycleResult> {
    if (!REVOCATION_REASONS.includes(options.reason)) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        `"${String(options.reason)}" is not a revocation reason for revokeCard; a hold is suspendCard, lifting it resumeCard`,
        { details: { reason: String(options.reason), cardId: options.cardId } },
      );
    }
    return this.#statusChange("revoke", options, options.reason);
  }

  /**
   * Wipe the card (factory reset, else delete the certificates the record lists) and record it
   * `retired`; the record is kept. The card must be in a reader (`options.device`).
   * @throws CardwrightError `DEVICE_MISMATCH` (another card in the reader); `PIV_*` device errors;
   * otherwise as {@link suspend}.
   */
  async retire(options: RetireCardOptions): Promise<LifecycleResult> {
    return this.#begin("retire", options.cardId, options.actor, async (card, lease, policy) => {
      if (options.device.identity.serial !== card.deviceSerial) {
        throw new CardwrightError(
          "DEVICE_MISMATCH",
          `the reader holds serial ${options.device.identity.serial}, not card ${card.id} (serial ${card.deviceSerial})`,
          {
            details: {
              cardId: card.id,
              deviceSerial: options.device.identity.serial,
              expectedSerial: card.deviceSerial,
            },
          },
        );
      }
      const input: RetireInput = {
        operationId: this.#d.uuid(),
        cardId: card.id,
        ...(card.userId === undefined ? {} : { userId: card.userId }),
        actor: options.actor.id,
        actorKind: options.actor.kind,
        deviceSerial: card.deviceSerial,
        ...(options.comment === undefined ? {} : { comment: options.comment }),
        fromState: card.state,
        toState: "retired",
      };
      const operation = await this.#create(card, "retire", RETIRE_MACHINE_ID, RETIRE_MACHINE_VERSION, input, {
        ...(options.comment === undefined ? {} : { comment: options.comment }),
      });
      return this.#run(operation, { input }, lease, policy, options.device, options.onProgress);
    });
  }

  /**
   * Continue an interrupted suspend, resume, revoke or retire (possibly in a new process): restores
   * the persisted snapshot and finishes the certificates or steps not yet done. The resuming actor
   * needs the operation's permission; their id is audited as `operation.resumed`.
   * @throws CardwrightError `STORE_NOT_FOUND`, `WORKFLOW_STATE` (not a lifecycle operation, or
   * finished), `WORKFLOW_VERSION`, `DEVICE_NOT_FOUND` (a retire without `device`), `DEVICE_MISMATCH`,
   * `AUTHZ_DENIED`; CardLeasedError `CARD_LEASED`; workflow errors as for the operation itself.
   */
  async continueOperation(operationId: string, options: ResumeLifecycleOptions): Promise<LifecycleResult> {
    const first = await this.#resumable(operationId);
    const lease = await this.#lease(first.cardId);
    try {
      const operation = await this.#resumable(operationId);
      const card = await this.#requireCard(operation.cardId);
      const policy = this.#policyOf(card);
      const kind = operation.kind as LifecycleOperation;
      assertPermitted(permissionGrants(policy), options.actor, kind, card);
      if (operation.machineId === RETIRE_MACHINE_ID) {
        if (options.device === undefined) {
          throw new CardwrightError(
            "DEVICE_NOT_FOUND",
            `resuming retire ${operationId} needs card ${card.id} in a reader`,
            {
              details: { operationId, cardId: card.id, deviceSerial: card.deviceSerial },
            },
          );
        }
        assertResumingOnCard(operationId, card, options.device.identity.serial);
      }
      await this.#d.auditLog.append({
        actor: options.actor.id,
        action: "operation.resumed",
        cardId: card.id,
        ...(operation.userId === undefined ? {} : { userId: operation.userId }),
        operationId,
        details: { actorKind: options.actor.kind, operation: kind },
      });
      const value = (operation.snapshot as { value?: unknown } | null)?.value;
      const resting = MACHINES[operation.machineId]?.restStates.includes(value as string) === true;
      const start: Start =
        operation.snapshot === null
          ? { input: operation.input }
          : { snapshot: operation.snapshot, ...(resting ? { event: { type: "RESUME" } } : {}) };
      return await this.#run(operation, start, lease, policy, options.device, options.onProgress);
    } finally {
      await lease.release();
    }
  }

  // ---------------------------------------------------------------- internals

  #statusChange(
    change: "suspend" | "resume" | "revoke",
    options: CardStatusOptions,
    reason?: RevocationReason,
  ): Promise<LifecycleResult> {
    return this.#begin(change, options.cardId, options.actor, async (card, lease, policy) => {
      const input: CertificateStatusInput = {
        operationId: this.#d.uuid(),
        cardId: card.id,
        ...(card.userId === undefined ? {} : { userId: card.userId }),
        actor: options.actor.id,
        actorKind: options.actor.kind,
        change,
        ...(reason === undefined ? {} : { reason }),
        ...(options.comment === undefined ? {} : { comment: options.comment }),
        fromState: card.state,
        toState: TARGET_STATE[change],
      };
      const operation = await this.#create(
        card,
        change,
        CERTIFICATE_STATUS_MACHINE_ID,
        CERTIFICATE_STATUS_MACHINE_VERSION,
        input,
        {
          ...(reason === undefined ? {} : { reason }),
          ...(options.comment === undefined ? {} : { comment: options.comment }),
        },
      );
      return this.#run(operation, { input }, lease, policy, undefined, options.onProgress);
    });
  }

  /**
   * Lease the card, then refuse — audited, changing nothing — what the actor may not do or the
   * transition table does not allow, before `run` starts the operation.
   */
  async #begin(
    operation: keyof typeof TARGET_STATE,
    cardId: string,
    actor: LifecycleActor,
    run: (card: CardRecord, lease: CardLeaseKeeper, policy: Policy | undefined) => Promise<LifecycleResult>,
  ): Promise<LifecycleResult> {
    await this.#requireCard(cardId);
    const lease = await this.#lease(cardId);
    try {
      // Read again under the lease: the previous holder may have changed the card meanwhile.
      const card = await this.#requireCard(cardId);
      if (card.pendingOperationId !== undefined) {
        throw new CardwrightError(
          "WORKFLOW_STATE",
          `card ${card.id} is held by operation ${card.pendingOperationId}; resume or finish it first`,
          { details: { cardId: card.id, operationId: card.pendingOperationId } },
        );
      }
      const policy = this.#policyOf(card);
      await refusing(this.#d.auditLog, { actor, operation, ...refusalOnCard(card), precedence: "error" }, () => {
        assertPermitted(permissionGrants(policy), actor, operation, card);
        assertTransition(transitionTable(policy), card.state, TARGET_STATE[operation], operation, card.id);
      });
      return await run(card, lease, policy);
    } finally {
      await lease.release();
    }
  }

  /** Hold the card for the new operation and persist it, audited, in one transaction. */
  async #create(
    card: CardRecord,
    kind: OperationKind,
    machineId: string,
    machineVersion: string,
    input: CertificateStatusInput | RetireInput,
    facts: Record<string, unknown>,
  ): Promise<OperationRecord> {
    return startOperation(this.#d.store, this.#d.auditLog, {
      card,
      operationId: input.operationId,
      kind,
      machineId,
      machineVersion,
      input,
      actor: input.actor,
      details: { operation: kind, actorKind: input.actorKind, from: input.fromState, to: input.toState, ...facts },
    });
  }

  async #run(
    operation: OperationRecord,
    start: Start,
    lease: CardLeaseKeeper,
    policy: Policy | undefined,
    device: Device | undefined,
    onProgress: ((event: ProgressEvent) => void) | undefined,
  ): Promise<LifecycleResult> {
    const retire = operation.machineId === RETIRE_MACHINE_ID;
    // Shared by the runner and the steps that release the card, which save the final status with it.
    const handle = new OperationRecordHandle(operation);
    const steps = new LifecycleSteps(
      {
        store: this.#d.store,
        certificateAuthorities: this.#d.certificateAuthorities,
        auditLog: this.#d.auditLog,
        logger: this.#d.logger,
        transitions: transitionTable(policy),
      },
      device === undefined ? undefined : new DeviceSession(device, this.#d.vault),
      { operation: handle },
    );
    const machine: AnyStateMachine = retire
      ? retireMachine.provide({ actors: retireActors(steps) })
      : certificateStatusMachine.provide({ actors: certificateStatusActors(steps) });
    const restStates = retire ? RETIRE_REST_STATES : CERTIFICATE_STATUS_REST_STATES;
    const outcome = await runOperation({
      machine,
      store: this.#d.store,
      operation,
      handle,
      ...start,
      restStates,
      statusOf: (state, done) =>
        done
          ? state === "done"
            ? "completed"
            : "failed"
          : (restStates as readonly string[]).includes(state)
            ? "pending"
            : "running",
      progressOf: retire ? retireProgress : certificateStatusProgress,
      fence: () => lease.fence(),
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    const context = outcome.context as CertificateStatusContext | RetireContext;
    if (outcome.state === "done") {
      return {
        status: "completed",
        operationId: operation.id,
        card: await this.#requireCard(operation.cardId),
        certificates: await this.#d.store.certificates.list({ cardId: operation.cardId }),
      };
    }
    const resumable = outcome.state !== "failed";
    const progress =
      "targets" in context
        ? {
            changed: context.targets.filter((t) => t.done).length,
            remaining: context.targets.filter((t) => !t.done).length,
          }
        : {};
    if (resumable) {
      await this.#d.auditLog.append({
        actor: context.actor,
        action: "operation.interrupted",
        cardId: operation.cardId,
        ...(operation.userId === undefined ? {} : { userId: operation.userId }),
        operationId: operation.id,
        details: { operation: operation.kind, cause: context.error?.code ?? "unknown", ...progress },
      });
    }
    throw lifecycleFailure(context.error, operation, { resumable, ...progress });
  }

  /** The card's policy, current version (permissions and transitions changed since issue apply at once). */
  #policyOf(card: CardRecord): Policy | undefined {
    return card.policyId === undefined ? undefined : this.#d.policies.get(card.policyId);
  }

  #resumable(operationId: string): Promise<OperationRecord> {
    return requireResumableOperation(this.#d.store, operationId, RESUMABLE);
  }

  #lease(cardId: string): Promise<CardLeaseKeeper> {
    return CardLeaseKeeper.acquire(this.#d.store, cardId, this.#d.leaseOwner, this.#d.leaseTtlMs, this.#d.logger);
  }

  #requireCard(cardId: string): Promise<CardRecord> {
    return requireCard(this.#d.store, cardId);
  }
}

/** RFC 5280 §5.3.1 reasons revokeCard accepts: all but the hold codes, which suspend/resume are. */
export const REVOCATION_REASONS: readonly RevocationReason[] = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "privilegeWithdrawn",
  "aACompromise",
];

/** Progress numbering for the suspend/resume/revoke machine. */
export function certificateStatusProgress(
  state: string,
  context: unknown,
): Omit<ProgressEvent, "operationId" | "step"> {
  const c = context as CertificateStatusContext;
  if (state === "changeCertificate" || state === "recordCertificate") {
    return { index: c.targets.filter((t) => t.done).length + 1, total: c.targets.length };
  }
  const i = (CERTIFICATE_STATUS_STEPS as readonly string[]).indexOf(state);
  return { index: i < 0 ? CERTIFICATE_STATUS_STEPS.length : i + 1, total: CERTIFICATE_STATUS_STEPS.length };
}

/** Progress numbering for the retire machine. */
export function retireProgress(state: string): Omit<ProgressEvent, "operationId" | "step"> {
  const i = (RETIRE_STEPS as readonly string[]).indexOf(state);
  return { index: i < 0 ? RETIRE_STEPS.length : i + 1, total: RETIRE_STEPS.length };
}

function lifecycleFailure(
  error: SerializedError | undefined,
  operation: OperationRecord,
  facts: { resumable: boolean; changed?: number; remaining?: number },
): CardwrightError {
  const details = { ...(error?.details ?? {}), operationId: operation.id, operation: operation.kind, ...facts };
  const err =
    error === undefined
      ? new CardwrightError("WORKFLOW_FAILED", `${operation.kind} operation ${operation.id} failed`, { details })
      : new CardwrightError(
          error.code,
          `${error.message}${facts.resumable ? ` — ${operation.kind} operation ${operation.id} is interrupted; resume it to finish` : ""}`,
          { details },
        );
  if (error !== undefined) Object.defineProperty(err, "name", { value: error.name });
  return err;
}
