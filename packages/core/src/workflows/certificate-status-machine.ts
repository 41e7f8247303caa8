/**
 * Suspend, resume and revoke as one xstate v5 machine: each changes the status of a card's
 * certificates at their CA — hold (RFC 5280 §5.3.1 certificateHold), release of the hold, or
 * revocation with an RFC 5280 §5.3.1 reason — one certificate at a time, then moves the card to
 * its new state. Plan → (change one certificate at its CA → record it → next)* → complete. The CA
 * call and the record are separate steps, so the snapshot persisted between them says the CA has
 * acted, and a resumed run records the certificate without asking the CA again.
 *
 * Every side effect is a named `fromPromise` actor; the facade provides the implementations
 * (`lifecycle-steps.ts`). Context is secret-free JSON and is persisted after every step, so
 * which certificates were changed is always on record.
 *
 * Failure rule: a failure before any certificate changed releases the card untouched (`failed`);
 * a failure after one did stops in `interrupted` (operation `pending`), which `RESUME` continues
 * with the certificates not yet done — a certificate recorded as done is never sent to the CA
 * again.
 */
import { assign, setup } from "xstate";
import type { CardState } from "../domain/card.js";
import type { ActorKind } from "../domain/policy.js";
import { CardwrightError, type SerializedError } from "../errors.js";
import type { RevocationReason } from "../ports/certificate-authority.js";
import type { SlotId } from "../ports/device.js";
import { serializeStepError } from "./issue-machine.js";
import { providedStep } from "./provided-step.js";

/** Machine id stored with every persisted snapshot. */
export const CERTIFICATE_STATUS_MACHINE_ID = "certificate-status";
/** Bumped whenever a persisted snapshot of the previous version could not be restored. */
export const CERTIFICATE_STATUS_MACHINE_VERSION = "1";

/** What the operation does to each certificate at its CA. */
export type CertificateStatusChange = "suspend" | "resume" | "revoke";

/** What starts a suspend, resume or revoke. Secret-free. */
export interface CertificateStatusInput {
  operationId: string;
  cardId: string;
  userId?: string;
  /** Who started it, and as what. */
  actor: string;
  actorKind: ActorKind;
  change: CertificateStatusChange;
  /** RFC 5280 §5.3.1 reason, for `revoke`. */
  reason?: RevocationReason;
  /** Free text recorded in the audit log (the "why" an operator gives). */
  comment?: string;
  /** Card state at the start, and the state the card ends in. */
  fromState: CardState;
  toState: CardState;
}

/** One certificate the operation changes. */
export interface CertificateTarget {
  /** Id of the certificate record. */
  certificateId: string;
  caId: string;
  serialHex: string;
  slot: SlotId;
  templateId?: string;
  /** The CA has acted on it (hold, release or revocation). */
  atCa?: boolean;
  /** Changed at the CA and recorded. */
  done: boolean;
}

/** The machine's context: JSON, no secrets. */
export interface CertificateStatusContext extends CertificateStatusInput {
  planned: boolean;
  targets: CertificateTarget[];
  error?: SerializedError;
}

/** Input of the per-certificate step. */
export interface CertificateTargetInput extends CertificateStatusInput {
  target: CertificateTarget;
}

/** Input of the steps that work on the whole plan. */
export interface CertificateTargetsInput extends CertificateStatusInput {
  targets: CertificateTarget[];
  error?: SerializedError;
}

/** Events from outside: `RESUME` continues an interrupted operation. */
export type CertificateStatusEvent = { type: "RESUME" };

function step<TInput, TOutput>(name: string) {
  return providedStep<TInput, TOutput>("certificate-status", name);
}

function baseInput(c: CertificateStatusContext): CertificateStatusInput {
  return {
    operationId: c.operationId,
    cardId: c.cardId,
    ...(c.userId === undefined ? {} : { userId: c.userId }),
    actor: c.actor,
    actorKind: c.actorKind,
    change: c.change,
    ...(c.reason === undefined ? {} : { reason: c.reason }),
    ...(c.comment === undefined ? {} : { comment: c.comment }),
    fromState: c.fromState,
    toState: c.toState,
  };
}

function nextTarget(c: CertificateStatusContext): CertificateTarget {
  const t = c.targets.find((x) => !x.done);
  if (t === undefined) throw new CardwrightError("WORKFLOW_STATE", "no certificate left to change");
  return t;
}

function markCurrent(c: CertificateStatusContext, patch: Partial<CertificateTarget>): CertificateTarget[] {
  const id = nextTarget(c).certificateId;
  return c.targets.map((t) => (t.certificateId === id ? { ...t, ...patch } : t));
}

function targetsInput(c: CertificateStatusContext): CertificateTargetsInput {
  return { ...baseInput(c), targets: c.targets, ...(c.error === undefined ? {} : { error: c.error }) };
}

/** The suspend/resume/revoke machine. Provide the step actors with `.provide({ actors })`. */
export const certificateStatusMachine = setup({
  types: {
    context: {} as CertificateStatusContext,
    input: {} as CertificateStatusInput,
    events: {} as CertificateStatusEvent,
  },
  actors: {
    plan: step<CertificateStatusInput, { targets: CertificateTarget[] }>("plan"),
    changeCertificate: step<CertificateTargetInput, void>("changeCertificate"),
    recordCertificate: step<CertificateTargetInput, void>("recordCertificate"),
    complete: step<CertificateTargetsInput, void>("complete"),
    release: step<CertificateTargetsInput, void>("release"),
  },
  guards: {
    planned: ({ context }) => context.planned,
    moreTargets: ({ context }) => context.targets.some((t) => !t.done),
    nothingChanged: ({ context }) => context.targets.every((t) => !t.done && t.atCa !== true),
    currentAtCa: ({ context }) => context.targets.find((t) => !t.done)?.atCa === true,
  },
  actions: {
    recordError: assign({
      error: ({ event }, params: { step: string }) =>
        serializeStepError((event as { error?: unknown }).error, params.step),
    }),
  },
}).createMachine({
  id: CERTIFICATE_STATUS_MACHINE_ID,
  version: CERTIFICATE_STATUS_MACHINE_VERSION,
  context: ({ input }) => ({ ...input, planned: false, targets: [] }),
  initial: "plan",
  states: {
    plan: {
      invoke: {
        id: "plan",
        src: "plan",
        input: ({ context }) => baseInput(context),
        onDone: {
          target: "next",
          actions: assign({ planned: true, targets: ({ event }) => event.output.targets }),
        },
        onError: { target: "release", actions: { type: "recordError", params: { step: "plan" } } },
      },
    },
    next: {
      always: [
        { guard: "currentAtCa", target: "recordCertificate" },
        { guard: "moreTargets", target: "changeCertificate" },
        { target: "complete" },
      ],
    },
    changeCertificate: {
      invoke: {
        id: "changeCertificate",
        src: "changeCertificate",
        input: ({ context }) => ({ ...baseInput(context), target: nextTarget(context) }),
        onDone: {
          target: "recordCertificate",
          actions: assign({ targets: ({ context }) => markCurrent(context, { atCa: true }), error: undefined }),
        },
        onError: [
          // Nothing changed anywhere: roll back cleanly by releasing the card.
          {
            guard: "nothingChanged",
            target: "release",
            actions: { type: "recordError", params: { step: "changeCertificate" } },
          },
          { target: "interrupted", actions: { type: "recordError", params: { step: "changeCertificate" } } },
        ],
      },
    },
    recordCertificate: {
      invoke: {
        id: "recordCertificate",
        src: "recordCertificate",
        input: ({ context }) => ({ ...baseInput(context), target: nextTarget(context) }),
        onDone: {
          target: "next",
          actions: assign({ targets: ({ context }) => markCurrent(context, { done: true }), error: undefined }),
        },
        onError: { target: "interrupted", actions: { type: "recordError", params: { step: "recordCertificate" } } },
      },
    },
    complete: {
      invoke: {
        id: "complete",
        src: "complete",
        input: ({ context }) => targetsInput(context),
        onDone: { target: "done", actions: assign({ error: undefined }) },
        onError: { target: "interrupted", actions: { type: "recordError", params: { step: "complete" } } },
      },
    },
    /** Some certificates changed, the rest not yet: persisted, left by `RESUME`. */
    interrupted: {
      on: { RESUME: "resumeFrom" },
    },
    resumeFrom: {
      always: [{ guard: "planned", target: "next" }, { target: "plan" }],
    },
    release: {
      invoke: {
        id: "release",
        src: "release",
        input: ({ context }) => targetsInput(context),
        onDone: "failed",
        onError: "interrupted",
      },
    },
    done: { type: "final" },
    failed: { type: "final" },
  },
});

/** States in which the operation rests until `RESUME`. */
export const CERTIFICATE_STATUS_REST_STATES = ["interrupted"] as const;

/** Steps in order, for progress reporting. */
export const CERTIFICATE_STATUS_STEPS = ["plan", "changeCertificate", "recordCertificate", "complete", "done"] as const;
