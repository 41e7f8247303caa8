/**
 * Retire (clear) a card as an xstate v5 machine: connect the card → authenticate as its
 * administrator → wipe it (factory reset where the device can, else delete every certificate the
 * record lists) → check it is wiped → record the card `retired` (the record is kept for the audit
 * trail). The card must be in the reader.
 *
 * Failure rule: a failure before the wipe started releases the card untouched (`failed`); from
 * the wipe on, the operation stops in `interrupted` (operation `pending`) and `RESUME` — with the
 * card in the reader again — runs the remaining steps (a wipe is safe to repeat).
 */
import { assign, setup } from "xstate";
import type { CardState } from "../domain/card.js";
import type { ActorKind } from "../domain/policy.js";
import type { SerializedError } from "../errors.js";
import { serializeStepError } from "./issue-machine.js";
import { providedStep } from "./provided-step.js";

/** Machine id stored with every persisted snapshot. */
export const RETIRE_MACHINE_ID = "retire";
/** Bumped whenever a persisted snapshot of the previous version could not be restored. */
export const RETIRE_MACHINE_VERSION = "1";

/** How the device was wiped. */
export type WipeMethod = "reset" | "delete";

/** What starts a retire. Secret-free. */
export interface RetireInput {
  operationId: string;
  cardId: string;
  userId?: string;
  actor: string;
  actorKind: ActorKind;
  deviceSerial: string;
  comment?: string;
  fromState: CardState;
  toState: CardState;
}

/** The machine's context: JSON, no secrets. */
export interface RetireContext extends RetireInput {
  /** The wipe started: from here on a failure is resumed, never released. */
  wipeStarted: boolean;
  method?: WipeMethod;
  error?: SerializedError;
}

/** Input of the retire steps. */
export interface RetireStepInput extends RetireInput {
  method?: WipeMethod;
  error?: SerializedError;
}

/** Events from outside: `RESUME` continues an interrupted retire. */
export type RetireEvent = { type: "RESUME" };

function step<TInput, TOutput>(name: string) {
  return providedStep<TInput, TOutput>("retire", name);
}

function stepInput(c: RetireContext): RetireStepInput {
  const { wipeStarted: _w, ...rest } = c;
  return rest;
}

/** Failure of a step: before the wipe, release the card; from the wipe on, wait for `RESUME`. */
function onStepError(name: string) {
  return [
    { guard: "wipeStarted", target: "interrupted", actions: { type: "recordError", params: { step: name } } },
    { target: "release", actions: { type: "recordError", params: { step: name } } },
  ] as const;
}

/** The retire machine. Provide the step actors with `.provide({ actors })`. */
export const retireMachine = setup({
  types: {
    context: {} as RetireContext,
    input: {} as RetireInput,
    events: {} as RetireEvent,
  },
  actors: {
    connectCard: step<RetireStepInput, void>("connectCard"),
    authenticateAdmin: step<RetireStepInput, void>("authenticateAdmin"),
    wipe: step<RetireStepInput, { method: WipeMethod }>("wipe"),
    verifyWiped: step<RetireStepInput, void>("verifyWiped"),
    complete: step<RetireStepInput, void>("complete"),
    release: step<RetireStepInput, void>("release"),
  },
  guards: {
    wipeStarted: ({ context }) => context.wipeStarted,
  },
  actions: {
    recordError: assign({
      error: ({ event }, params: { step: string }) =>
        serializeStepError((event as { error?: unknown }).error, params.step),
    }),
  },
}).createMachine({
  id: RETIRE_MACHINE_ID,
  version: RETIRE_MACHINE_VERSION,
  context: ({ input }) => ({ ...input, wipeStarted: false }),
  initial: "connectCard",
  states: {
    connectCard: {
      invoke: {
        id: "connectCard",
        src: "connectCard",
        input: ({ context }) => stepInput(context),
        onDone: "authenticateAdmin",
        onError: onStepError("connectCard"),
      },
    },
    authenticateAdmin: {
      invoke: {
        id: "authenticateAdmin",
        src: "authenticateAdmin",
        input: ({ context }) => stepInput(context),
        onDone: "startWipe",
        onError: onStepError("authenticateAdmin"),
      },
    },
    /** Persisted before the device is touched, so a crash mid-wipe resumes rather than releases. */
    startWipe: {
      entry: assign({ wipeStarted: true }),
      always: "wipe",
    },
    wipe: {
      invoke: {
        id: "wipe",
        src: "wipe",
        input: ({ context }) => stepInput(context),
        onDone: { target: "verifyWiped", actions: assign({ method: ({ event }) => event.output.method }) },
        onError: onStepError("wipe"),
      },
    },
    verifyWiped: {
      invoke: {
        id: "verifyWiped",
        src: "verifyWiped",
        input: ({ context }) => stepInput(context),
        onDone: "complete",
        onError: onStepError("verifyWiped"),
      },
    },
    complete: {
      invoke: {
        id: "complete",
        src: "complete",
        input: ({ context }) => stepInput(context),
        onDone: { target: "done", actions: assign({ error: undefined }) },
        onError: onStepError("complete"),
      },
    },
    /** The wipe started but did not finish: persisted, left by `RESUME` (card in the reader). */
    interrupted: {
      on: { RESUME: { target: "connectCard", actions: assign({ error: undefined }) } },
    },
    release: {
      invoke: {
        id: "release",
        src: "release",
        input: ({ context }) => stepInput(context),
        onDone: "failed",
        onError: "interrupted",
      },
    },
    done: { type: "final" },
    failed: { type: "final" },
  },
});

/** States in which a retire rests until `RESUME`. */
export const RETIRE_REST_STATES = ["interrupted"] as const;

/** Steps in order, for progress reporting. */
export const RETIRE_STEPS = ["connectCard", "authenticateAdmin", "wipe", "verifyWiped", "complete", "done"] as const;
