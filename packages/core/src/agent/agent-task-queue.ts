/**
 * The operator's side of agent tasks: queue an operation (update, cancel update, unblock PIN) for
 * the agent at the workstation where the card is, cancel it while it is still queued, list tasks.
 * The agent's side is {@link AgentTaskRunner}. Queuing needs the `queue-task` permission and the
 * permission for the operation itself; refusals are audited as `operation.refused` and change nothing.
 */

import type { CardRecord } from "../domain/card.js";
import type { LifecycleOperation, Policy } from "../domain/policy.js";
import type { AgentTaskKind, AgentTaskRecord } from "../domain/records.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import { assertPermitted, type LifecycleActor, permissionGrants } from "../lifecycle/lifecycle-permissions.js";
import { refusalOnCard, refusing } from "../lifecycle/operation-refusal.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { AgentTaskQuery, Store } from "../ports/store.js";
import { requireCard } from "../workflows/step-preconditions.js";

/** Kinds of operation an agent runs (the {@link AgentTaskKind} union as a list). */
export const AGENT_TASK_KINDS: readonly AgentTaskKind[] = ["update", "cancel-update", "unblock-pin"];

/** Parameter names that would carry a secret: the store must never hold one in clear. */
const SECRET_PARAM = /pin|puk|password|passphrase|secret|managementkey|adminkey|credential/i;

/** What {@link AgentTaskQueue} needs; the facade passes its own parts. */
export interface AgentTaskQueueDependencies {
  store: Store;
  policies: PolicyEngine;
  auditLog: AuditLog;
  /** Makes task ids. */
  uuid: () => string;
}

/** Options of {@link AgentTaskQueue.queue}. */
export interface QueueAgentTaskOptions {
  cardId: string;
  kind: AgentTaskKind;
  /** The operator queuing it, as the embedding application authenticated them. */
  actor: LifecycleActor;
  /**
   * Parameters the handler of `kind` reads (e.g. a new policy id for an update). Stored as given,
   * so secret-free: a name that looks like a PIN, PUK or key is refused.
   */
  params?: Record<string, unknown>;
  /** Why, in the operator's words; recorded in the audit log. */
  comment?: string;
}

/** Options of {@link AgentTaskQueue.cancel}. */
export interface CancelAgentTaskOptions {
  taskId: string;
  actor: LifecycleActor;
  comment?: string;
}

/** Queues, cancels and lists agent tasks; see the module comment. */
export class AgentTaskQueue {
  readonly #d: AgentTaskQueueDependencies;

  constructor(deps: AgentTaskQueueDependencies) {
    this.#d = deps;
  }

  /**
   * Queue `kind` for the agent at the card's workstation (status `queued`, audited `agent-task.queued`).
   * @throws CardwrightError `AGENT_TASK_UNSUPPORTED` for an unknown kind; `CONFIG_INVALID` for a
   * parameter whose name looks like a secret; `STORE_NOT_FOUND` for an unknown card;
   * `AUTHZ_DENIED` (details.permission) without `queue-task` or the operation's own permission.
   */
  async queue(options: QueueAgentTaskOptions): Promise<AgentTaskRecord> {
    if (!AGENT_TASK_KINDS.includes(options.kind)) {
      throw new CardwrightError(
        "AGENT_TASK_UNSUPPORTED",
        `"${String(options.kind)}" is not an agent task kind; queue one of ${AGENT_TASK_KINDS.join(", ")}`,
        { details: { kind: String(options.kind), cardId: options.cardId } },
      );
    }
    const secretLooking = secretLookingParam(options.params ?? {});
    if (secretLooking !== undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `agent task parameter "${secretLooking}" looks like a secret; tasks are stored in clear, so the agent must get secrets at the moment of use`,
        { details: { param: secretLooking, cardId: options.cardId } },
      );
    }
    const card = await requireCard(this.#d.store, options.cardId);
    await this.#assertAllowed(options.actor, ["queue-task", options.kind], card, options.kind);
    return this.#d.store.transaction(async (tx) => {
      const task = await tx.agentTasks.create({
        id: this.#d.uuid(),
        kind: options.kind,
        cardId: card.id,
        deviceSerial: card.deviceSerial,
        queuedBy: options.actor.id,
        status: "queued",
        ...(options.params === undefined ? {} : { params: options.params }),
      });
      await this.#d.auditLog.append(
        {
          actor: options.actor.id,
          action: "agent-task.queued",
          cardId: card.id,
          ...(card.userId === undefined ? {} : { userId: card.userId }),
          details: {
            taskId: task.id,
            kind: task.kind,
            deviceSerial: task.deviceSerial,
            actorKind: options.actor.kind,
            ...(options.comment === undefined ? {} : { comment: options.comment }),
          },
        },
        tx,
      );
      return task;
    });
  }

  /**
   * Cancel a task no agent has claimed yet (status `cancelled`, audited `agent-task.cancelled`).
   * @throws CardwrightError `STORE_NOT_FOUND` for an unknown task; `WORKFLOW_STATE` (details.status)
   * when it is no longer queued — an agent claimed it, or it ended; `AUTHZ_DENIED` without `queue-task`.
   */
  async cancel(options: CancelAgentTaskOptions): Promise<AgentTaskRecord> {
    const task = await this.#requireQueued(options.taskId);
    const card = await requireCard(this.#d.store, task.cardId);
    await this.#assertAllowed(options.actor, ["queue-task"], card, task.kind);
    try {
      return await this.#d.store.transaction(async (tx) => {
        // Compare-and-set on the version read above: an agent claiming it meanwhile wins.
        const cancelled = await tx.agentTasks.update({ ...task, status: "cancelled" });
        await this.#d.auditLog.append(
          {
            actor: options.actor.id,
            action: "agent-task.cancelled",
            cardId: card.id,
            ...(card.userId === undefined ? {} : { userId: card.userId }),
            details: {
              taskId: task.id,
              kind: task.kind,
              actorKind: options.actor.kind,
              ...(options.comment === undefined ? {} : { comment: options.comment }),
            },
          },
          tx,
        );
        return cancelled;
      });
    } catch (err) {
      if (!isCardwrightError(err, "STORE_CONFLICT")) throw err;
      await this.#requireQueued(options.taskId);
      throw err;
    }
  }

  /** Tasks, oldest first; see {@link AgentTaskQuery}. */
  list(query: AgentTaskQuery = {}): Promise<AgentTaskRecord[]> {
    return this.#d.store.agentTasks.list(query);
  }

  async #requireQueued(taskId: string): Promise<AgentTaskRecord> {
    const task = await this.#d.store.agentTasks.get(taskId);
    if (task === null) {
      throw new CardwrightError("STORE_NOT_FOUND", `agent task ${taskId} does not exist`, {
        details: { recordKind: "agent task", recordId: taskId },
      });
    }
    if (task.status !== "queued") {
      throw new CardwrightError(
        "WORKFLOW_STATE",
        `agent task ${taskId} is ${task.status}${task.claimedBy === undefined ? "" : ` by ${task.claimedBy}`}; only a queued task can be cancelled`,
        { details: { taskId, status: task.status, cardId: task.cardId } },
      );
    }
    return task;
  }

  /** Every permission in `operations`, each refusal audited before it is thrown. */
  async #assertAllowed(
    actor: LifecycleActor,
    operations: readonly LifecycleOperation[],
    card: CardRecord,
    kind: AgentTaskKind,
  ): Promise<void> {
    const policy: Policy | undefined = card.policyId === undefined ? undefined : this.#d.policies.get(card.policyId);
    const refusal = { actor, operation: "queue-task", ...refusalOnCard(card), context: { taskKind: kind } };
    await refusing(this.#d.auditLog, refusal, () => {
      for (const operation of operations) assertPermitted(permissionGrants(policy), actor, operation, card);
    });
  }
}

/** The path of the first parameter, at any depth, whose name looks like a secret's. */
function secretLookingParam(params: unknown, path = ""): string | undefined {
  if (params === null || typeof params !== "object") return undefined;
  for (const [name, value] of Object.entries(params)) {
    const at = path === "" ? name : `${path}.${name}`;
    if (SECRET_PARAM.test(name)) return at;
    const nested = secretLookingParam(value, at);
    if (nested !== undefined) return nested;
  }
  return undefined;
}
