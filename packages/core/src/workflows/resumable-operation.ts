/**
 * Resuming a persisted operation: before a run continues from its stored snapshot, the record must
 * exist, have been saved by a machine this caller runs, at the version this SDK runs (a snapshot
 * of another version could name states or context this machine does not have), and not be
 * finished.
 */

import type { OperationRecord } from "../domain/card.js";
import { CardwrightError } from "../errors.js";
import type { Store } from "../ports/store.js";
import { requireOperation } from "./step-preconditions.js";

/** Which operations a caller continues. */
export interface ResumableMachines {
  /** The version this SDK runs of each machine id the caller continues. */
  versions: Readonly<Record<string, string>>;
  /**
   * The end of the message for an operation of another machine, after
   * "operation <id> is a <machine> operation" (e.g. ", not a replacement").
   */
  otherMachine: string;
}

/**
 * The operation `operationId`, checked to be saved by one of `machines` at the version this SDK runs.
 * @throws CardwrightError `STORE_NOT_FOUND` when there is no such operation; `WORKFLOW_STATE`
 * (`details.machineId`) when another machine saved it; `WORKFLOW_VERSION` (`details.savedVersion`,
 * `details.machineVersion`) when another version of the machine did.
 */
export async function requireSavedOperation(
  store: Store,
  operationId: string,
  machines: ResumableMachines,
): Promise<OperationRecord> {
  const operation = await requireOperation(store, operationId);
  const version = Object.hasOwn(machines.versions, operation.machineId)
    ? machines.versions[operation.machineId]
    : undefined;
  if (version === undefined) {
    throw new CardwrightError(
      "WORKFLOW_STATE",
      `operation ${operationId} is a ${operation.machineId} operation${machines.otherMachine}`,
      { details: { operationId, machineId: operation.machineId } },
    );
  }
  if (operation.machineVersion !== version) {
    throw new CardwrightError(
      "WORKFLOW_VERSION",
      `operation ${operationId} was saved by ${operation.machineId} machine version ${operation.machineVersion}; this SDK runs version ${version}`,
      { details: { operationId, savedVersion: operation.machineVersion, machineVersion: version } },
    );
  }
  return operation;
}

/** The error for an operation with nothing left to run (finished, or never started). */
export function nothingToResume(operation: OperationRecord): CardwrightError {
  return new CardwrightError(
    "WORKFLOW_STATE",
    `operation ${operation.id} is ${operation.status}; there is nothing to resume`,
    { details: { operationId: operation.id, status: operation.status } },
  );
}

/**
 * Check that `operation` has not finished.
 * @throws CardwrightError `WORKFLOW_STATE` (`details.status`) when it is completed or failed.
 */
export function assertUnfinished(operation: OperationRecord): void {
  if (operation.status === "completed" || operation.status === "failed") throw nothingToResume(operation);
}

/**
 * The operation `operationId`, checked to be saved by one of `machines` at this SDK's version and
 * not finished — what a `continueOperation` runs from.
 * @throws as {@link requireSavedOperation} and {@link assertUnfinished}.
 */
export async function requireResumableOperation(
  store: Store,
  operationId: string,
  machines: ResumableMachines,
): Promise<OperationRecord> {
  const operation = await requireSavedOperation(store, operationId, machines);
  assertUnfinished(operation);
  return operation;
}
