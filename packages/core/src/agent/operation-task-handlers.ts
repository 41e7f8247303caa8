/**
 * The agent task handlers that run queued tasks through the SDK's own operations: an update
 * queued by an operator runs `updateCard` at the workstation (continuing the update a crashed
 * agent left behind), a cancel runs `cancelUpdate`, an unblock runs `resetPin` with the PUK the
 * vault keeps. What only the person at the workstation knows — the card's PIN, which signs the
 * update's requests, and a new PIN the policy does not generate — comes from prompts the embedding
 * agent supplies; it never travels through the task queue.
 */
import type { AgentTaskRecord } from "../domain/records.js";
import { CardwrightError } from "../errors.js";
import type { LifecycleActor } from "../lifecycle/lifecycle-permissions.js";
import type { PinResult, ResetPinOptions } from "../pin/pin-operations.js";
import type { Device } from "../ports/device.js";
import type {
  CancelUpdateOptions,
  ContinueUpdateOptions,
  UpdateCardOptions,
  UpdateResult,
} from "../update/card-updates.js";
import type { AgentTaskHandlers } from "./agent-task-runner.js";

/** The SDK operations the handlers run (the `Cardwright` facade has them all). */
export interface AgentTaskOperations {
  getCard(id: string): Promise<{ pendingOperationId?: string } | null>;
  updateCard(options: UpdateCardOptions): Promise<UpdateResult>;
  continueUpdate(operationId: string, options: ContinueUpdateOptions): Promise<UpdateResult>;
  cancelUpdate(options: CancelUpdateOptions): Promise<UpdateResult>;
  resetPin(options: ResetPinOptions): Promise<PinResult>;
}

/** What the agent asks of, and shows to, the person at the workstation. Secrets stay local. */
export interface AgentWorkstationPrompts {
  /** The card's current PIN, for an update (the card signs the new certificate requests). */
  pin(task: AgentTaskRecord): Promise<string>;
  /** A new PIN for an unblock, when the card's policy does not generate one. */
  newPin?(task: AgentTaskRecord): Promise<string>;
  /** Show a PIN the policy generated on unblock; it is shown nowhere else. */
  showPin?(task: AgentTaskRecord, pin: string): Promise<void>;
}

/** Task parameters an update accepts (secret-free, set by the operator who queued it). */
interface UpdateParams {
  policyId?: string;
  optionalTemplates?: string[];
  renewal?: "same-key" | "rekey";
}

function updateParams(task: AgentTaskRecord): UpdateParams {
  const p = task.params ?? {};
  const bad = (field: string, expected: string) =>
    new CardwrightError(
      "CONFIG_INVALID",
      `update task ${task.id}: parameter ${field} must be ${expected}; queue the task again with a valid one`,
      { details: { taskId: task.id, field } },
    );
  if (p.policyId !== undefined && typeof p.policyId !== "string") throw bad("policyId", "a policy id");
  if (
    p.optionalTemplates !== undefined &&
    !(Array.isArray(p.optionalTemplates) && p.optionalTemplates.every((t) => typeof t === "string"))
  ) {
    throw bad("optionalTemplates", "a list of template ids");
  }
  if (p.renewal !== undefined && p.renewal !== "same-key" && p.renewal !== "rekey") {
    throw bad("renewal", '"same-key" or "rekey"');
  }
  return p as UpdateParams;
}

/**
 * Handlers for every agent task kind over `operations`, asking the workstation's user through
 * `prompts`. A task taken over from a crashed agent continues that agent's update instead of
 * starting another.
 */
export function operationTaskHandlers(
  operations: AgentTaskOperations,
  prompts: AgentWorkstationPrompts,
): AgentTaskHandlers {
  return {
    update: async (task, device: Device, { actor, takenOverFrom }) => {
      const params = updateParams(task);
      const pin = await prompts.pin(task);
      const pending =
        takenOverFrom === undefined ? undefined : (await operations.getCard(task.cardId))?.pendingOperationId;
      const result =
        pending === undefined
          ? await operations.updateCard({
              cardId: task.cardId,
              device,
              actor,
              pin,
              ...(params.policyId === undefined ? {} : { policyId: params.policyId }),
              ...(params.optionalTemplates === undefined ? {} : { optionalTemplates: params.optionalTemplates }),
              ...(params.renewal === undefined ? {} : { renewal: params.renewal }),
              comment: `agent task ${task.id}`,
            })
          : await operations.continueUpdate(pending, { actor, device, pin });
      return { operationId: result.operationId };
    },
    "cancel-update": async (task, device, { actor }) => {
      const result = await operations.cancelUpdate({
        cardId: task.cardId,
        actor,
        device,
        comment: `agent task ${task.id}`,
      });
      return { operationId: result.operationId };
    },
    "unblock-pin": async (task, device, { actor }: { actor: LifecycleActor }) => {
      const newPin = prompts.newPin === undefined ? undefined : await prompts.newPin(task);
      const result = await operations.resetPin({
        cardId: task.cardId,
        device,
        actor,
        ...(newPin === undefined ? {} : { newPin }),
        comment: `agent task ${task.id}`,
      });
      if (result.pin !== undefined) await prompts.showPin?.(task, result.pin);
      return { operationId: result.operationId };
    },
  };
}
