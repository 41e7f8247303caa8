/**
 * The issue workflow as an xstate v5 machine, in the order commercial CMSs use: resolve policy →
 * connect card → authenticate as admin → initialise (if policy says) → replace the admin
 * credential → write card identifiers → per template: generate key → build CSR → submit →
 * (pending, persisted, left by `RESUME`) → document check (when the policy requires documents:
 * `awaitingDocuments`, persisted, left by `RESUME`) → write certificates → set PINs → complete.
 *
 * Every side effect is a named `fromPromise` actor invoked with `id` equal to its name; the
 * facade supplies implementations with `.provide({ actors })`. Context and actor inputs hold
 * only secret-free JSON: PINs, PUKs and management keys live in the step implementations'
 * session and, for the admin key and PUK, wrapped on the card record.
 *
 * Failure rule: any step error goes to `rollback`, which revokes every certificate this
 * operation obtained (cessationOfOperation) and puts the card back in its previous state; a
 * rollback that cannot reach the CA waits in `rollbackPending` for `RESUME`.
 */
import { assign, setup } from "xstate";
import type { DocumentCheck } from "../documents/document-check.js";
import type { CardState } from "../domain/card.js";
import { CardwrightError, type SerializedError } from "../errors.js";
import type { KeyAlgorithm, SlotId } from "../ports/device.js";
import { providedStep } from "./provided-step.js";

/** Machine id and version stored with every persisted snapshot; a mismatch is refused on resume. */
export const ISSUE_MACHINE_ID = "issue";
/** Bumped whenever a persisted snapshot of the previous version could not be restored. */
export const ISSUE_MACHINE_VERSION = "1";

/** Where one certificate of the plan stands. */
export type TemplateStatus =
  | "planned"
  | "keyGenerated"
  | "csrBuilt"
  | "pending"
  | "issued"
  | "written"
  | "rejected"
  | "revoked";

/** One certificate of the issue plan. Secret-free. */
export interface TemplatePlan {
  templateId: string;
  caId: string;
  slot: SlotId;
  keyAlgorithm: KeyAlgorithm;
  /** Our request id: the idempotency key at the CA and the id of the request and certificate records. */
  requestId: string;
  status: TemplateStatus;
  /** Base64 DER SubjectPublicKeyInfo of the key the card generated. */
  spki?: string;
  caRequestId?: string;
  serialHex?: string;
  rejectionReason?: string;
  /** Validity asked of the CA when shorter than the template's (a temporary card's certificates). */
  validityDays?: number;
}

/** What starts an issue. */
export interface IssueInput {
  operationId: string;
  cardId: string;
  userId: string;
  /** Who started it. */
  actor: string;
  deviceSerial: string;
  optionalTemplates: readonly string[];
  /** State to return the card to on rollback. */
  previousCardState: CardState;
  /** Issue exactly these templates instead of the mandatory ones plus `optionalTemplates` (a replacement). */
  selection?: IssueTemplateSelection;
}

/**
 * The certificates of a replacement card: a temporary card carries a subset of the policy with a
 * shorter validity, and a replacement whose encryption keys are recovered leaves those templates out.
 */
export interface IssueTemplateSelection {
  /** Template ids of the card's policy, mandatory or optional. */
  templates: readonly string[];
  /** Certificates are asked for at most this many days (each template's own validity when shorter). */
  maxValidityDays?: number;
  /**
   * Issue under this policy instead of the one the user's directory entry resolves to: a
   * replacement keeps the policy of the card it replaces, which an update may have assigned.
   */
  policyId?: string;
}

/** The machine's context: JSON, no secrets. */
export interface IssueContext extends IssueInput {
  optionalTemplates: string[];
  policyId?: string;
  policyVersion?: number;
  initialiseOnIssue: boolean;
  templates: TemplatePlan[];
  /** Template being worked on. */
  index: number;
  /** How the admin credential was established: the card's stored one or the factory one. */
  adminSource?: "stored" | "factory";
  chuidGuid?: string;
  pinSet: boolean;
  /** The policy requires documents (`Policy.documents`): certificates wait for their approval. */
  documentsRequired?: boolean;
  /** The last document check (policies with `documents` only): what is approved, awaited or rejected. */
  documents?: DocumentCheck;
  error?: SerializedError;
}

/** The chosen policy and the certificate plan. */
export interface ResolvePolicyOutput {
  policyId: string;
  policyVersion: number;
  initialiseOnIssue: boolean;
  /** Set when the policy requires documents before certificates are written. */
  documentsRequired?: boolean;
  templates: TemplatePlan[];
}
/** Input of the card-level steps: ids only, no secrets. */
export interface CardStepInput {
  operationId: string;
  cardId: string;
  userId: string;
  actor: string;
  policyId: string;
  policyVersion: number;
}
/** Input of the per-certificate steps (generateKey, buildCsr, submitRequest). */
export interface TemplateStepInput extends CardStepInput {
  template: TemplatePlan;
}
/** A CA's answer as the workflow records it. */
export interface SubmitOutput {
  status: "issued" | "pending" | "rejected";
  caRequestId?: string;
  serialHex?: string;
  reason?: string;
}
/** Answers to a re-poll of the pending requests. */
export interface PollOutput {
  results: Array<{ requestId: string } & SubmitOutput>;
}
/** Input of the steps that work on the whole plan (write, complete, rollback...). */
export interface TemplatesStepInput extends CardStepInput {
  templates: TemplatePlan[];
  previousCardState: CardState;
  error?: SerializedError;
}
/** Request ids whose certificates the rollback revoked. */
export interface RollbackOutput {
  revoked: string[];
}

/**
 * Events from outside: `RESUME` leaves `pending` (re-poll the CA), `awaitingDocuments` (check the
 * documents again) and `rollbackPending` (retry).
 */
export type IssueEvent = { type: "RESUME" };

/** Declares a step actor's input and output; the facade provides its implementation. */
function step<TInput, TOutput>(name: string) {
  return providedStep<TInput, TOutput>("issue", name);
}

function cardInput(context: IssueContext): CardStepInput {
  return {
    operationId: context.operationId,
    cardId: context.cardId,
    userId: context.userId,
    actor: context.actor,
    policyId: context.policyId ?? "",
    policyVersion: context.policyVersion ?? 0,
  };
}

function current(context: IssueContext): TemplatePlan {
  const t = context.templates[context.index];
  if (t === undefined) throw new CardwrightError("WORKFLOW_STATE", `no template at index ${context.index}`);
  return t;
}

function patchTemplate(context: IssueContext, requestId: string, patch: Partial<TemplatePlan>): TemplatePlan[] {
  return context.templates.map((t) => (t.requestId === requestId ? { ...t, ...patch } : t));
}

function applyResult(t: TemplatePlan, r: SubmitOutput): TemplatePlan {
  if (r.status === "issued") return { ...t, status: "issued", caRequestId: r.caRequestId, serialHex: r.serialHex };
  if (r.status === "rejected")
    return { ...t, status: "rejected", caRequestId: r.caRequestId, rejectionReason: r.reason };
  return { ...t, status: "pending", caRequestId: r.caRequestId };
}

/** Turns whatever a step threw into a secret-free {@link SerializedError}. */
export function serializeStepError(error: unknown, stepName: string): SerializedError {
  if (error instanceof CardwrightError) return error.toJSON();
  const message = error instanceof Error ? error.message : String(error);
  return new CardwrightError("WORKFLOW_FAILED", `${stepName}: ${message}`, { details: { step: stepName } }).toJSON();
}

function rejectedError(context: IssueContext): SerializedError {
  const t = context.templates.find((x) => x.status === "rejected");
  return new CardwrightError(
    "CA_REJECTED",
    `CA ${t?.caId} rejected the request for template ${t?.templateId}: ${t?.rejectionReason ?? "no reason given"}`,
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

/** Transition taken when a step fails: remember the error and roll back. */
function onStepError(stepName: StepName) {
  return { target: "rollback", actions: { type: "recordError", params: { step: stepName } } } as const;
}

type StepName =
  | "resolvePolicy"
  | "connectCard"
  | "authenticateAdmin"
  | "initialise"
  | "replaceAdminCredential"
  | "writeCardIdentifiers"
  | "generateKey"
  | "buildCsr"
  | "submitRequest"
  | "markPending"
  | "checkDocuments"
  | "writeCertificates"
  | "setPins"
  | "complete";

/** The issue machine. Provide the step actors with `issueMachine.provide({ actors })`. */
export const issueMachine = setup({
  types: {
    context: {} as IssueContext,
    input: {} as IssueInput,
    events: {} as IssueEvent,
  },
  actors: {
    resolvePolicy: step<IssueInput, ResolvePolicyOutput>("resolvePolicy"),
    connectCard: step<CardStepInput & { templates: TemplatePlan[] }, void>("connectCard"),
    authenticateAdmin: step<CardStepInput, { source: "stored" | "factory" }>("authenticateAdmin"),
    initialise: step<CardStepInput, void>("initialise"),
    replaceAdminCredential: step<CardStepInput, { replaced: boolean }>("replaceAdminCredential"),
    writeCardIdentifiers: step<CardStepInput, { guid?: string }>("writeCardIdentifiers"),
    generateKey: step<TemplateStepInput, { spki: string }>("generateKey"),
    buildCsr: step<TemplateStepInput, void>("buildCsr"),
    submitRequest: step<TemplateStepInput, SubmitOutput>("submitRequest"),
    markPending: step<TemplatesStepInput, void>("markPending"),
    pollRequests: step<TemplatesStepInput, PollOutput>("pollRequests"),
    checkDocuments: step<TemplatesStepInput, DocumentCheck>("checkDocuments"),
    writeCertificates: step<TemplatesStepInput, void>("writeCertificates"),
    setPins: step<CardStepInput, void>("setPins"),
    complete: step<TemplatesStepInput, void>("complete"),
    rollback: step<TemplatesStepInput, RollbackOutput>("rollback"),
  },
  guards: {
    initialiseOnIssue: ({ context }) => context.initialiseOnIssue,
    moreTemplates: ({ context }) => context.index + 1 < context.templates.length,
    anyRejected: ({ context }) => context.templates.some((t) => t.status === "rejected"),
    anyPending: ({ context }) => context.templates.some((t) => t.status === "pending"),
    allIssued: ({ context }) => context.templates.every((t) => t.status === "issued" || t.status === "written"),
    documentsRequired: ({ context }) => context.documentsRequired === true,
    documentsApproved: ({ context }) => context.documents?.status === "approved",
  },
  actions: {
    nextTemplate: assign({ index: ({ context }) => context.index + 1 }),
    setRejectedError: assign({ error: ({ context }) => rejectedError(context) }),
    // Error events of invoked actors carry `error`; the event union of setup() does not list them.
    recordError: assign({
      error: ({ event }, params: { step: StepName }) =>
        serializeStepError((event as { error?: unknown }).error, params.step),
    }),
  },
}).createMachine({
  id: ISSUE_MACHINE_ID,
  version: ISSUE_MACHINE_VERSION,
  context: ({ input }) => ({
    ...input,
    optionalTemplates: [...input.optionalTemplates],
    initialiseOnIssue: false,
    templates: [],
    index: 0,
    pinSet: false,
  }),
  initial: "resolvePolicy",
  states: {
    resolvePolicy: {
      invoke: {
        id: "resolvePolicy",
        src: "resolvePolicy",
        input: ({ context }) => ({
          operationId: context.operationId,
          cardId: context.cardId,
          userId: context.userId,
          actor: context.actor,
          deviceSerial: context.deviceSerial,
          optionalTemplates: context.optionalTemplates,
          previousCardState: context.previousCardState,
          ...(context.selection === undefined ? {} : { selection: context.selection }),
        }),
        onDone: {
          target: "connectCard",
          actions: assign(({ event }) => ({
            policyId: event.output.policyId,
            policyVersion: event.output.policyVersion,
            initialiseOnIssue: event.output.initialiseOnIssue,
            ...(event.output.documentsRequired === true ? { documentsRequired: true } : {}),
            templates: event.output.templates,
          })),
        },
        onError: onStepError("resolvePolicy"),
      },
    },
    connectCard: {
      invoke: {
        id: "connectCard",
        src: "connectCard",
        input: ({ context }) => ({ ...cardInput(context), templates: context.templates }),
        onDone: "authenticateAdmin",
        onError: onStepError("connectCard"),
      },
    },
    authenticateAdmin: {
      invoke: {
        id: "authenticateAdmin",
        src: "authenticateAdmin",
        input: ({ context }) => cardInput(context),
        onDone: [
          {
            guard: "initialiseOnIssue",
            target: "initialise",
            actions: assign({ adminSource: ({ event }) => event.output.source }),
          },
          { target: "replaceAdminCredential", actions: assign({ adminSource: ({ event }) => event.output.source }) },
        ],
        onError: onStepError("authenticateAdmin"),
      },
    },
    initialise: {
      invoke: {
        id: "initialise",
        src: "initialise",
        input: ({ context }) => cardInput(context),
        onDone: { target: "replaceAdminCredential", actions: assign({ adminSource: "factory" as const }) },
        onError: onStepError("initialise"),
      },
    },
    replaceAdminCredential: {
      invoke: {
        id: "replaceAdminCredential",
        src: "replaceAdminCredential",
        input: ({ context }) => cardInput(context),
        onDone: {
          target: "writeCardIdentifiers",
          actions: assign({
            adminSource: ({ context, event }) => (event.output.replaced ? "stored" : context.adminSource),
          }),
        },
        onError: onStepError("replaceAdminCredential"),
      },
    },
    writeCardIdentifiers: {
      invoke: {
        id: "writeCardIdentifiers",
        src: "writeCardIdentifiers",
        input: ({ context }) => cardInput(context),
        onDone: { target: "generateKey", actions: assign({ chuidGuid: ({ event }) => event.output.guid }) },
        onError: onStepError("writeCardIdentifiers"),
      },
    },
    generateKey: {
      invoke: {
        id: "generateKey",
        src: "generateKey",
        input: ({ context }) => ({ ...cardInput(context), template: current(context) }),
        onDone: {
          target: "buildCsr",
          actions: assign({
            templates: ({ context, event }) =>
              patchTemplate(context, current(context).requestId, { status: "keyGenerated", spki: event.output.spki }),
          }),
        },
        onError: onStepError("generateKey"),
      },
    },
    buildCsr: {
      invoke: {
        id: "buildCsr",
        src: "buildCsr",
        input: ({ context }) => ({ ...cardInput(context), template: current(context) }),
        onDone: {
          target: "submitRequest",
          actions: assign({
            templates: ({ context }) => patchTemplate(context, current(context).requestId, { status: "csrBuilt" }),
          }),
        },
        onError: onStepError("buildCsr"),
      },
    },
    submitRequest: {
      invoke: {
        id: "submitRequest",
        src: "submitRequest",
        input: ({ context }) => ({ ...cardInput(context), template: current(context) }),
        onDone: {
          target: "nextTemplate",
          actions: assign({
            templates: ({ context, event }) =>
              context.templates.map((t, i) => (i === context.index ? applyResult(t, event.output) : t)),
          }),
        },
        onError: onStepError("submitRequest"),
      },
    },
    nextTemplate: {
      always: [
        { guard: "anyRejected", target: "rollback", actions: "setRejectedError" },
        { guard: "moreTemplates", target: "generateKey", actions: "nextTemplate" },
        { guard: "anyPending", target: "markPending" },
        { guard: "documentsRequired", target: "checkDocuments" },
        { target: "writeCertificates" },
      ],
    },
    markPending: {
      invoke: {
        id: "markPending",
        src: "markPending",
        input: ({ context }) => templatesInput(context),
        onDone: "pending",
        onError: onStepError("markPending"),
      },
    },
    /** Waits for CA approval; persisted; no invoke. */
    pending: {
      on: { RESUME: "pollRequests" },
    },
    pollRequests: {
      invoke: {
        id: "pollRequests",
        src: "pollRequests",
        input: ({ context }) => templatesInput(context),
        onDone: {
          target: "afterPoll",
          actions: assign({
            templates: ({ context, event }) =>
              context.templates.map((t) => {
                const r = event.output.results.find((x) => x.requestId === t.requestId);
                return r === undefined ? t : applyResult(t, r);
              }),
          }),
        },
        // A CA that cannot be reached leaves the operation pending: nothing was lost.
        onError: {
          target: "pending",
          actions: assign({ error: ({ event }) => serializeStepError(event.error, "pollRequests") }),
        },
      },
    },
    afterPoll: {
      always: [
        { guard: "anyRejected", target: "rollback", actions: "setRejectedError" },
        { guard: "anyPending", target: "pending" },
        { guard: "documentsRequired", target: "checkDocuments", actions: assign({ error: undefined }) },
        { target: "writeCertificates", actions: assign({ error: undefined }) },
      ],
    },
    /** Nothing is written to the card until the documents the policy requires are approved. */
    checkDocuments: {
      invoke: {
        id: "checkDocuments",
        src: "checkDocuments",
        input: ({ context }) => templatesInput(context),
        onDone: {
          target: "afterDocuments",
          actions: assign({ documents: ({ event }) => event.output }),
        },
        onError: onStepError("checkDocuments"),
      },
    },
    afterDocuments: {
      always: [{ guard: "documentsApproved", target: "writeCertificates" }, { target: "awaitingDocuments" }],
    },
    /** Waits for an administrator to approve the documents (or the user to re-upload); persisted; no invoke. */
    awaitingDocuments: {
      on: { RESUME: "checkDocuments" },
    },
    writeCertificates: {
      invoke: {
        id: "writeCertificates",
        src: "writeCertificates",
        input: ({ context }) => templatesInput(context),
        onDone: {
          target: "setPins",
          actions: assign({
            templates: ({ context }) =>
              context.templates.map((t) => (t.status === "issued" ? { ...t, status: "written" as const } : t)),
          }),
        },
        onError: onStepError("writeCertificates"),
      },
    },
    setPins: {
      invoke: {
        id: "setPins",
        src: "setPins",
        input: ({ context }) => cardInput(context),
        onDone: { target: "complete", actions: assign({ pinSet: true }) },
        onError: onStepError("setPins"),
      },
    },
    complete: {
      invoke: {
        id: "complete",
        src: "complete",
        input: ({ context }) => templatesInput(context),
        onDone: "done",
        onError: onStepError("complete"),
      },
    },
    done: { type: "final" },
    rollback: {
      invoke: {
        id: "rollback",
        src: "rollback",
        input: ({ context }) => templatesInput(context),
        onDone: {
          target: "failed",
          actions: assign({
            templates: ({ context, event }) =>
              context.templates.map((t) =>
                event.output.revoked.includes(t.requestId) ? { ...t, status: "revoked" as const } : t,
              ),
          }),
        },
        onError: "rollbackPending",
      },
    },
    /** Rollback could not finish (e.g. CA unreachable for revocation); `RESUME` retries it. */
    rollbackPending: {
      on: { RESUME: "rollback" },
    },
    failed: { type: "final" },
  },
});

function templatesInput(context: IssueContext): TemplatesStepInput {
  return {
    ...cardInput(context),
    templates: context.templates,
    previousCardState: context.previousCardState,
    ...(context.error === undefined ? {} : { error: context.error }),
  };
}

/** States in which an issue rests until something outside happens (`RESUME`). */
export const ISSUE_REST_STATES = ["pending", "awaitingDocuments", "rollbackPending"] as const;

/** Top-level steps in order, for progress reporting. */
export const ISSUE_STEPS = [
  "resolvePolicy",
  "connectCard",
  "authenticateAdmin",
  "initialise",
  "replaceAdminCredential",
  "writeCardIdentifiers",
  "generateKey",
  "buildCsr",
  "submitRequest",
  "markPending",
  "pending",
  "pollRequests",
  "checkDocuments",
  "awaitingDocuments",
  "writeCertificates",
  "setPins",
  "complete",
  "done",
] as const;
