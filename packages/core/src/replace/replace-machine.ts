/**
 * Replace a lost, stolen, damaged or forgotten card as an xstate v5 machine, in three phases whose
 * completion is kept in the persisted context so that a resumed run never does one twice:
 *
 * 1. **old card**: each of its certificates is revoked (RFC 5280 §5.3.1 reason from the policy's
 *    rule) or held (certificateHold) at its CA and recorded, one at a time — the CA call and the
 *    record are separate steps, as in the suspend/resume/revoke machine — then the card moves to
 *    the rule's state (`lost`, `damaged`, `revoked` or `suspended`): `oldCardHandled`;
 * 2. **new card**: issued to the same user through the issue workflow (a temporary card: a subset
 *    of the templates, short validity); a CA that holds a request leaves the replacement `pending`
 *    until `RESUME`: `newCardIssued`;
 * 3. **key recovery**: each archived encryption key of the old card is imported into the same slot
 *    of the new card with its certificate, and recorded there; then `complete` links the two cards.
 *
 * Failure rule: a failure before any certificate changed releases the old card untouched
 * (`failed`); any later failure stops in `interrupted` (operation `pending`), and `RESUME` — with
 * the new card in a reader — continues from the first phase not done.
 */
import { assign, setup } from "xstate";
import type { CardState } from "../domain/card.js";
import type { ActorKind, ReplacementReason } from "../domain/policy.js";
import { CardwrightError, type SerializedError } from "../errors.js";
import type { RevocationReason } from "../ports/certificate-authority.js";
import type { KeyAlgorithm, SlotId } from "../ports/device.js";
import type { CertificateStatusChange } from "../workflows/certificate-status-machine.js";
import type { IssueTemplateSelection } from "../workflows/issue-machine.js";
import { serializeStepError } from "../workflows/issue-machine.js";
import { providedStep } from "../workflows/provided-step.js";
import type { ResolvedReplacementRule } from "./replacement-rules.js";

/** Machine id stored with every persisted snapshot. */
export const REPLACE_MACHINE_ID = "replace";
/** Bumped whenever a persisted snapshot of the previous version could not be restored. */
export const REPLACE_MACHINE_VERSION = "1";

/** One certificate of the old card whose status the replacement changes at its CA. */
export interface ReplaceTarget {
  certificateId: string;
  caId: string;
  serialHex: string;
  slot: SlotId;
  templateId?: string;
  /** `revoke` or `suspend` per the rule; `resume` lifts an earlier hold on a certificate that is recovered. */
  change: CertificateStatusChange;
  /** The CA has acted on it. */
  atCa?: boolean;
  /** Changed at the CA and recorded. */
  done: boolean;
}

/** One archived encryption key of the old card, recovered to the same slot of the new card. */
export interface KeyRecoveryTarget {
  /** The old card's certificate record (its id is the request id the key was archived under). */
  certificateId: string;
  slot: SlotId;
  templateId: string;
  keyAlgorithm: KeyAlgorithm;
  serialHex: string;
  /** Imported, written and recorded on the new card. */
  done: boolean;
}

/** What starts a replacement. Secret-free. */
export interface ReplaceInput {
  operationId: string;
  /** The card being replaced. */
  cardId: string;
  userId: string;
  actor: string;
  actorKind: ActorKind;
  reason: ReplacementReason;
  comment?: string;
  /** The policy's rule for `reason`, as it stood when the replacement started. */
  rule: ResolvedReplacementRule;
  /** The old card's state at the start. */
  fromState: CardState;
  /** Serial of the device that becomes the new card. */
  newDeviceSerial: string;
  /** Templates the new card is issued (those recovered are left out), and the temporary card's validity. */
  selection: IssueTemplateSelection;
  targets: ReplaceTarget[];
  recoveries: KeyRecoveryTarget[];
}

/** The machine's context: JSON, no secrets. */
export interface ReplaceContext extends ReplaceInput {
  /** Phase 1 done: every target changed and the old card in its new state. */
  oldCardHandled: boolean;
  /** Phase 2 done: the new card is active. */
  newCardIssued: boolean;
  /** The new card's record id, once the issue registered it. */
  newCardId?: string;
  /** The issue operation on the new card, once started. */
  issueOperationId?: string;
  error?: SerializedError;
}

/** Input of the per-target steps. */
export interface ReplaceTargetInput extends ReplaceInput {
  target: ReplaceTarget;
}

/** Input of the steps that work on the whole replacement. */
export interface ReplaceStepInput extends ReplaceInput {
  newCardId?: string;
  issueOperationId?: string;
  error?: SerializedError;
}

/** What the issue step reports. */
export interface IssueNewCardOutput {
  newCardId: string;
  issueOperationId?: string;
  status: "active" | "pending";
}

/** Events from outside: `RESUME` continues an interrupted or pending replacement. */
export type ReplaceEvent = { type: "RESUME" };

function step<TInput, TOutput>(name: string) {
  return providedStep<TInput, TOutput>("replace", name);
}

function baseInput(c: ReplaceContext): ReplaceInput {
  const { oldCardHandled: _h, newCardIssued: _i, newCardId: _n, issueOperationId: _o, error: _e, ...input } = c;
  return input;
}

function stepInput(c: ReplaceContext): ReplaceStepInput {
  return {
    ...baseInput(c),
    ...(c.newCardId === undefined ? {} : { newCardId: c.newCardId }),
    ...(c.issueOperationId === undefined ? {} : { issueOperationId: c.issueOperationId }),
    ...(c.error === undefined ? {} : { error: c.error }),
  };
}

function currentTarget(c: ReplaceContext): ReplaceTarget {
  const t = c.targets.find((x) => !x.done);
  if (t === undefined) throw new CardwrightError("WORKFLOW_STATE", "no certificate of the old card left to change");
  return t;
}

function markTarget(c: ReplaceContext, patch: Partial<ReplaceTarget>): ReplaceTarget[] {
  const id = currentTarget(c).certificateId;
  return c.targets.map((t) => (t.certificateId === id ? { ...t, ...patch } : t));
}

/** Failure after something changed: keep what is done, wait for `RESUME`. */
function interrupt(stepName: string) {
  return { target: "interrupted", actions: { type: "recordError", params: { step: stepName } } } as const;
}

/** The replace machine. Provide the step actors with `.provide({ actors })`. */
export const replaceMachine = setup({
  types: {
    context: {} as ReplaceContext,
    input: {} as ReplaceInput,
    events: {} as ReplaceEvent,
  },
  actors: {
    changeCertificate: step<ReplaceTargetInput, void>("changeCertificate"),
    recordCertificate: step<ReplaceTargetInput, void>("recordCertificate"),
    handleOldCard: step<ReplaceStepInput, void>("handleOldCard"),
    issueNewCard: step<ReplaceStepInput, IssueNewCardOutput>("issueNewCard"),
    recoverKey: step<ReplaceStepInput & { recovery: KeyRecoveryTarget }, void>("recoverKey"),
    complete: step<ReplaceStepInput, void>("complete"),
    release: step<ReplaceStepInput, void>("release"),
  },
  guards: {
    currentAtCa: ({ context }) => context.targets.find((t) => !t.done)?.atCa === true,
    moreTargets: ({ context }) => context.targets.some((t) => !t.done),
    oldCardHandled: ({ context }) => context.oldCardHandled,
    newCardIssued: ({ context }) => context.newCardIssued,
    moreRecoveries: ({ context }) => context.recoveries.some((r) => !r.done),
    nothingChanged: ({ context }) => context.targets.every((t) => !t.done && t.atCa !== true),
    issuePending: ({ event }) => (event as { output?: IssueNewCardOutput }).output?.status === "pending",
  },
  actions: {
    recordError: assign({
      error: ({ event }, params: { step: string }) =>
        serializeStepError((event as { error?: unknown }).error, params.step),
    }),
  },
}).createMachine({
  id: REPLACE_MACHINE_ID,
  version: REPLACE_MACHINE_VERSION,
  context: ({ input }) => ({ ...input, oldCardHandled: false, newCardIssued: false }),
  initial: "next",
  states: {
    /** Where the replacement stands decides the next step: this is also where a resume enters. */
    next: {
      always: [
        { guard: "oldCardHandled", target: "newCard" },
        { guard: "currentAtCa", target: "recordCertificate" },
        { guard: "moreTargets", target: "changeCertificate" },
        { target: "handleOldCard" },
      ],
    },
    changeCertificate: {
      invoke: {
        id: "changeCertificate",
        src: "changeCertificate",
        input: ({ context }) => ({ ...baseInput(context), target: currentTarget(context) }),
        onDone: {
          target: "recordCertificate",
          actions: assign({ targets: ({ context }) => markTarget(context, { atCa: true }), error: undefined }),
        },
        onError: [
          {
            guard: "nothingChanged",
            target: "release",
            actions: { type: "recordError", params: { step: "changeCertificate" } },
          },
          interrupt("changeCertificate"),
        ],
      },
    },
    recordCertificate: {
      invoke: {
        id: "recordCertificate",
        src: "recordCertificate",
        input: ({ context }) => ({ ...baseInput(context), target: currentTarget(context) }),
        onDone: {
          target: "next",
          actions: assign({ targets: ({ context }) => markTarget(context, { done: true }), error: undefined }),
        },
        onError: interrupt("recordCertificate"),
      },
    },
    handleOldCard: {
      invoke: {
        id: "handleOldCard",
        src: "handleOldCard",
        input: ({ context }) => stepInput(context),
        onDone: { target: "newCard", actions: assign({ oldCardHandled: true, error: undefined }) },
        onError: [
          {
            guard: "nothingChanged",
            target: "release",
            actions: { type: "recordError", params: { step: "handleOldCard" } },
          },
          interrupt("handleOldCard"),
        ],
      },
    },
    newCard: {
      always: [{ guard: "newCardIssued", target: "recovery" }, { target: "issueNewCard" }],
    },
    issueNewCard: {
      invoke: {
        id: "issueNewCard",
        src: "issueNewCard",
        input: ({ context }) => stepInput(context),
        onDone: [
          {
            guard: "issuePending",
            target: "pending",
            actions: assign({
              newCardId: ({ event }) => event.output.newCardId,
              issueOperationId: ({ event }) => event.output.issueOperationId,
              error: undefined,
            }),
          },
          {
            target: "recovery",
            actions: assign({
              newCardId: ({ event }) => event.output.newCardId,
              issueOperationId: ({ event }) => event.output.issueOperationId,
              newCardIssued: true,
              error: undefined,
            }),
          },
        ],
        onError: interrupt("issueNewCard"),
      },
    },
    /** A CA holds a request of the new card for approval: persisted, left by `RESUME`. */
    pending: {
      on: { RESUME: "issueNewCard" },
    },
    recovery: {
      always: [{ guard: "moreRecoveries", target: "recoverKey" }, { target: "complete" }],
    },
    recoverKey: {
      invoke: {
        id: "recoverKey",
        src: "recoverKey",
        input: ({ context }) => {
          const recovery = context.recoveries.find((r) => !r.done);
          if (recovery === undefined) throw new CardwrightError("WORKFLOW_STATE", "no archived key left to recover");
          return { ...stepInput(context), recovery };
        },
        onDone: {
          target: "recovery",
          actions: assign({
            recoveries: ({ context }) => {
              const id = context.recoveries.find((r) => !r.done)?.certificateId;
              return context.recoveries.map((r) => (r.certificateId === id ? { ...r, done: true } : r));
            },
            error: undefined,
          }),
        },
        onError: interrupt("recoverKey"),
      },
    },
    complete: {
      invoke: {
        id: "complete",
        src: "complete",
        input: ({ context }) => stepInput(context),
        onDone: { target: "done", actions: assign({ error: undefined }) },
        onError: interrupt("complete"),
      },
    },
    /** Something changed, the rest not yet: persisted, left by `RESUME` (new card in a reader). */
    interrupted: {
      on: { RESUME: "next" },
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

/** States in which a replacement rests until `RESUME`. */
export const REPLACE_REST_STATES = ["interrupted", "pending"] as const;

/** Steps in order, for progress reporting. */
export const REPLACE_STEPS = [
  "changeCertificate",
  "recordCertificate",
  "handleOldCard",
  "issueNewCard",
  "recoverKey",
  "complete",
  "done",
] as const;

/** The revocation reason a target is revoked with, for the step input. */
export function targetReason(input: ReplaceInput): RevocationReason | undefined {
  return input.rule.oldCard === "revoke" ? input.rule.revocationReason : undefined;
}
