/**
 * PIN operations as an xstate v5 machine: connect the card → apply the PIN change (change with the
 * current PIN, reset by the vault PUK or the admin credential, unblock with the holder's PUK, or
 * rotate the PUK) → replace a PUK that was disclosed → record and release the card.
 *
 * A PIN operation is one command on the card and its secrets live only in the run's memory (never
 * in context or input), so it cannot be resumed: it completes, or it fails and releases the card
 * unchanged (`failed`). A run whose process died is taken over as failed by the next PIN operation
 * on the card. The trailing PUK rotation is best effort: its failure is recorded and the PIN change
 * stands; the disclosed PUK stays marked for the next run.
 */
import { assign, setup } from "xstate";
import type { CardState } from "../domain/card.js";
import type { ActorKind } from "../domain/policy.js";
import type { SerializedError } from "../errors.js";
import { serializeStepError } from "../workflows/issue-machine.js";
import { providedStep } from "../workflows/provided-step.js";

/** Machine id stored with every persisted snapshot. */
export const PIN_MACHINE_ID = "pin";
/** Bumped whenever a persisted snapshot of the previous version could not be restored. */
export const PIN_MACHINE_VERSION = "1";

/** What a PIN operation does to the card. */
export type PinOperationKind = "change-pin" | "reset-pin" | "unblock-pin" | "rotate-puk";

/** How a reset unblocks the PIN: the PUK kept wrapped in the vault, or the admin credential (PKCS#11 SO PIN). */
export type PinResetMethod = "vault-puk" | "admin-credential";

/** What starts a PIN operation. Secret-free: PINs and PUKs reach the steps through the run's memory. */
export interface PinInput {
  operationId: string;
  cardId: string;
  userId?: string;
  actor: string;
  actorKind: ActorKind;
  operation: PinOperationKind;
  deviceSerial: string;
  /** The card's state, unchanged by PIN operations. */
  cardState: CardState;
  /** For `reset-pin`. */
  method?: PinResetMethod;
  /** The new PIN is generated (policy `random`) and delivered through the Notifier. */
  randomPin?: boolean;
  comment?: string;
}

/** The machine's context: JSON, no secrets. */
export interface PinContext extends PinInput {
  /** A disclosed PUK was replaced in this run. */
  pukRotated?: boolean;
  /** Why the trailing PUK rotation failed (the PIN change stands). */
  rotationError?: SerializedError;
  error?: SerializedError;
}

/** Input of the PIN steps. */
export type PinStepInput = PinContext;

function step<TInput, TOutput>(name: string) {
  return providedStep<TInput, TOutput>("pin", name);
}

const toRelease = (name: string) => ({
  target: "release" as const,
  actions: { type: "recordError" as const, params: { step: name } },
});

/** The PIN machine. Provide the step actors with `.provide({ actors })`. */
export const pinMachine = setup({
  types: { context: {} as PinContext, input: {} as PinInput },
  actors: {
    connectCard: step<PinStepInput, void>("connectCard"),
    applyPin: step<PinStepInput, void>("applyPin"),
    rotatePuk: step<PinStepInput, { rotated: boolean }>("rotatePuk"),
    complete: step<PinStepInput, void>("complete"),
    release: step<PinStepInput, void>("release"),
  },
  actions: {
    recordError: assign({
      error: ({ event }, params: { step: string }) =>
        serializeStepError((event as { error?: unknown }).error, params.step),
    }),
  },
}).createMachine({
  id: PIN_MACHINE_ID,
  version: PIN_MACHINE_VERSION,
  context: ({ input }) => ({ ...input }),
  initial: "connectCard",
  states: {
    connectCard: {
      invoke: {
        id: "connectCard",
        src: "connectCard",
        input: ({ context }) => context,
        onDone: "applyPin",
        onError: toRelease("connectCard"),
      },
    },
    applyPin: {
      invoke: {
        id: "applyPin",
        src: "applyPin",
        input: ({ context }) => context,
        onDone: "rotatePuk",
        onError: toRelease("applyPin"),
      },
    },
    rotatePuk: {
      invoke: {
        id: "rotatePuk",
        src: "rotatePuk",
        input: ({ context }) => context,
        onDone: { target: "complete", actions: assign({ pukRotated: ({ event }) => event.output.rotated }) },
        onError: {
          target: "complete",
          actions: assign({
            rotationError: ({ event }) => serializeStepError((event as { error?: unknown }).error, "rotatePuk"),
          }),
        },
      },
    },
    complete: {
      invoke: {
        id: "complete",
        src: "complete",
        input: ({ context }) => context,
        onDone: "done",
        onError: toRelease("complete"),
      },
    },
    release: {
      invoke: {
        id: "release",
        src: "release",
        input: ({ context }) => context,
        onDone: "failed",
        onError: "failed",
      },
    },
    done: { type: "final" },
    failed: { type: "final" },
  },
});

/** Steps in order, for progress reporting. */
export const PIN_STEPS = ["connectCard", "applyPin", "rotatePuk", "complete", "done"] as const;
