/**
 * Card update as an xstate v5 machine: connect the card → authenticate as its administrator →
 * for each certificate to add or renew: generate the key on the card (a rekey; a same-key renewal
 * keeps the slot's key) → build the PKCS#10 request (RFC 2986) signed on the card → submit (or
 * renew) at the CA → wait, persisted, while a CA holds a request (`pending`, left by `RESUME`) →
 * write the new certificates → commit.
 *
 * Cancel-safety: nothing the card had before is given up until `commit`: removed certificates and
 * the certificates that renewals supersede stay on the card and valid at their CA until then. So
 * `CANCEL`, from `pending` or `interrupted`, restores card and record exactly — it revokes what
 * was issued for the update, deletes it from the card and writes back the certificates it had
 * replaced — unless a key the card held was replaced (a rekey, or an added template reusing a
 * removed one's slot: no device can restore a private key), or `commit` has started.
 */
import { assign, setup } from "xstate";
import type { CardState } from "../domain/card.js";
import type { ActorKind } from "../domain/policy.js";
import { CardwrightError, type SerializedError } from "../errors.js";
import type { KeyAlgorithm, SlotId } from "../ports/device.js";
import { serializeStepError } from "../workflows/issue-machine.js";
import { providedStep } from "../workflows/provided-step.js";
import type { UpdatePlan } from "./update-plan.js";

/** Machine id stored with every persisted snapshot. */
export const UPDATE_MACHINE_ID = "update";
/** Bumped whenever a persisted snapshot of the previous version could not be restored. */
export const UPDATE_MACHINE_VERSION = "1";

/** Where one certificate to add or renew stands. */
export type UpdateItemStatus = "planned" | "keyed" | "requested" | "pending" | "issued" | "written" | "rejected";

/** One certificate the update requests. Secret-free. */
export interface UpdateItem {
  kind: "add" | "renew";
  templateId: string;
  slot: SlotId;
  caId: string;
  keyAlgorithm: KeyAlgorithm;
  /** Our request id: idempotency key at the CA, id of the request and certificate records. */
  requestId: string;
  /** A new key is generated on the card (add, rekey renewal); else the slot's key is certified again. */
  rekey: boolean;
  /** Renewal: the certificate renewed. Add: the removed certificate whose slot it reuses. */
  previousCertificateId?: string;
  status: UpdateItemStatus;
  /** Base64 DER SubjectPublicKeyInfo certified. */
  spki?: string;
  caRequestId?: string;
  serialHex?: string;
  rejectionReason?: string;
}

/** What starts an update. Secret-free. */
export interface UpdateInput {
  operationId: string;
  cardId: string;
  userId?: string;
  actor: string;
  actorKind: ActorKind;
  comment?: string;
  deviceSerial: string;
  /** State the card had (and returns to): `active`. */
  fromState: CardState;
  /** Target policy (the card's, or a newly assigned one). */
  policyId: string;
  policyVersion: number;
  plan: UpdatePlan;
  items: UpdateItem[];
}

/** Who cancelled, for the audit. */
export interface CancelRequest {
  actor: string;
  actorKind: ActorKind;
  comment?: string;
}

/** The machine's context: JSON, no secrets. */
export interface UpdateContext extends UpdateInput {
  index: number;
  /** Slots whose earlier key was replaced by this update: cancel can no longer restore them. */
  keysReplaced: SlotId[];
  /** `commit` started: from here the update can only be finished. */
  commitStarted: boolean;
  cancel?: CancelRequest;
  error?: SerializedError;
}

/** A step's answer for one item. */
export interface ItemOutput {
  item: UpdateItem;
  /** The step replaced a key the card held before in the item's slot. */
  keyReplaced?: boolean;
}

/** Events: `RESUME` continues (polls a pending CA, re-runs an interrupted step); `CANCEL` restores. */
export type UpdateEvent = { type: "RESUME" } | ({ type: "CANCEL" } & CancelRequest);

function step<TInput, TOutput>(name: string) {
  return providedStep<TInput, TOutput>("update", name);
}

function onStepError(name: string) {
  return { target: "interrupted", actions: { type: "recordError", params: { step: name } } } as const;
}

function patchItem(context: UpdateContext, item: UpdateItem): UpdateItem[] {
  return context.items.map((i) => (i.requestId === item.requestId ? item : i));
}

/** Items whose request is settled (issued, written, pending or rejected): the request loop skips them. */
const SETTLED: readonly UpdateItemStatus[] = ["pending", "issued", "written", "rejected"];

/** The rejected item's error, for the automatic cancel. */
function rejectedError(context: UpdateContext): SerializedError {
  const t = context.items.find((x) => x.status === "rejected");
  return new CardwrightError(
    "CA_REJECTED",
    `CA ${t?.caId} rejected the ${t?.kind === "renew" ? "renewal" : "request"} for template ${t?.templateId}: ${t?.rejectionReason ?? "no reason given"}; the update was cancelled`,
    {
      details: {
        templateId: t?.templateId,
        requestId: t?.requestId,
        caRequestId: t?.caRequestId,
        reason: t?.rejectionReason,
        cardId: context.cardId,
      },
    },
  ).toJSON();
}

/** The update machine. Provide the step actors with `.provide({ actors })`. */
export const updateMachine = setup({
  types: {
    context: {} as UpdateContext,
    input: {} as UpdateInput,
    events: {} as UpdateEvent,
  },
  actors: {
    connectCard: step<UpdateContext, void>("connectCard"),
    authenticateAdmin: step<UpdateContext, void>("authenticateAdmin"),
    generateKey: step<UpdateContext, ItemOutput>("generateKey"),
    buildCsr: step<UpdateContext, ItemOutput>("buildCsr"),
    submitRequest: step<UpdateContext, ItemOutput>("submitRequest"),
    markPending: step<UpdateContext, void>("markPending"),
    pollRequests: step<UpdateContext, { items: UpdateItem[] }>("pollRequests"),
    writeCertificates: step<UpdateContext, { items: UpdateItem[] }>("writeCertificates"),
    commit: step<UpdateContext, void>("commit"),
    cancel: step<UpdateContext, void>("cancel"),
  },
  guards: {
    hasItem: ({ context }) => context.index < context.items.length,
    itemSettled: ({ context }) => {
      const item = context.items[context.index];
      return item !== undefined && SETTLED.includes(item.status);
    },
    anyRejected: ({ context }) => context.items.some((i) => i.status === "rejected"),
    anyPending: ({ context }) => context.items.some((i) => i.status === "pending"),
    cancelling: ({ context }) => context.cancel !== undefined,
    cancellable: ({ context }) => !context.commitStarted && context.keysReplaced.length === 0,
  },
  actions: {
    recordError: assign({
      error: ({ event }, params: { step: string }) =>
        serializeStepError((event as { error?: unknown }).error, params.step),
    }),
    applyItem: assign(({ context, event }) => {
      const out = (event as unknown as { output: ItemOutput }).output;
      return {
        items: patchItem(context, out.item),
        keysReplaced:
          out.keyReplaced === true && !context.keysReplaced.includes(out.item.slot)
            ? [...context.keysReplaced, out.item.slot]
            : context.keysReplaced,
      };
    }),
    applyItems: assign({
      items: ({ event }) => (event as unknown as { output: { items: UpdateItem[] } }).output.items,
    }),
    requestCancel: assign({
      cancel: ({ event }) => {
        const e = event as Extract<UpdateEvent, { type: "CANCEL" }>;
        return {
          actor: e.actor,
          actorKind: e.actorKind,
          ...(e.comment === undefined ? {} : { comment: e.comment }),
        };
      },
      error: undefined,
    }),
  },
}).createMachine({
  id: UPDATE_MACHINE_ID,
  version: UPDATE_MACHINE_VERSION,
  context: ({ input }) => ({ ...input, index: 0, keysReplaced: [], commitStarted: false }),
  initial: "connectCard",
  states: {
    connectCard: {
      invoke: {
        id: "connectCard",
        src: "connectCard",
        input: ({ context }) => context,
        onDone: "authenticateAdmin",
        onError: onStepError("connectCard"),
      },
    },
    authenticateAdmin: {
      invoke: {
        id: "authenticateAdmin",
        src: "authenticateAdmin",
        input: ({ context }) => context,
        onDone: { target: "nextItem", actions: assign({ index: 0 }) },
        onError: onStepError("authenticateAdmin"),
      },
    },
    nextItem: {
      always: [
        {
          guard: "itemSettled",
          target: "nextItem",
          reenter: true,
          actions: assign({ index: ({ context }) => context.index + 1 }),
        },
        { guard: "hasItem", target: "generateKey" },
        { target: "settle" },
      ],
    },
    generateKey: {
      invoke: {
        id: "generateKey",
        src: "generateKey",
        input: ({ context }) => context,
        onDone: { target: "buildCsr", actions: "applyItem" },
        onError: onStepError("generateKey"),
      },
    },
    buildCsr: {
      invoke: {
        id: "buildCsr",
        src: "buildCsr",
        input: ({ context }) => context,
        onDone: { target: "submitRequest", actions: "applyItem" },
        onError: onStepError("buildCsr"),
      },
    },
    submitRequest: {
      invoke: {
        id: "submitRequest",
        src: "submitRequest",
        input: ({ context }) => context,
        onDone: {
          target: "nextItem",
          actions: ["applyItem", assign({ index: ({ context }) => context.index + 1 })],
        },
        onError: onStepError("submitRequest"),
      },
    },
    /** Every request is answered or held: reject cancels, held waits, else write. */
    settle: {
      always: [
        { guard: "anyRejected", target: "cancel", actions: assign({ error: ({ context }) => rejectedError(context) }) },
        { guard: "anyPending", target: "markPending" },
        { target: "writeCertificates" },
      ],
    },
    markPending: {
      invoke: {
        id: "markPending",
        src: "markPending",
        input: ({ context }) => context,
        onDone: "pending",
        onError: onStepError("markPending"),
      },
    },
    /** A CA holds a request: persisted; `RESUME` polls ("continue card update"), `CANCEL` restores. */
    pending: {
      on: {
        RESUME: "pollRequests",
        CANCEL: { guard: "cancellable", target: "cancel", actions: "requestCancel" },
      },
    },
    pollRequests: {
      invoke: {
        id: "pollRequests",
        src: "pollRequests",
        input: ({ context }) => context,
        onDone: { target: "settle", actions: "applyItems" },
        onError: onStepError("pollRequests"),
      },
    },
    writeCertificates: {
      invoke: {
        id: "writeCertificates",
        src: "writeCertificates",
        input: ({ context }) => context,
        onDone: { target: "startCommit", actions: "applyItems" },
        onError: onStepError("writeCertificates"),
      },
    },
    /** Persisted before anything the card had is given up: from here on the update is finished, never cancelled. */
    startCommit: {
      entry: assign({ commitStarted: true }),
      always: "commit",
    },
    commit: {
      invoke: {
        id: "commit",
        src: "commit",
        input: ({ context }) => context,
        onDone: { target: "done", actions: assign({ error: undefined }) },
        onError: onStepError("commit"),
      },
    },
    /** A step failed: persisted; `RESUME` re-runs from the card connection, `CANCEL` restores. */
    interrupted: {
      on: {
        RESUME: [
          { guard: "cancelling", target: "cancel", actions: assign({ error: undefined }) },
          { target: "connectCard", actions: assign({ error: undefined }) },
        ],
        CANCEL: { guard: "cancellable", target: "cancel", actions: "requestCancel" },
      },
    },
    cancel: {
      entry: assign({
        cancel: ({ context }) => context.cancel ?? { actor: context.actor, actorKind: context.actorKind },
      }),
      invoke: {
        id: "cancel",
        src: "cancel",
        input: ({ context }) => context,
        onDone: "cancelled",
        onError: onStepError("cancel"),
      },
    },
    done: { type: "final" },
    cancelled: { type: "final" },
  },
});

/** States in which an update rests until `RESUME` or `CANCEL`. */
export const UPDATE_REST_STATES = ["pending", "interrupted"] as const;

/** Steps in order, for progress reporting. */
export const UPDATE_STEPS = [
  "connectCard",
  "authenticateAdmin",
  "generateKey",
  "buildCsr",
  "submitRequest",
  "pending",
  "writeCertificates",
  "commit",
  "done",
] as const;
