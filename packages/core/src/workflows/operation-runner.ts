/**
 * Runs a workflow machine until it rests — a final state, or a state waiting for an outside
 * event — saving `actor.getPersistedSnapshot()` to the operation record at every state change,
 * so another process can resume it from the store alone.
 */
import { type AnyStateMachine, createActor, type Snapshot } from "xstate";
import type { OperationRecord } from "../domain/card.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import type { Store } from "../ports/store.js";

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
  let record = options.operation;
  let chain: Promise<void> = Promise.resolve();
  let persistError: unknown;
  let last: string | undefined;

  const actor = createActor(
    machine,
    options.snapshot === undefined ? { input: options.input } : { snapshot: options.snapshot as Snapshot<unknown> },
  );

  return new Promise<RunOutcome>((resolve, reject) => {
    let settled = false;
    const settle = (state: string, context: unknown) => {
      if (settled) return;
      settled = true;
      chain.then(() => {
        actor.stop();
        if (persistError !== undefined) reject(persistError);
        else resolve({ state, context, operation: record });
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
          options.onProgress({ operationId: record.id, step: state, ...options.progressOf(state, snapshot.context) });
        } catch {
          // An observer's failure must not break the operation.
        }
      }
      const persisted = actor.getPersistedSnapshot();
      const status = statusOf(state, done);
      chain = chain.then(async () => {
        if (persistError !== undefined) return;
        try {
          await options.fence?.();
          record = await store.operations.update({
            ...record,
            snapshot: JSON.parse(JSON.stringify(persisted)),
            status,
          });
        } catch (err) {
          persistError = err;
          if (isCardwrightError(err, "LEASE_LOST") && !settled) {
            // Not ours any more: take no further step; the new holder resumes from the store.
            settled = true;
            actor.stop();
            reject(err);
          }
        }
      });
      if (done || restStates.includes(state)) settle(state, snapshot.context);
    };

    actor.subscribe({
      next: observe,
      error: (err) => {
        if (settled) return;
        settled = true;
        chain.then(() =>
          reject(
            err instanceof CardwrightError
              ? err
              : new CardwrightError("WORKFLOW_FAILED", `workflow ${record.machineId} stopped: ${String(err)}`, {
                  details: { operationId: record.id },
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
