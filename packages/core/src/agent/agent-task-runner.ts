/**
 * The agent's side of agent tasks: an application that embeds cardwright on a workstation runs an
 * {@link AgentTaskRunner}, which finds the tasks queued for the cards in its readers, claims each
 * one ({@link AgentTaskClaim}: a compare-and-set on the task's version, so of two agents exactly
 * one runs it), runs it through the handler for its kind, and records `completed` or `failed` with
 * the typed error. A task ends once: completed, failed and cancelled tasks are never claimed again;
 * a claim whose agent stopped renewing expires and another agent may take it over.
 *
 * The handlers are the facade's operations (update, cancel update, unblock PIN), which lease the
 * card themselves, so even a taken-over task never runs on one card twice at the same time.
 */
import type { AgentTaskKind, AgentTaskRecord } from "../domain/records.js";
import { CardwrightError, isCardwrightError, type SerializedError, withContext } from "../errors.js";
import type { LifecycleActor } from "../lifecycle/lifecycle-permissions.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { Device, DeviceProvider } from "../ports/device.js";
import type { Clock, Logger } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";
import { systemClock } from "../runtime/clock.js";
import { silentLogger } from "../runtime/logger.js";
import { AgentTaskClaim, isClaimable } from "./agent-task-claim.js";

/** What a handler is given besides the task and the card. */
export interface AgentTaskContext {
  /** The agent, as the actor of the operation it runs (`kind: "agent"`, `id`: the agent name). */
  actor: LifecycleActor;
  /**
   * The agent whose claim expired before it recorded an end, when this run took the task over: it
   * may have started the operation already, so the handler should resume the card's pending
   * operation rather than start another.
   */
  takenOverFrom?: string;
}

/** What a handler reports: the operation it ran, when it ran one. */
export interface AgentTaskHandlerResult {
  operationId?: string;
}

/**
 * Runs one kind of task on the card, which is open in a reader of this workstation. Throws a
 * {@link CardwrightError} to fail the task (its JSON form is recorded, so it must be secret-free).
 */
export type AgentTaskHandler = (
  task: AgentTaskRecord,
  device: Device,
  context: AgentTaskContext,
) => Promise<AgentTaskHandlerResult>;

/** A handler per task kind; the facade fills them with its operations. A kind left out is refused. */
export type AgentTaskHandlers = Partial<Record<AgentTaskKind, AgentTaskHandler>>;

/** Options of {@link AgentTaskRunner}. */
export interface AgentTaskRunnerOptions {
  store: Store;
  auditLog: AuditLog;
  /** The readers of this workstation. */
  devices: DeviceProvider;
  /** This agent's name (e.g. the workstation's host name): recorded as `claimedBy` and the audit actor. */
  agentName: string;
  handlers: AgentTaskHandlers;
  /** How long a claim lasts without renewal, in ms (default 300 000); renewed every third of it while the task runs. */
  claimTtlMs?: number;
  /** Source of claim expiry; the system clock by default. Agents sharing a store need roughly synchronised clocks. */
  clock?: Clock;
  logger?: Logger;
}

/** Default {@link AgentTaskRunnerOptions.claimTtlMs}. */
export const DEFAULT_AGENT_CLAIM_TTL_MS = 300_000;

/** What became of one task in a {@link AgentTaskRunner.runPending} pass. */
export type AgentTaskOutcome =
  | { taskId: string; kind: AgentTaskKind; status: "completed"; operationId?: string }
  | { taskId: string; kind: AgentTaskKind; status: "failed"; error: SerializedError }
  | {
      taskId: string;
      kind: AgentTaskKind;
      status: "skipped";
      /**
       * `claimed-elsewhere`: another agent claimed it first, or it ended or was cancelled; nothing ran.
       * `device-unavailable`: the card could not be opened; the task went back to the queue unrun.
       * `claim-lost`: the handler ran but another agent had taken the expired claim over, so this
       * agent recorded nothing over it.
       */
      reason: "claimed-elsewhere" | "device-unavailable" | "claim-lost";
    };

/** Claims and runs agent tasks for the cards present; see the module comment. */
export class AgentTaskRunner {
  readonly #o: Required<Omit<AgentTaskRunnerOptions, "clock" | "logger">> & { clock: Clock; logger: Logger };
  /** Tasks this runner is running: a second pass started meanwhile leaves them alone. */
  readonly #running = new Set<string>();

  /** @throws CardwrightError `CONFIG_INVALID` for an empty agent name or a claim duration out of range. */
  constructor(options: AgentTaskRunnerOptions) {
    const claimTtlMs = options.claimTtlMs ?? DEFAULT_AGENT_CLAIM_TTL_MS;
    if (!Number.isInteger(claimTtlMs) || claimTtlMs < 10 || claimTtlMs > 86_400_000) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        "claimTtlMs must be a whole number of milliseconds from 10 to 86400000",
        {
          details: { field: "claimTtlMs" },
        },
      );
    }
    if (options.agentName.trim().length === 0 || options.agentName.length > 200) {
      throw new CardwrightError("CONFIG_INVALID", "agentName must be a name of 1 to 200 characters", {
        details: { field: "agentName" },
      });
    }
    this.#o = {
      ...options,
      claimTtlMs,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger,
    };
  }

  /** The agent's name. */
  get agentName(): string {
    return this.#o.agentName;
  }

  /**
   * One pass: the tasks claimable now for the cards in this workstation's readers, oldest first,
   * each claimed and run in turn. Returns what became of each; an empty list when no card is present.
   * @throws store errors (a task's own failure is recorded on the task, not thrown).
   */
  async runPending(): Promise<AgentTaskOutcome[]> {
    const serials = [...new Set((await this.#o.devices.list()).map((d) => d.serial).filter((s) => s !== ""))];
    if (serials.length === 0) return [];
    const [queued, claimed] = await Promise.all([
      this.#o.store.agentTasks.list({ deviceSerials: serials, status: "queued" }),
      this.#o.store.agentTasks.list({ deviceSerials: serials, status: "claimed" }),
    ]);
    const now = this.#o.clock.now();
    const tasks = [...queued, ...claimed.filter((t) => isClaimable(t, now))].sort(
      (a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    const outcomes: AgentTaskOutcome[] = [];
    for (const task of tasks) {
      if (this.#running.has(task.id)) continue;
      outcomes.push(await this.runTask(task));
    }
    return outcomes;
  }

  /**
   * Claims `task` (as read: its version is the compare-and-set) and, if this agent won, runs it.
   * @throws store errors; never the handler's error, which is recorded on the task.
   */
  async runTask(task: AgentTaskRecord): Promise<AgentTaskOutcome> {
    const head = { taskId: task.id, kind: task.kind };
    if (this.#running.has(task.id)) return { ...head, status: "skipped", reason: "claimed-elsewhere" };
    this.#running.add(task.id);
    try {
      const claim = await AgentTaskClaim.take(this.#o, task);
      if (claim === null) return { ...head, status: "skipped", reason: "claimed-elsewhere" };
      this.#o.logger.log("info", "agent task claimed", { ...head, agent: this.#o.agentName });
      return await this.#run(claim);
    } finally {
      this.#running.delete(task.id);
    }
  }

  async #run(claim: AgentTaskClaim): Promise<AgentTaskOutcome> {
    const task = claim.task;
    const head = { taskId: task.id, kind: task.kind };
    const handler = this.#o.handlers[task.kind];
    if (handler === undefined) {
      const error = new CardwrightError(
        "AGENT_TASK_UNSUPPORTED",
        `agent ${this.#o.agentName} has no handler for ${task.kind} tasks; run an agent that does, or cancel task ${task.id}`,
        { details: { taskId: task.id, kind: task.kind, cardId: task.cardId } },
      );
      return this.#end(claim, { status: "failed", error: error.toJSON() });
    }
    let device: Device;
    try {
      device = await this.#o.devices.open({ serial: task.deviceSerial });
    } catch (err) {
      // The card left the reader between listing and opening: give the task back rather than fail it.
      this.#o.logger.log("warn", "agent task card could not be opened", {
        ...head,
        code: isCardwrightError(err) ? err.code : "unknown",
      });
      const released = await claim.release(isCardwrightError(err) ? err.code : "device-open-failed");
      return { ...head, status: "skipped", reason: released ? "device-unavailable" : "claim-lost" };
    }
    claim.keepAlive();
    try {
      if (device.identity.serial !== task.deviceSerial) {
        throw new CardwrightError(
          "DEVICE_MISMATCH",
          `the reader opened serial ${device.identity.serial}, not the card of task ${task.id} (serial ${task.deviceSerial})`,
          {
            details: {
              taskId: task.id,
              cardId: task.cardId,
              deviceSerial: device.identity.serial,
              expectedSerial: task.deviceSerial,
            },
          },
        );
      }
      const result = await handler(task, device, {
        actor: { id: this.#o.agentName, kind: "agent" },
        ...(claim.takenOverFrom === undefined ? {} : { takenOverFrom: claim.takenOverFrom }),
      });
      return this.#end(claim, {
        status: "completed",
        ...(result.operationId === undefined ? {} : { operationId: result.operationId }),
      });
    } catch (err) {
      const error = (isCardwrightError(err) ? err : withContext(err, `running ${task.kind} task ${task.id}`)).toJSON();
      const operationId = typeof error.details.operationId === "string" ? error.details.operationId : undefined;
      return this.#end(claim, { status: "failed", error, ...(operationId === undefined ? {} : { operationId }) });
    } finally {
      await device.close().catch(() => undefined);
    }
  }

  async #end(
    claim: AgentTaskClaim,
    end:
      | { status: "completed"; operationId?: string }
      | { status: "failed"; error: SerializedError; operationId?: string },
  ): Promise<AgentTaskOutcome> {
    const head = { taskId: claim.task.id, kind: claim.task.kind };
    if (!(await claim.finish(end))) return { ...head, status: "skipped", reason: "claim-lost" };
    this.#o.logger.log("info", `agent task ${end.status}`, { ...head, agent: this.#o.agentName });
    return end.status === "completed"
      ? { ...head, status: "completed", ...(end.operationId === undefined ? {} : { operationId: end.operationId }) }
      : { ...head, status: "failed", error: end.error };
  }
}
