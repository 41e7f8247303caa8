/**
 * One agent's claim on one agent task. Claiming, renewing and finishing are each a compare-and-set
 * update on the task's `version`, so of two agents racing for a task exactly one wins, and an agent
 * whose claim expired and was taken over can no longer record anything over its successor. While
 * the task runs the claim is renewed every third of its duration, so a live agent keeps it.
 */
import type { AgentTaskRecord } from "../domain/records.js";
import { isCardwrightError, type SerializedError } from "../errors.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { Clock, Logger } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";

/** Whether `task` may be claimed at `now`: queued, or claimed by an agent whose claim has expired. */
export function isClaimable(task: AgentTaskRecord, now: Date): boolean {
  if (task.status === "queued") return true;
  return (
    task.status === "claimed" && (task.claimExpiresAt === undefined || Date.parse(task.claimExpiresAt) <= now.getTime())
  );
}

/** What a claim needs. */
export interface AgentTaskClaimContext {
  store: Store;
  auditLog: AuditLog;
  clock: Clock;
  logger: Logger;
  agentName: string;
  claimTtlMs: number;
}

/** How a claimed task ended. */
export type AgentTaskEnd =
  | { status: "completed"; operationId?: string }
  | { status: "failed"; error: SerializedError; operationId?: string };

/** A claim held by this agent; see the module comment. */
export class AgentTaskClaim {
  #task: AgentTaskRecord;
  #lost = false;
  #chain: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    private readonly c: AgentTaskClaimContext,
    task: AgentTaskRecord,
    /** The agent whose expired claim this one took over, if any. */
    readonly takenOverFrom: string | undefined,
  ) {
    this.#task = task;
  }

  /**
   * Claims `task` as read (its `version`), audited `agent-task.claimed`. Returns `null` when the task
   * is not claimable or another agent changed it since it was read — it claimed it first.
   * @throws store errors other than `STORE_CONFLICT`.
   */
  static async take(c: AgentTaskClaimContext, task: AgentTaskRecord): Promise<AgentTaskClaim | null> {
    if (!isClaimable(task, c.clock.now())) return null;
    const takenOverFrom = task.status === "claimed" ? task.claimedBy : undefined;
    try {
      const claimed = await c.store.transaction(async (tx) => {
        const next = await tx.agentTasks.update({
          ...task,
          status: "claimed",
          claimedBy: c.agentName,
          claimExpiresAt: expiry(c),
        });
        await c.auditLog.append(
          {
            actor: c.agentName,
            action: "agent-task.claimed",
            cardId: task.cardId,
            details: {
              taskId: task.id,
              kind: task.kind,
              deviceSerial: task.deviceSerial,
              actorKind: "agent",
              ...(takenOverFrom === undefined ? {} : { takenOverFrom }),
            },
          },
          tx,
        );
        return next;
      });
      return new AgentTaskClaim(c, claimed, takenOverFrom);
    } catch (err) {
      if (isCardwrightError(err, "STORE_CONFLICT")) return null;
      throw err;
    }
  }

  /** The task as last written by this claim. */
  get task(): AgentTaskRecord {
    return this.#task;
  }

  /** Whether another agent took the task over (this claim can no longer write it). */
  get lost(): boolean {
    return this.#lost;
  }

  /** Renews the claim in the background until {@link finish} or {@link release}. */
  keepAlive(): void {
    this.#timer = setInterval(
      () => {
        this.#renew().catch((err: unknown) =>
          this.c.logger.log("warn", "renewing agent task claim failed", {
            taskId: this.#task.id,
            code: isCardwrightError(err) ? err.code : "unknown",
          }),
        );
      },
      Math.max(1, Math.floor(this.c.claimTtlMs / 3)),
    );
    // Renewal must never keep a process alive on its own.
    this.#timer.unref?.();
  }

  /**
   * Records how the task ended, audited `agent-task.completed` / `agent-task.failed`. Returns
   * `false`, writing nothing, when the claim was lost to another agent meanwhile.
   */
  finish(end: AgentTaskEnd): Promise<boolean> {
    this.#stop();
    return this.#serial(async () => {
      const { claimExpiresAt: _expired, ...task } = this.#task;
      const ended: AgentTaskRecord = {
        ...task,
        status: end.status,
        ...(end.operationId === undefined ? {} : { operationId: end.operationId }),
        ...(end.status === "failed" ? { error: end.error } : {}),
      };
      return this.#write(ended, {
        action: `agent-task.${end.status}`,
        details: {
          ...(end.operationId === undefined ? {} : { operationId: end.operationId }),
          ...(end.status === "failed" ? { code: end.error.code, message: end.error.message } : {}),
        },
      });
    });
  }

  /**
   * Gives the task back to the queue unrun (the card went away before it started), audited
   * `agent-task.released`. Returns `false` when the claim was already lost.
   */
  release(reason: string): Promise<boolean> {
    this.#stop();
    return this.#serial(async () => {
      const { claimedBy: _by, claimExpiresAt: _at, ...task } = this.#task;
      return this.#write({ ...task, status: "queued" }, { action: "agent-task.released", details: { reason } });
    });
  }

  #renew(): Promise<void> {
    return this.#serial(async () => {
      if (this.#lost) return;
      try {
        this.#task = await this.c.store.agentTasks.update({ ...this.#task, claimExpiresAt: expiry(this.c) });
      } catch (err) {
        if (!isCardwrightError(err, "STORE_CONFLICT")) throw err;
        this.#markLost();
      }
    });
  }

  async #write(next: AgentTaskRecord, event: { action: string; details: Record<string, unknown> }): Promise<boolean> {
    if (this.#lost) return false;
    try {
      this.#task = await this.c.store.transaction(async (tx) => {
        const written = await tx.agentTasks.update(next);
        await this.c.auditLog.append(
          {
            actor: this.c.agentName,
            action: event.action,
            cardId: next.cardId,
            ...(next.operationId === undefined ? {} : { operationId: next.operationId }),
            details: { taskId: next.id, kind: next.kind, actorKind: "agent", ...event.details },
          },
          tx,
        );
        return written;
      });
      return true;
    } catch (err) {
      if (!isCardwrightError(err, "STORE_CONFLICT")) throw err;
      this.#markLost();
      return false;
    }
  }

  #markLost(): void {
    this.#lost = true;
    this.#stop();
    this.c.logger.log("warn", "agent task claim was taken over by another agent", {
      taskId: this.#task.id,
      agent: this.c.agentName,
    });
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Claim writes queue behind each other so each presents the version the previous one wrote. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

function expiry(c: AgentTaskClaimContext): string {
  return new Date(c.clock.now().getTime() + c.claimTtlMs).toISOString();
}
