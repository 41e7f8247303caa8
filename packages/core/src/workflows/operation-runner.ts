/**
 * Runs a workflow machine until it rests — a final state, or a state waiting for an outside
 * event — saving `actor.getPersistedSnapshot()` to the operation record at every state change
 * (or, when the store falls behind, the newest one), so another process can resume it from the
 * store alone.
 */
import { type AnyStateMachine, createActor, type Snapshot } from "xstate";
import type { OperationRecord } from "../domain/card.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import type { Store } from "../ports/store.js";
import { OperationRecordHandle } from "./operation-record-handle.js";

/** Progress of an operation, for UIs and CLIs. */
export interface ProgressEvent {
  operationId: string;
  /** State (step) the workflow just entered. */
  step: string;
  /** 1-based position: of the template for per-certificate steps, of the step otherwise. */
  index: number;
  total: number;
  /** Template being worked on, for per-certificate steps. */
  templateId?: string;
}

/** How a run ended. */
export interface RunOutcome {
  /** Name of the state the machine rests in. */
  state: string;
  /** Final or resting snapshot's context. */
  context: unknown;
  operation: OperationRecord;
}

/** Options for {@link runOperation}. */
export interface RunOptions {
  machine: AnyStateMachine;
  store: Store;
  /** The operation record as last read (its version is used for the next update). */
  operation: OperationRecord;
  /** Start fresh with this input... */
  input?: unknown;
  /** ...or restore this persisted snapshot. */
  snapshot?: unknown;
  /** Event to send once started (e.g. `RESUME` for a resting snapshot). */
  event?: { type: string };
  /** States (top-level names) in which the machine waits for an outside event. */
  restStates: readonly string[];
  /** Record status per resting/final state name; others are `running`. */
  statusOf: (state: string, done: boolean) => OperationRecord["status"];
  progressOf?: (state: string, context: unknown) => Omit<ProgressEvent, "operationId" | "step">;
  onProgress?: (event: ProgressEvent) => void;
  /**
   * The record's handle, when a step also saves the record (the final status with the change
   * that releases the card); `operation` otherwise.
   */
  handle?: OperationRecordHandle;
  /**
   * Runs before each snapshot is persisted (the card lease's renewal). When it throws
   * `LEASE_LOST` the run stops at once: another process owns the operation now.
   */
  fence?: () => Promise<void>;
}

function stateName(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * Run until the machine rests; every state change is persisted in order.
 * @throws CardwrightError when persisting fails (`STORE_CONFLICT` if another process is running
 * the same operation; `LEASE_LOST` from `fence`) or the machine itself errors (`WORKFLOW_FAILED`).
 */
export function runOperation(options: RunOptions): Promise<RunOutcome> {
  const { machine, store, restStates, statusOf } = options;
  const handle = options.handle ?? new OperationRecordHandle(options.operation);
  let persistError: unknown;
  let last: string | undefined;
  /** The newest state not yet handed to the store. */
  let newest: { snapshot: unknown; status: OperationRecord["status"] } | undefined;

  const actor = createActor(
    machine,
    options.snapshot === undefined ? { input: options.input } : { snapshot: options.snapshot as Snapshot<unknown> },
  );

  return new Promise<RunOutcome>((resolve, reject) => {
    let settled = false;
    const settle = (state: string, context: unknown) => {
      if (settled) return;
      settled = true;
      handle.settled().then(() => {
        actor.stop();
        if (persistError !== undefined) reject(persistError);
        else resolve({ state, context, operation: handle.record });
      });
    };

    // With an event to send, the restored snapshot is a resting one: wait for the event's effect.
    let awaitingEvent = options.event !== undefined;
    const observe = (snapshot: { value: unknown; status: string; context: unknown }) => {
      if (awaitingEvent) return;
      const state = stateName(snapshot.value);
      if (state === last) return;
      last = state;
      const done = snapshot.status === "done";
      if (options.onProgress !== undefined && options.progressOf !== undefined) {
        try {
          options.onProgress({
            operationId: handle.record.id,
            step: state,
            ...options.progressOf(state, snapshot.context),
          });
        } catch {
          // An observer's failure must not break the operation.
        }
      }
      newest = { snapshot: actor.getPersistedSnapshot(), status: statusOf(state, done) };
      handle.queue(async (current) => {
        // A save still queued when a later state arrives writes that later state instead: the
        // record only ever moves forward, one write fewer for each state a slow store fell behind.
        const save = newest;
        newest = undefined;
        if (persistError !== undefined || save === undefined) return undefined;
        try {
          await options.fence?.();
          return await store.operations.update({
            ...current,
            // The store keeps JSON (the stores copy through it); xstate never mutates a snapshot.
            snapshot: save.snapshot,
            status: save.status,
          });
        } catch (err) {
          persistError = err;
          if (isCardwrightError(err, "LEASE_LOST") && !settled) {
            // Not ours any more: take no further step; the new holder resumes from the store.
            settled = true;
            actor.stop();
            reject(err);
          }
          return undefined;
        }
      });
      if (done || restStates.includes(state)) settle(state, snapshot.context);
    };

    actor.subscribe({
      next: observe,
      error: (err) => {
        if (settled) return;
        settled = true;
        handle.settled().then(() =>
          reject(
            err instanceof CardwrightError
              ? err
              : new CardwrightError("WORKFLOW_FAILED", `workflow ${handle.record.machineId} stopped: ${String(err)}`, {
                  details: { operationId: handle.record.id },
                  cause: err,
                }),
          ),
        );
      },
    });
    actor.start();
    if (options.event !== undefined) {
      awaitingEvent = false;
      actor.send(options.event);
    } else observe(actor.getSnapshot());
  });
}
