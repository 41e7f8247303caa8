/**
 * Records the lifecycle workflows keep besides cards, certificates, requests and operations:
 * approvals a workflow waits for, documents a policy requires, tasks queued for an agent at the
 * card's workstation, and the user's security answers for offline unblock. None holds a secret in
 * clear: answers are kept as salted slow hashes only.
 */
import type { SerializedError } from "../errors.js";
import type { Versioned } from "./card.js";

/** What an approval is for. */
export type ApprovalKind =
  /** A validation officer approves an issuance request before an operator may personalise the card. */
  | "issuance"
  /** An administrator approves the documents a policy requires before certificates are written. */
  | "documents";

/**
 * An approval a person must give before a workflow goes on. The officer who decides must not be
 * the person who asked (four-eyes rule), which the workflows check; the store only records.
 */
export interface ApprovalRecord extends Versioned {
  id: string;
  kind: ApprovalKind;
  /** The user the card is (to be) issued to. */
  userId: string;
  cardId?: string;
  /** The operation waiting for this approval, once one exists. */
  operationId?: string;
  policyId?: string;
  /** Actor id of who asked for it. */
  requestedBy: string;
  status: "pending" | "approved" | "rejected" | "cancelled";
  /** Actor id of who decided. */
  decidedBy?: string;
  /** ISO 8601. */
  decidedAt?: string;
  /** The decider's words, e.g. why a request was rejected. */
  reason?: string;
  /** What is to be approved, secret-free (templates, device serial...). */
  subject?: Record<string, unknown>;
}

/** A signed document a policy requires (certificate request form, certificate form...). */
export interface DocumentRecord extends Versioned {
  id: string;
  /** The policy's document type id, e.g. `"certificate-request-form"`. */
  type: string;
  userId: string;
  cardId?: string;
  operationId?: string;
  fileName: string;
  /** MIME type, e.g. `application/pdf`. */
  contentType: string;
  /** The content, base64. */
  content: string;
  /** SHA-256 of the content, lowercase hex: what an approval refers to. */
  sha256: string;
  /** Actor id of who uploaded it. */
  uploadedBy: string;
  status: "uploaded" | "approved" | "rejected";
  /** Actor id of who reviewed it. */
  reviewedBy?: string;
  /** Why it was rejected (shown to the user, who uploads a new one). */
  reason?: string;
}

/** Operations an operator can queue for the agent at the card's workstation. */
export type AgentTaskKind = "update" | "cancel-update" | "unblock-pin";

/**
 * An operation queued for the agent that embeds cardwright on the workstation where the card is.
 * An agent claims a task by updating it with its own name (the record version makes the claim a
 * compare-and-set, so two agents cannot both claim it); a claim expires so a crashed agent's task
 * is claimed again.
 */
export interface AgentTaskRecord extends Versioned {
  id: string;
  kind: AgentTaskKind;
  cardId: string;
  /** The card's device serial: what an agent matches against the cards in its readers. */
  deviceSerial: string;
  /** Actor id of the operator who queued it. */
  queuedBy: string;
  status: "queued" | "claimed" | "completed" | "failed" | "cancelled";
  /** Agent name holding the claim. */
  claimedBy?: string;
  /** ISO 8601: after this instant another agent may claim it again. */
  claimExpiresAt?: string;
  /** Parameters of the operation, secret-free. */
  params?: Record<string, unknown>;
  /** The operation the task ran, once it started. */
  operationId?: string;
  /** Why it failed. */
  error?: SerializedError;
}

/** One security question with the salted hash of its answer. */
export interface SecurityAnswer {
  question: string;
  /** Slow hash of the normalised answer (scrypt), base64. */
  hash: string;
  /** Random salt, base64. */
  salt: string;
}

/** A user's security questions and answers, for helpdesk-assisted offline unblock. Keyed by user id. */
export interface SecurityAnswersRecord extends Versioned {
  /** The user id. */
  id: string;
  answers: SecurityAnswer[];
  /** scrypt parameters the hashes were made with. */
  kdf: { name: "scrypt"; n: number; r: number; p: number; keyLength: number };
  /** Consecutive failed checks; reset on success. */
  failedAttempts: number;
  /** ISO 8601: checks are refused until then after too many failures. */
  lockedUntil?: string;
}
