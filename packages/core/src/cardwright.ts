/**
 * The `Cardwright` facade: what an embedding application calls. It wires the ports into the
 * workflows, persists every operation, and can resume a pending one in a new process from the
 * store alone (plus the vault's KEK, the CAs and the policies).
 */

import { AgentTaskQueue, type CancelAgentTaskOptions, type QueueAgentTaskOptions } from "./agent/agent-task-queue.js";
import { type AgentTaskHandlers, AgentTaskRunner, type AgentTaskRunnerOptions } from "./agent/agent-task-runner.js";
import { type AgentWorkstationPrompts, operationTaskHandlers } from "./agent/operation-task-handlers.js";
import { HashChainAuditLog } from "./audit/hash-chain-audit-log.js";
import type { DocumentCheck } from "./documents/document-check.js";
import {
  DocumentOperations,
  type ListDocumentsOptions,
  type ReviewDocumentsOptions,
  type ReviewDocumentsResult,
  type UploadDocumentOptions,
} from "./documents/document-operations.js";
import type { AuditEvent } from "./domain/audit.js";
import type { CardRecord, CardState, CertificateRecord, OperationRecord } from "./domain/card.js";
import type { Policy } from "./domain/policy.js";
import type { AgentTaskRecord, ApprovalRecord, DocumentRecord } from "./domain/records.js";
import { CardwrightError, isCardwrightError, type SerializedError } from "./errors.js";
import { type IssuanceActorInput, issuanceActor } from "./issuance/issuance-actor.js";
import {
  type BindCardOptions,
  type DecideIssuanceOptions,
  IssuanceOperations,
  type RequestIssuanceOptions,
} from "./issuance/issuance-operations.js";
import { checkAttestationRoots } from "./keys/key-protection-policy.js";
import {
  type CardStatusOptions,
  LifecycleOperations,
  type LifecycleResult,
  type ResumeLifecycleOptions,
  type RetireCardOptions,
  type RevokeCardOptions,
} from "./lifecycle/lifecycle-operations.js";
import {
  ExpiryMonitor,
  type ExpiryReport,
  type ListExpiringOptions,
  type NotifyExpiringOptions,
  type NotifyExpiringResult,
} from "./monitoring/expiry-monitor.js";
import {
  type ChangePinOptions,
  type EnrollSecurityAnswersOptions,
  type OfflineUnblockResponse,
  type OfflineUnblockResponseOptions,
  type PinOperationOptions,
  PinOperations,
  type PinResult,
  type ResetPinOptions,
  type RevealAdminCredentialOptions,
  type UnblockPinOptions,
} from "./pin/pin-operations.js";
import { assertEnrollmentAgent, type EnrollmentAgent } from "./pki/enrollment-agent.js";
import { PolicyEngine } from "./policy/policy-engine.js";
import type { AuditLog, AuditVerification } from "./ports/audit-log.js";
import type { CertificateAuthority } from "./ports/certificate-authority.js";
import type { AdminCredential, Device, DeviceIdentity } from "./ports/device.js";
import type { Directory } from "./ports/directory.js";
import type { Notifier } from "./ports/notifier.js";
import type { Clock, Logger, Random } from "./ports/runtime.js";
import type { SecretVault } from "./ports/secret-vault.js";
import type { AgentTaskQuery, ApprovalQuery, CardLease, CardQuery, CertificateQuery, Store } from "./ports/store.js";
import {
  type ReplaceCardOptions,
  ReplaceOperations,
  type ReplaceResult,
  type ResumeReplaceOptions,
  type ReturnTemporaryCardOptions,
  type ReturnTemporaryCardResult,
} from "./replace/replace-operations.js";
import type { ReplacementIssueResult } from "./replace/replace-steps.js";
import { systemClock } from "./runtime/clock.js";
import { cryptoRandom } from "./runtime/crypto-random.js";
import { silentLogger } from "./runtime/logger.js";
import { MAX_LEASE_TTL_MS } from "./store/lease-checks.js";
import {
  type CancelUpdateOptions,
  type CardInspection,
  CardUpdates,
  type ContinueUpdateOptions,
  type InspectCardOptions,
  type RegisterCertificateOptions,
  type UpdateCardOptions,
  type UpdateResult,
} from "./update/card-updates.js";
import { CardLeaseKeeper } from "./workflows/card-lease-keeper.js";
import { DeviceSession } from "./workflows/device-session.js";
import {
  ISSUE_MACHINE_ID,
  ISSUE_MACHINE_VERSION,
  ISSUE_REST_STATES,
  ISSUE_STEPS,
  type IssueContext,
  type IssueInput,
  type IssueTemplateSelection,
  issueMachine,
} from "./workflows/issue-machine.js";
import { IssueSteps, issueActors } from "./workflows/issue-steps.js";
import { OperationRecordHandle } from "./workflows/operation-record-handle.js";
import { type ProgressEvent, type RunOutcome, runOperation } from "./workflows/operation-runner.js";
import { nothingToResume, requireResumableOperation } from "./workflows/resumable-operation.js";
import { type CaRetryOptions, checkCaRetryOptions } from "./workflows/retry-ca.js";
import { assertResumingOnCard, requireCard } from "./workflows/step-preconditions.js";

/** Configuration of a {@link Cardwright} instance. */
export interface CardwrightOptions {
  store: Store;
  vault: SecretVault;
  directory: Directory;
  certificateAuthorities: readonly CertificateAuthority[];
  policies: readonly Policy[];
  notifier?: Notifier;
  /** Defaults to a {@link HashChainAuditLog} over `store`. */
  auditLog?: AuditLog;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /**
   * Name this instance holds card leases under, shown to others in `CARD_LEASED` (e.g. host and
   * process id). A random `cardwright-…` name by default. Each run still gets its own lease, so
   * two runs in one instance exclude each other too.
   */
  leaseOwner?: string;
  /**
   * How long a card lease lasts without renewal, in ms (default 30 000). A running operation renews
   * it every third of this; a crashed process's card can be taken over this long after its last renewal.
   */
  leaseTtlMs?: number;
  /** How CA calls failing with `CA_UNAVAILABLE` are retried (default 4 attempts, 500 ms doubling backoff with jitter). */
  caRetry?: CaRetryOptions;
  /**
   * The enrollment agent (CA operator service account) that signs requests on behalf as CMC
   * (RFC 5272) for policies with `issuance.enrollOnBehalf`. Its key signs through `sign` and never
   * reaches the store, snapshots or the audit log.
   */
  enrollmentAgent?: EnrollmentAgent;
  /**
   * DER certificates of the roots key attestations must chain to, for templates with
   * `requireAttestation` (for YubiKeys: Yubico's PIV attestation root CA). Required when a policy
   * has such a template.
   */
  attestationRoots?: readonly Uint8Array[];
}

/** Options of {@link Cardwright.createAgentRunner}: what the facade does not fill itself. */
export type CreateAgentRunnerOptions = Omit<AgentTaskRunnerOptions, "store" | "auditLog" | "clock" | "logger">;

/** Lease key prefix that serialises the registration of one device serial (before the card has an id). */
export const SERIAL_LEASE_PREFIX = "serial:";

/** Default {@link CardwrightOptions.leaseTtlMs}. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/** A device to register, when no open {@link Device} is at hand. */
export type DeviceDescription = Pick<DeviceIdentity, "serial" | "type" | "model">;

/** A request still waiting at a CA. */
export interface PendingRequest {
  templateId: string;
  caId: string;
  /** Our request id. */
  requestId: string;
  caRequestId?: string;
}

/** Outcome of {@link Cardwright.issueCard} and {@link Cardwright.resumeOperation}. */
export type IssueResult =
  | {
      status: "active";
      card: CardRecord;
      certificates: CertificateRecord[];
      /** The random PIN, shown once: only here and in the Notifier's `pin` notification. */
      pin?: string;
    }
  | {
      status: "pending";
      card: CardRecord;
      operationId: string;
      pendingRequests: PendingRequest[];
      /**
       * Set when the issue waits for the documents its policy requires: which are approved,
       * awaiting review, missing, or rejected (with the reviewer's reason: upload those again).
       */
      documents?: DocumentCheck;
    };

/** Options of {@link Cardwright.issueCard}. */
export interface IssueCardOptions {
  userId: string;
  device: Device;
  /**
   * Who starts the issue (recorded in the audit log): an operator id, or an actor with its kind —
   * `{ kind: "user", id }` for self-service issue, checked against the policy's issuance mode and
   * permissions.
   */
  actor: IssuanceActorInput;
  /**
   * The approved issuance request ({@link Cardwright.requestIssuance}) a validated issue uses up;
   * required when the user's policy issues in `validated` mode.
   */
  approvalId?: string;
  /** Optional certificate templates of the policy to issue as well. */
  optionalTemplates?: readonly string[];
  /**
   * Issue exactly these templates (at most this validity) instead of the mandatory ones plus
   * `optionalTemplates`: how a replacement issues a temporary card, or leaves out the templates
   * whose archived keys it recovers.
   */
  selection?: IssueTemplateSelection;
  /** The user's chosen PIN, when the policy does not generate one. Never stored. */
  pin?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** Options of {@link Cardwright.resumeOperation}. */
export interface ResumeOptions {
  device: Device;
  actor: string;
  pin?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * What every operation class of this instance runs over, built once: each takes the parts its
 * dependencies interface names (the rest are ignored), so all of them share one store, vault,
 * audit log, lease identity, clock and notifier.
 */
interface OperationParts {
  store: Store;
  vault: SecretVault;
  directory: Directory;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  policies: PolicyEngine;
  auditLog: AuditLog;
  notifier?: Notifier;
  clock: Clock;
  random: Random;
  uuid: () => string;
  logger: Logger;
  leaseOwner: string;
  leaseTtlMs: number;
  caRetry?: CaRetryOptions;
}

const ISSUABLE: readonly CardState[] = ["registered", "bound"];
const TEMPLATE_STEPS = new Set(["generateKey", "buildCsr", "submitRequest"]);

/** The cardwright SDK facade. */
export class Cardwright {
  readonly #store: Store;
  readonly #vault: SecretVault;
  readonly #directory: Directory;
  readonly #cas: ReadonlyMap<string, CertificateAuthority>;
  readonly #policies: PolicyEngine;
  readonly #notifier: Notifier | undefined;
  readonly #audit: AuditLog;
  readonly #random: Random;
  /** Dates decisions, lockouts, claims and expiry checks (the audit log's clock too, unless one is given). */
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #leaseOwner: string;
  readonly #leaseTtlMs: number;
  readonly #caRetry: CaRetryOptions | undefined;
  /** The parts handed to every operation class (see {@link OperationParts}). */
  readonly #parts: OperationParts;
  /** Steps of the runs in progress, by operation id: the actors of {@link #issueMachine} find theirs here. */
  readonly #runs = new Map<string, IssueSteps>();
  /** The issue machine with its step actors, provided once for every run of this instance. */
  readonly #issueMachine = issueMachine.provide({ actors: issueActors((operationId) => this.#runSteps(operationId)) });

  /**
   * @throws PolicyError `POLICY_INVALID` for an invalid policy; CardwrightError `CONFIG_INVALID`
   * when two CAs share an id, a policy names a CA that is not configured, or the lease settings
   * are out of range.
   */
  constructor(options: CardwrightOptions) {
    this.#store = options.store;
    this.#vault = options.vault;
    this.#directory = options.directory;
    const cas = new Map<string, CertificateAuthority>();
    for (const ca of options.certificateAuthorities) {
      if (cas.has(ca.id))
        throw new CardwrightError("CONFIG_INVALID", `two certificate authorities have id ${ca.id}`, {
          details: { caId: ca.id },
        });
      cas.set(ca.id, ca);
    }
    this.#cas = cas;
    this.#policies = new PolicyEngine(options.policies);
    for (const p of options.policies) {
      for (const t of p.certificates) {
        if (!cas.has(t.caId)) {
          throw new CardwrightError(
            "CONFIG_INVALID",
            `policy ${p.id} template ${t.id} names CA ${t.caId}, which is not configured`,
            {
              details: { policyId: p.id, templateId: t.id, caId: t.caId },
            },
          );
        }
      }
    }
    this.#notifier = options.notifier;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? cryptoRandom;
    this.#logger = options.logger ?? silentLogger;
    this.#leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    if (options.caRetry !== undefined) checkCaRetryOptions(options.caRetry);
    this.#caRetry = options.caRetry;
    this.#leaseOwner = options.leaseOwner ?? `cardwright-${this.#random.uuid()}`;
    if (!Number.isInteger(this.#leaseTtlMs) || this.#leaseTtlMs < 10 || this.#leaseTtlMs > MAX_LEASE_TTL_MS) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `leaseTtlMs must be a whole number of milliseconds from 10 to ${MAX_LEASE_TTL_MS}`,
        { details: { field: "leaseTtlMs" } },
      );
    }
    if (this.#leaseOwner.length === 0 || this.#leaseOwner.length > 200) {
      throw new CardwrightError("CONFIG_INVALID", "leaseOwner must be a name of 1 to 200 characters", {
        details: { field: "leaseOwner" },
      });
    }
    this.#audit =
      options.auditLog ?? new HashChainAuditLog(options.store, { clock: this.#clock, random: this.#random });
    if (options.enrollmentAgent !== undefined) assertEnrollmentAgent(options.enrollmentAgent);
    this.#enrollmentAgent = options.enrollmentAgent;
    const onBehalf = options.policies.find((p) => p.issuance?.enrollOnBehalf === true);
    if (onBehalf !== undefined && options.enrollmentAgent === undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `policy ${onBehalf.id} enrolls on behalf; configure the enrollment agent (CardwrightOptions.enrollmentAgent)`,
        { details: { policyId: onBehalf.id, field: "enrollmentAgent" } },
      );
    }
    checkAttestationRoots(options.policies, options.attestationRoots);
    this.#keyAttestation = {
      attestationRoots: (options.attestationRoots ?? []).map((root) => root.slice()),
      clock: this.#clock,
    };
    const random = this.#random;
    this.#parts = {
      store: this.#store,
      vault: this.#vault,
      directory: this.#directory,
      certificateAuthorities: this.#cas,
      policies: this.#policies,
      auditLog: this.#audit,
      ...(this.#notifier === undefined ? {} : { notifier: this.#notifier }),
      clock: this.#clock,
      random,
      uuid: () => random.uuid(),
      logger: this.#logger,
      leaseOwner: this.#leaseOwner,
      leaseTtlMs: this.#leaseTtlMs,
      ...(this.#caRetry === undefined ? {} : { caRetry: this.#caRetry }),
    };
  }

  /** The policy engine over the configured policies. */
  get policies(): PolicyEngine {
    return this.#policies;
  }

  /**
   * Make a card known (state `registered`).
   * @throws CardwrightError `STORE_DUPLICATE` when a card with this serial is already registered.
   */
  async registerCard(device: Device | DeviceDescription, options: { actor?: string } = {}): Promise<CardRecord> {
    const identity = "identity" in device ? device.identity : device;
    // Look-then-insert is atomic only where transactions run one at a time. On a shared server
    // (PostgreSQL, READ COMMITTED) two processes would both find no card and both insert one, so
    // registrations of one serial are serialised by a lease on the serial itself.
    const guard = await this.#leaseSerial(identity.serial);
    try {
      return await this.#register(identity, options);
    } finally {
      await this.#store.leases.release(guard).catch(() => undefined);
    }
  }

  /** Leases `serial:<serial>`, waiting (up to a lease duration) for a concurrent registration to end. */
  async #leaseSerial(serial: string): Promise<CardLease> {
    const deadline = Date.now() + this.#leaseTtlMs;
    for (;;) {
      try {
        return await this.#store.leases.acquire(`${SERIAL_LEASE_PREFIX}${serial}`, this.#leaseOwner, this.#leaseTtlMs);
      } catch (err) {
        if (!isCardwrightError(err, "CARD_LEASED") || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
      }
    }
  }

  async #register(identity: DeviceDescription, options: { actor?: string }): Promise<CardRecord> {
    return this.#store.transaction(async (tx) => {
      // Checked inside the transaction, under the serial's lease, so two concurrent
      // registrations cannot both pass.
      const existing = await tx.cards.list({ deviceSerial: identity.serial, limit: 1 });
      if (existing.length > 0) {
        throw new CardwrightError(
          "STORE_DUPLICATE",
          `a card with serial ${identity.serial} is already registered as ${existing[0]!.id}`,
          {
            details: { recordKind: "card", recordId: existing[0]!.id, deviceSerial: identity.serial },
          },
        );
      }
      const card = await tx.cards.create({
        id: this.#random.uuid(),
        deviceSerial: identity.serial,
        deviceType: identity.type,
        deviceModel: identity.model,
        state: "registered",
      });
      await this.#audit.append(
        {
          actor: options.actor ?? "system",
          action: "card.registered",
          cardId: card.id,
          details: { deviceSerial: identity.serial, deviceType: identity.type },
        },
        tx,
      );
      return card;
    });
  }

  /**
   * Assign a registered card to a user (state `bound`), e.g. for self-enrolment: only that device
   * can then be self-enrolled by that user when the policy says `issuance.requireBinding`. Needs
   * the `bind` permission (operators by default; the user, for themself, only when the policy
   * grants it) and the `registered → bound` row of the policy's transition table; a refusal is
   * audited as `operation.refused`. A string actor is an operator; no actor is operator `system`.
   * @throws CardwrightError `STORE_NOT_FOUND`, `USER_NOT_FOUND`, `CARD_STATE` (not `registered`),
   * `AUTHZ_DENIED` (`details.permission`), `CARD_TRANSITION`, `STORE_CONFLICT` when the card changed meanwhile.
   */
  bindCard(cardId: string, userId: string, options: BindCardOptions = {}): Promise<CardRecord> {
    return this.#issuance().bind(cardId, userId, options);
  }

  /**
   * Issue a card to a user under the policy that applies to them: keys generated on the card,
   * certificates from the CAs, random admin key and PINs. Registers the card if it is unknown.
   * Returns `active` with the certificates (and the random PIN, shown once), or `pending` when a
   * CA holds a request for approval — then call {@link resumeOperation} later.
   * The card is leased for the run (see {@link CardwrightOptions.leaseTtlMs}), so no other
   * operator, instance or worker runs an operation on it at the same time.
   * @throws CardLeasedError `CARD_LEASED` (naming the holder and expiry) while another run holds
   * the card; CardwrightError `CARD_STATE` for a card that cannot be issued now (or is bound to
   * someone else); `WORKFLOW_STATE` when another operation holds the card; `STORE_CONFLICT` when
   * another operator changed it concurrently; `LEASE_LOST` when this run lost its lease (its
   * process stalled past the lease); `POLICY_*`, `DEVICE_*`, `CA_REJECTED`,
   * `APDU_CARD_REMOVED`, `PIV_*` from the workflow — after the failure rule was applied (issued
   * certificates revoked, card back in its previous state). Before anything starts (audited as
   * `operation.refused`, nothing generated): `AUTHZ_DENIED` (`details.permission`, or `details.rule`
   * `issuance.mode` / `issuance.requireBinding`), `CARD_TRANSITION`, `AUTHZ_APPROVAL_REQUIRED` and
   * `AUTHZ_SEPARATION_OF_DUTIES` (validated issuance), `POLICY_LIMIT` — see {@link IssuanceOperations.clearIssue}.
   */
  async issueCard(options: IssueCardOptions): Promise<IssueResult> {
    const identity = options.device.identity;
    let registered = (await this.#store.cards.list({ deviceSerial: identity.serial, limit: 1 }))[0];
    const registrar = issuanceActor(options.actor).id;
    registered ??= await this.registerCard(options.device, { actor: registrar }).catch(async (err: unknown) => {
      // Registered concurrently by someone else: use their record.
      const raced = isCardwrightError(err, "STORE_DUPLICATE")
        ? (await this.#store.cards.list({ deviceSerial: identity.serial, limit: 1 }))[0]
        : undefined;
      if (raced === undefined) throw err;
      return raced;
    });
    const lease = await this.#lease(registered.id);
    try {
      // Read again under the lease: the previous holder may have changed the card meanwhile.
      return await this.#issueLeased(await this.#requireCard(registered.id), options, lease);
    } finally {
      await lease.release();
    }
  }

  async #issueLeased(card: CardRecord, options: IssueCardOptions, lease: CardLeaseKeeper): Promise<IssueResult> {
    const identity = options.device.identity;
    if (card.pendingOperationId !== undefined) {
      throw new CardwrightError(
        "WORKFLOW_STATE",
        `card ${card.id} is held by operation ${card.pendingOperationId}; resume or finish it first`,
        {
          details: { cardId: card.id, operationId: card.pendingOperationId },
        },
      );
    }
    if (!ISSUABLE.includes(card.state)) {
      throw new CardwrightError(
        "CARD_STATE",
        `card ${card.id} is ${card.state}; only registered or bound cards can be issued`,
        {
          details: { cardId: card.id, state: card.state },
        },
      );
    }
    // Issuance mode, permission, transition table, approval and limits: refused (and audited)
    // before anything is generated.
    const clearance = await this.#issuance().clearIssue(card, {
      userId: options.userId,
      actor: options.actor,
      deviceSerial: identity.serial,
      deviceType: identity.type,
      optionalTemplates: options.optionalTemplates ?? [],
      ...(options.approvalId === undefined ? {} : { approvalId: options.approvalId }),
      ...(options.selection === undefined ? {} : { selectedTemplates: options.selection.templates }),
      ...(options.selection?.policyId === undefined ? {} : { policyId: options.selection.policyId }),
    });
    const actorId = clearance.actor.id;
    if (card.state === "bound" && card.userId !== options.userId) {
      throw new CardwrightError("CARD_STATE", `card ${card.id} is bound to another user`, {
        details: { cardId: card.id, userId: options.userId },
      });
    }
    const operationId = this.#random.uuid();
    const input: IssueInput = {
      operationId,
      cardId: card.id,
      userId: options.userId,
      actor: actorId,
      deviceSerial: identity.serial,
      optionalTemplates: options.optionalTemplates ?? [],
      previousCardState: card.state,
      ...(options.selection === undefined ? {} : { selection: options.selection }),
    };
    const start = card;
    let issuing: CardRecord | undefined;
    const operation = await this.#store.transaction(async (tx) => {
      // Optimistic concurrency: `start.version` was read before the transaction, so a second
      // operator who read the same version loses here with STORE_CONFLICT.
      issuing = await tx.cards.update({
        ...start,
        state: "issuing",
        userId: options.userId,
        pendingOperationId: operationId,
      });
      const op = await tx.operations.create({
        id: operationId,
        kind: "issue",
        cardId: start.id,
        userId: options.userId,
        machineId: ISSUE_MACHINE_ID,
        machineVersion: ISSUE_MACHINE_VERSION,
        status: "running",
        snapshot: null,
        // Lets a process that takes the card over restart the run if this one stops before its
        // first snapshot is saved. Secret-free, like the snapshot.
        input,
        actor: actorId,
      });
      await this.#audit.append(
        {
          actor: actorId,
          action: "card.state",
          cardId: start.id,
          userId: options.userId,
          operationId,
          details: { operation: "issue", actorKind: clearance.actor.kind, from: start.state, to: "issuing" },
        },
        tx,
      );
      // Uses up the approval in this transaction: it cannot start a second issue.
      await this.#issuance().claim(tx, clearance, { operationId, cardId: start.id, userId: options.userId });
      return op;
    });
    const session = new DeviceSession(options.device, this.#vault, options.pin);
    return this.#runIssue(session, operation, { input }, lease, options.onProgress, issuing);
  }

  /**
   * Continue a pending or interrupted issue ("continue card issue"), possibly in a new process:
   * restores the persisted snapshot, checks the card in the reader is the operation's card, asks
   * the CA again, and finishes (or stays pending). An operation still `running` whose process
   * crashed is taken over once that process's card lease expired, from its last persisted step.
   * @throws CardLeasedError `CARD_LEASED` while another run holds the card (retry after
   * `details.leaseExpiresAt` to take over a crashed one); CardwrightError `STORE_NOT_FOUND` (no
   * such operation), `WORKFLOW_VERSION` (the snapshot belongs to another machine version),
   * `WORKFLOW_STATE` (already finished),
   * `DEVICE_MISMATCH` (another card in the reader); workflow errors as for {@link issueCard}.
   */
  async resumeOperation(operationId: string, options: ResumeOptions): Promise<IssueResult> {
    const first = await this.#requireResumable(operationId);
    const lease = await this.#lease(first.cardId);
    try {
      // Read again under the lease: the previous holder may have finished it meanwhile.
      return await this.#resumeLeased(await this.#requireResumable(operationId), options, lease);
    } finally {
      await lease.release();
    }
  }

  /** The operation, checked to be an issue this SDK can continue. */
  async #requireResumable(operationId: string): Promise<OperationRecord> {
    const operation = await requireResumableOperation(this.#store, operationId, {
      versions: { [ISSUE_MACHINE_ID]: ISSUE_MACHINE_VERSION },
      otherMachine: "; only issue can be resumed here",
    });
    // Created but never started (no snapshot, no input): nothing to continue from.
    if (operation.snapshot === null && operation.input === undefined) throw nothingToResume(operation);
    return operation;
  }

  async #resumeLeased(
    operation: OperationRecord,
    options: ResumeOptions,
    lease: CardLeaseKeeper,
  ): Promise<IssueResult> {
    const operationId = operation.id;
    const card = await this.#requireCard(operation.cardId);
    assertResumingOnCard(operationId, card, options.device.identity.serial);
    await this.#audit.append({
      actor: options.actor,
      action: "operation.resumed",
      cardId: card.id,
      userId: operation.userId,
      operationId,
    });
    const resting = ISSUE_REST_STATES.includes(
      (operation.snapshot as { value?: unknown } | null)?.value as (typeof ISSUE_REST_STATES)[number],
    );
    const session = new DeviceSession(options.device, this.#vault, options.pin);
    // A run that stopped before its first snapshot restarts from its input; nothing was done yet.
    const start =
      operation.snapshot === null
        ? { input: operation.input as IssueInput }
        : { snapshot: operation.snapshot, ...(resting ? { event: { type: "RESUME" } } : {}) };
    return this.#runIssue(session, operation, start, lease, options.onProgress);
  }

  async #runIssue(
    session: DeviceSession,
    operation: OperationRecord,
    start: { input: IssueInput } | { snapshot: unknown; event?: { type: string } },
    lease: CardLeaseKeeper,
    onProgress?: (event: ProgressEvent) => void,
    /** The card as the operation's start left it, when this process started it. */
    started?: CardRecord,
  ): Promise<IssueResult> {
    const handle = new OperationRecordHandle(operation);
    const steps = new IssueSteps(
      {
        store: this.#store,
        vault: this.#vault,
        directory: this.#directory,
        certificateAuthorities: this.#cas,
        policies: this.#policies,
        auditLog: this.#audit,
        random: this.#random,
        logger: this.#logger,
        ...(this.#notifier === undefined ? {} : { notifier: this.#notifier }),
        ...(this.#caRetry === undefined ? {} : { caRetry: this.#caRetry }),
        ...(this.#enrollmentAgent === undefined ? {} : { enrollmentAgent: this.#enrollmentAgent }),
        ...this.#keyAttestation,
      },
      session,
      { operation: handle, ...(started === undefined ? {} : { card: started }) },
    );
    // One run per operation at a time (the card lease sees to it); should a second one get here
    // anyway it gets a machine of its own rather than the first run's session.
    const shared = !this.#runs.has(operation.id);
    if (shared) this.#runs.set(operation.id, steps);
    let outcome: RunOutcome;
    try {
      outcome = await runOperation({
        machine: shared ? this.#issueMachine : issueMachine.provide({ actors: issueActors(steps) }),
        store: this.#store,
        operation,
        handle,
        ...start,
        restStates: ISSUE_REST_STATES,
        statusOf: (state, done) =>
          done
            ? state === "done"
              ? "completed"
              : "failed"
            : (ISSUE_REST_STATES as readonly string[]).includes(state)
              ? "pending"
              : "running",
        progressOf: issueProgress,
        fence: () => lease.fence(),
        ...(onProgress === undefined ? {} : { onProgress }),
      });
    } finally {
      if (shared) this.#runs.delete(operation.id);
    }
    const context = outcome.context as IssueContext;
    const card = await steps.cardAfterRun(context.cardId);
    if (outcome.state === "done") {
      const certificates: CertificateRecord[] = [];
      for (const t of context.templates) {
        const cert = await steps.certificateAfterRun(t.requestId);
        if (cert !== null) certificates.push(cert);
      }
      return {
        status: "active",
        card,
        certificates,
        ...(session.generatedPin === undefined ? {} : { pin: session.generatedPin }),
      };
    }
    if (outcome.state === "awaitingDocuments") {
      return {
        status: "pending",
        card,
        operationId: context.operationId,
        pendingRequests: [],
        ...(context.documents === undefined ? {} : { documents: context.documents }),
      };
    }
    if (outcome.state === "pending") {
      return {
        status: "pending",
        card,
        operationId: context.operationId,
        pendingRequests: context.templates
          .filter((t) => t.status === "pending")
          .map((t) => ({
            templateId: t.templateId,
            caId: t.caId,
            requestId: t.requestId,
            ...(t.caRequestId === undefined ? {} : { caRequestId: t.caRequestId }),
          })),
      };
    }
    throw failure(context.error, context.operationId, outcome.state === "rollbackPending");
  }

  /**
   * The steps of the run in progress for `operationId`.
   * @throws CardwrightError `WORKFLOW_STATE` when no run of this instance owns the operation.
   */
  #runSteps(operationId: string): IssueSteps {
    const steps = this.#runs.get(operationId);
    if (steps === undefined) {
      throw new CardwrightError("WORKFLOW_STATE", `operation ${operationId} has no run in progress in this instance`, {
        details: { operationId },
      });
    }
    return steps;
  }

  /** A card by id, or `null`. */
  async getCard(id: string): Promise<CardRecord | null> {
    return this.#store.cards.get(id);
  }

  /** Cards matching `query`. */
  async listCards(query: CardQuery = {}): Promise<CardRecord[]> {
    return this.#store.cards.list(query);
  }

  /** The certificate inventory matching `query`. */
  async listCertificates(query: CertificateQuery = {}): Promise<CertificateRecord[]> {
    return this.#store.certificates.list(query);
  }

  /** Operations (running, pending, completed, failed) matching `query`, in the store's order. */
  async listOperations(
    query: { cardId?: string; status?: OperationRecord["status"]; limit?: number } = {},
  ): Promise<OperationRecord[]> {
    return this.#store.operations.list(query);
  }

  /** Audit events from `fromSeq`, optionally for one card. */
  async listAudit(query: { fromSeq?: number; cardId?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    return this.#store.audit.list(query);
  }

  /** Recompute the audit hash chain; reports the first broken event. */
  async verifyAudit(): Promise<AuditVerification> {
    return this.#audit.verify();
  }

  /**
   * Leases the card for one run.
   * @throws CardLeasedError `CARD_LEASED` when another run holds it.
   */
  #lease(cardId: string): Promise<CardLeaseKeeper> {
    return CardLeaseKeeper.acquire(this.#store, cardId, this.#leaseOwner, this.#leaseTtlMs, this.#logger);
  }

  #requireCard(cardId: string): Promise<CardRecord> {
    return requireCard(this.#store, cardId);
  }

  // ---------------------------------------------------------------- lifecycle (issue 7)

  /** Runs suspend, resume, revoke and retire over this instance's parts (made on first use). */
  #lifecycleOperations: LifecycleOperations | undefined;

  #lifecycle(): LifecycleOperations {
    this.#lifecycleOperations ??= new LifecycleOperations(this.#parts);
    return this.#lifecycleOperations;
  }

  /**
   * Suspend a card: every written certificate goes on hold at its CA (RFC 5280 §5.3.1
   * certificateHold) and is recorded `suspended`; the card becomes `suspended`. The actor's kind is
   * checked against the policy's permissions, the transition against its transition table.
   * @throws CardwrightError `AUTHZ_DENIED` (`details.permission`), `CARD_TRANSITION`,
   * `WORKFLOW_STATE` (another operation holds the card), `STORE_NOT_FOUND`; CardLeasedError
   * `CARD_LEASED`; CA errors — with `details.resumable` and `details.operationId` when some
   * certificates were already changed ({@link resumeLifecycleOperation} finishes them).
   */
  suspendCard(options: CardStatusOptions): Promise<LifecycleResult> {
    return this.#lifecycle().suspend(options);
  }

  /**
   * Lift a suspended card's holds at the CA; its certificates are `written` again and the card `active`.
   * @throws as {@link suspendCard}.
   */
  resumeCard(options: CardStatusOptions): Promise<LifecycleResult> {
    return this.#lifecycle().resumeCard(options);
  }

  /**
   * Revoke every certificate of a card at its CA with an RFC 5280 §5.3.1 reason; the card becomes
   * `revoked`. A CA failure part-way leaves the operation interrupted with what was revoked
   * recorded; {@link resumeLifecycleOperation} revokes the rest, never one certificate twice.
   * @throws CardwrightError `CA_INVALID_REQUEST` for `certificateHold`/`removeFromCRL`; otherwise
   * as {@link suspendCard}.
   */
  revokeCard(options: RevokeCardOptions): Promise<LifecycleResult> {
    return this.#lifecycle().revoke(options);
  }

  /**
   * Retire (clear) a card: wipe the device in the reader (factory reset where it can, else delete
   * the certificates the record lists) and record it `retired`; the record is kept.
   * @throws CardwrightError `DEVICE_MISMATCH`, device errors; otherwise as {@link suspendCard}.
   */
  retireCard(options: RetireCardOptions): Promise<LifecycleResult> {
    return this.#lifecycle().retire(options);
  }

  /**
   * Continue an interrupted suspend, resume, revoke or retire (a retire needs `options.device`),
   * possibly in another process. Issue operations are resumed with {@link resumeOperation}.
   * @throws see {@link LifecycleOperations.continueOperation}.
   */
  resumeLifecycleOperation(operationId: string, options: ResumeLifecycleOptions): Promise<LifecycleResult> {
    return this.#lifecycle().continueOperation(operationId, options);
  }

  // ---------------------------------------------------------------- issuance modes (issue 7)

  /** Runs the issuance modes' checks and approvals over this instance's parts (made on first use). */
  #issuanceOperations: IssuanceOperations | undefined;

  #issuance(): IssuanceOperations {
    this.#issuanceOperations ??= new IssuanceOperations(this.#parts);
    return this.#issuanceOperations;
  }

  /**
   * Validated issuance, step 1: ask a validation officer to approve issuing a card to a user
   * (optionally on one device, with chosen optional templates). Records a pending approval,
   * audits `issuance.requested` and notifies `issuance-approval-requested`.
   * @throws see {@link IssuanceOperations.request}.
   */
  requestIssuance(options: RequestIssuanceOptions): Promise<ApprovalRecord> {
    return this.#issuance().request(options);
  }

  /**
   * Validated issuance, step 2: a validation officer (permission `approve-issuance`; neither the
   * requester nor the user) approves or rejects the request. Then an operator other than the
   * officer issues with `issueCard({ approvalId, ... })`, which uses the approval up.
   * @throws see {@link IssuanceOperations.decide}.
   */
  decideIssuance(options: DecideIssuanceOptions): Promise<ApprovalRecord> {
    return this.#issuance().decide(options);
  }

  /** Approvals matching `query`, oldest first (e.g. an officer's queue: `{ kind: "issuance", status: "pending" }`). */
  listApprovals(query: ApprovalQuery = {}): Promise<ApprovalRecord[]> {
    return this.#issuance().list(query);
  }

  // ---------------------------------------------------------------- document check (issue 7)

  /** Signs requests on behalf; see {@link CardwrightOptions.enrollmentAgent}. */
  readonly #enrollmentAgent: EnrollmentAgent | undefined;
  /** Roots and clock key attestations are verified with; see {@link CardwrightOptions.attestationRoots}. */
  readonly #keyAttestation: { attestationRoots: readonly Uint8Array[]; clock: Clock };
  /** Uploads, reviews and lists documents (made on first use). */
  #documentOperations: DocumentOperations | undefined;

  #documents(): DocumentOperations {
    this.#documentOperations ??= new DocumentOperations(this.#parts);
    return this.#documentOperations;
  }

  /**
   * Upload a signed document the card's policy requires (`Policy.documents`), for the card's user
   * — by the user or an operator. Stored with its SHA-256, status `uploaded`; reviewers are
   * notified (`documents-review-requested`); audited as `document.uploaded`.
   * @throws see {@link DocumentOperations.upload}.
   */
  uploadDocument(options: UploadDocumentOptions): Promise<DocumentRecord> {
    return this.#documents().upload(options);
  }

  /**
   * Approve or reject documents (permission `approve-documents`; never one's own upload). Once all
   * required documents are approved, {@link resumeOperation} continues the waiting issue; a
   * rejection keeps it pending and tells the user what to upload again.
   * @throws see {@link DocumentOperations.review}.
   */
  reviewDocuments(options: ReviewDocumentsOptions): Promise<ReviewDocumentsResult> {
    return this.#documents().review(options);
  }

  /** Documents matching `options`, oldest first. */
  listDocuments(options: ListDocumentsOptions = {}): Promise<DocumentRecord[]> {
    return this.#documents().list(options);
  }

  // ---------------------------------------------------------------- agent tasks, expiry monitoring (issue 7)

  #agentTaskQueue: AgentTaskQueue | undefined;
  #expiryMonitor: ExpiryMonitor | undefined;

  #agentTasks(): AgentTaskQueue {
    this.#agentTaskQueue ??= new AgentTaskQueue(this.#parts);
    return this.#agentTaskQueue;
  }

  #expiry(): ExpiryMonitor {
    this.#expiryMonitor ??= new ExpiryMonitor(this.#parts);
    return this.#expiryMonitor;
  }

  /**
   * Queue an update, cancel-update or unblock-PIN for the agent at the workstation where the card
   * is; an {@link AgentTaskRunner} there claims and runs it when the card is present.
   * @throws CardwrightError `AUTHZ_DENIED` (needs `queue-task` and the operation's permission),
   * `AGENT_TASK_UNSUPPORTED`, `CONFIG_INVALID` (a secret-looking parameter), `STORE_NOT_FOUND`.
   */
  queueAgentTask(options: QueueAgentTaskOptions): Promise<AgentTaskRecord> {
    return this.#agentTasks().queue(options);
  }

  /**
   * Cancel an agent task that no agent has claimed yet.
   * @throws CardwrightError `WORKFLOW_STATE` when it is claimed or ended, `AUTHZ_DENIED`, `STORE_NOT_FOUND`.
   */
  cancelAgentTask(options: CancelAgentTaskOptions): Promise<AgentTaskRecord> {
    return this.#agentTasks().cancel(options);
  }

  /** Agent tasks, oldest first. */
  listAgentTasks(query: AgentTaskQuery = {}): Promise<AgentTaskRecord[]> {
    return this.#agentTasks().list(query);
  }

  /**
   * An agent over this instance's store, audit log, clock and logger, running tasks through
   * `handlers` (the embedding application maps each task kind to this facade's operation).
   * @throws CardwrightError `CONFIG_INVALID` for an empty agent name or a bad claim duration.
   */
  createAgentRunner(options: CreateAgentRunnerOptions): AgentTaskRunner {
    return new AgentTaskRunner({
      ...options,
      store: this.#store,
      auditLog: this.#audit,
      clock: this.#clock,
      logger: this.#logger,
    });
  }
  /**
   * Agent task handlers that run each task kind through this instance's operations — `updateCard`
   * (or `continueUpdate` of a crashed agent's update), `cancelUpdate`, and `resetPin` with the
   * vault-kept PUK — asking the person at the workstation for their PIN and, where the policy does
   * not generate one, a new PIN. Pass them to {@link createAgentRunner}.
   */
  agentTaskHandlers(prompts: AgentWorkstationPrompts): AgentTaskHandlers {
    return operationTaskHandlers(this, prompts);
  }

  /**
   * Certificates (issued or third-party) expiring within `withinDays`, by card and by user.
   * @throws CardwrightError `CONFIG_INVALID` for a bad `withinDays`.
   */
  listExpiring(options: ListExpiringOptions): Promise<ExpiryReport> {
    return this.#expiry().listExpiring(options);
  }

  /**
   * Send the `expiring` notification for certificates expiring within `withinDays`, once per
   * certificate and threshold (remembered in the audit log as `certificate.expiry-notified`).
   * @throws CardwrightError `CONFIG_INVALID` without a notifier or for a bad `withinDays`.
   */
  notifyExpiring(options: NotifyExpiringOptions): Promise<NotifyExpiringResult> {
    return this.#expiry().notifyExpiring(options);
  }

  // ---------------------------------------------------------------- card update (issue 7)

  /** Runs card updates over this instance's parts (made on first use). */
  #cardUpdates: CardUpdates | undefined;

  #updates(): CardUpdates {
    this.#cardUpdates ??= new CardUpdates(this.#parts);
    return this.#cardUpdates;
  }

  /**
   * Update a card against its policy or a newly assigned one: add the certificates the policy adds,
   * renew those inside their renewal window or whose tracked user attributes changed, keep the rest,
   * and — only once everything new is on the card — revoke and remove what it drops. Rests
   * `pending` while a CA holds a request ({@link continueUpdate}); cancellable ({@link cancelUpdate}).
   * @throws see {@link CardUpdates.updateCard}.
   */
  updateCard(options: UpdateCardOptions): Promise<UpdateResult> {
    return this.#updates().updateCard(options);
  }

  /**
   * "Continue card update": finish a pending or interrupted update, possibly in another process.
   * @throws see {@link CardUpdates.continueUpdate}.
   */
  continueUpdate(operationId: string, options: ContinueUpdateOptions): Promise<UpdateResult> {
    return this.#updates().continueUpdate(operationId, options);
  }

  /**
   * Cancel an update (by operation or card id): the card and its record are restored to their
   * state before it, anything issued for it revoked.
   * @throws see {@link CardUpdates.cancelUpdate}.
   */
  cancelUpdate(options: CancelUpdateOptions): Promise<UpdateResult> {
    return this.#updates().cancelUpdate(options);
  }

  /**
   * Inspect a card without changing it: third-party certificates found on it and the update plan.
   * @throws see {@link CardUpdates.inspectCard}.
   */
  inspectCard(options: InspectCardOptions): Promise<CardInspection> {
    return this.#updates().inspectCard(options);
  }

  /**
   * Register a third-party certificate found on a card (tracked for expiry), on the operator's choice.
   * @throws see {@link CardUpdates.registerCertificate}.
   */
  registerCertificate(options: RegisterCertificateOptions): Promise<CertificateRecord> {
    return this.#updates().registerCertificate(options);
  }

  // ---------------------------------------------------------------- PIN operations (issue 7)

  /** Runs the PIN operations over this instance's parts (made on first use). */
  #pinOperations: PinOperations | undefined;

  #pin(): PinOperations {
    this.#pinOperations ??= new PinOperations(this.#parts);
    return this.#pinOperations;
  }

  /**
   * Change a card's PIN knowing the current one (permission `change-pin`; by default the user on
   * their own card). A wrong current PIN fails with `details.retriesLeft` and changes nothing else.
   * @throws see {@link PinOperations.changePin}.
   */
  changePin(options: ChangePinOptions): Promise<PinResult> {
    return this.#pin().changePin(options);
  }

  /**
   * Reset a card's PIN as helpdesk or administrator (permission `reset-pin`): by the vault-kept PUK,
   * or the admin credential where it unblocks; a random PIN (policy `pin.random`) is returned once
   * and sent as the Notifier's `pin` notification.
   * @throws see {@link PinOperations.resetPin}.
   */
  resetPin(options: ResetPinOptions): Promise<PinResult> {
    return this.#pin().resetPin(options);
  }

  /**
   * Unblock a card's PIN with the PUK the holder knows (permission `unblock-pin`).
   * @throws see {@link PinOperations.unblockPin}.
   */
  unblockPin(options: UnblockPinOptions): Promise<PinResult> {
    return this.#pin().unblockPin(options);
  }

  /**
   * Replace a card's vault-kept PUK with a fresh random one, e.g. after an offline unblock
   * disclosed it (permission `reset-pin`).
   * @throws see {@link PinOperations.rotatePuk}.
   */
  rotatePuk(options: PinOperationOptions): Promise<PinResult> {
    return this.#pin().rotatePuk(options);
  }

  /**
   * Enrol a user's security questions for offline unblock; answers are kept only as salted scrypt hashes.
   * @throws see {@link PinOperations.enrollSecurityAnswers}.
   */
  enrollSecurityAnswers(options: EnrollSecurityAnswersOptions): Promise<{ userId: string; questions: string[] }> {
    return this.#pin().enrollSecurityAnswers(options);
  }

  /**
   * Helpdesk side of the offline unblock (permission `offline-unblock`): check the holder's security
   * answers, then answer their agent's challenge code (see `createUnblockChallenge` and
   * `redeemUnblockResponse`) with a response code; the card's PUK then counts as disclosed until rotated.
   * @throws see {@link PinOperations.offlineUnblockResponse}.
   */
  offlineUnblockResponse(options: OfflineUnblockResponseOptions): Promise<OfflineUnblockResponse> {
    return this.#pin().offlineUnblockResponse(options);
  }

  /**
   * A card's administrator credential, unwrapped, for a holder of `view-admin-pin` (granted by no
   * default); audited.
   * @throws see {@link PinOperations.revealAdminCredential}.
   */
  revealAdminCredential(options: RevealAdminCredentialOptions): Promise<AdminCredential> {
    return this.#pin().revealAdminCredential(options);
  }

  // ---------------------------------------------------------------- replace (issue 7)

  /** Runs replacements over this instance's parts (made on first use). */
  #replaceOperations: ReplaceOperations | undefined;

  #replace(): ReplaceOperations {
    this.#replaceOperations ??= new ReplaceOperations({
      ...this.#parts,
      issuer: {
        issue: async (o) =>
          replacementIssue(
            await this.issueCard({
              userId: o.userId,
              device: o.session.device,
              actor: o.actor,
              selection: o.selection,
              ...(o.pin === undefined ? {} : { pin: o.pin }),
            }),
          ),
        resume: async (operationId, o) =>
          replacementIssue(
            await this.resumeOperation(operationId, {
              device: o.session.device,
              actor: o.actor,
              ...(o.pin === undefined ? {} : { pin: o.pin }),
            }),
          ),
      },
      lifecycle: this.#lifecycle(),
    });
    return this.#replaceOperations;
  }

  /**
   * Replace a lost, stolen, damaged or forgotten card (permission `replace`): the old card's
   * certificates are revoked (RFC 5280 reason per the policy's rule: `keyCompromise` for stolen,
   * `superseded` for lost, `cessationOfOperation` for damaged by default) or held (forgotten), the
   * old card moves to `lost`, `damaged`, `revoked` or `suspended`, and `options.newDevice` is issued
   * to the same user — in full, or as a temporary card (the policy's temporary templates and short
   * validity) for a forgotten one. Archived encryption keys (9D, `archiveKey`) are recovered to the
   * new card: imported into the same slot with their certificate, which is not revoked. A failure
   * after the old card changed leaves the operation resumable ({@link resumeReplaceOperation}).
   * @throws see {@link ReplaceOperations.replace}.
   */
  replaceCard(options: ReplaceCardOptions): Promise<ReplaceResult> {
    return this.#replace().replace(options);
  }

  /**
   * The permanent card of a forgotten-card replacement is back: the temporary card's certificates
   * are revoked and the card wiped (retired), and the hold on the permanent card lifted (resumed).
   * @throws see {@link ReplaceOperations.returnTemporaryCard}.
   */
  returnTemporaryCard(options: ReturnTemporaryCardOptions): Promise<ReturnTemporaryCardResult> {
    return this.#replace().returnTemporaryCard(options);
  }

  /**
   * Continue an interrupted or pending replacement (possibly in another process) from the first
   * phase not done; nothing done before is done again.
   * @throws see {@link ReplaceOperations.continueOperation}.
   */
  resumeReplaceOperation(operationId: string, options: ResumeReplaceOptions): Promise<ReplaceResult> {
    return this.#replace().continueOperation(operationId, options);
  }
}

/** An issue's outcome as a replacement's issue step takes it. */
function replacementIssue(result: IssueResult): ReplacementIssueResult {
  return result.status === "active"
    ? { status: "active", card: result.card, ...(result.pin === undefined ? {} : { pin: result.pin }) }
    : { status: "pending", card: result.card, operationId: result.operationId };
}

/** Progress numbering for the issue machine's states. */
export function issueProgress(state: string, context: unknown): Omit<ProgressEvent, "operationId" | "step"> {
  const c = context as IssueContext;
  if (TEMPLATE_STEPS.has(state)) {
    const t = c.templates[c.index];
    return { index: c.index + 1, total: c.templates.length, ...(t === undefined ? {} : { templateId: t.templateId }) };
  }
  const i = (ISSUE_STEPS as readonly string[]).indexOf(state);
  return { index: i < 0 ? ISSUE_STEPS.length : i + 1, total: ISSUE_STEPS.length };
}

function failure(error: SerializedError | undefined, operationId: string, rollbackPending: boolean): CardwrightError {
  if (error === undefined) {
    return new CardwrightError("WORKFLOW_FAILED", `operation ${operationId} failed`, {
      details: { operationId, rollbackPending },
    });
  }
  const err = new CardwrightError(error.code, error.message, {
    details: { ...error.details, operationId, ...(rollbackPending ? { rollbackPending } : {}) },
  });
  Object.defineProperty(err, "name", { value: error.name });
  return err;
}
