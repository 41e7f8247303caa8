/**
 * Every error cardwright throws is a {@link CardwrightError}: a stable `code` grouped by area,
 * structured fields a program can act on, and a `cause` chain. Errors serialise to JSON because
 * they end up in persisted workflow snapshots and audit events — so they never carry a secret.
 */

/** Stable error codes, grouped by area. Codes never change meaning once released. */
export type ErrorCode =
  // APDU / transport layer
  | "APDU_MALFORMED_RESPONSE"
  | "APDU_TIMEOUT"
  | "APDU_CARD_REMOVED"
  | "APDU_TRANSPORT"
  | "APDU_UNEXPECTED_STATUS"
  | "APDU_INVALID_COMMAND"
  // PC/SC (the system smart-card stack)
  | "PCSC_UNAVAILABLE"
  | "PCSC_NO_SERVICE"
  | "PCSC_SHARING_VIOLATION"
  | "PCSC_CARD_RESET"
  // PIV card edge
  | "PIV_WRONG_PIN"
  | "PIV_PIN_BLOCKED"
  | "PIV_SECURITY_STATUS"
  | "PIV_AUTH_FAILED"
  | "PIV_NOT_FOUND"
  | "PIV_WRONG_DATA"
  | "PIV_CARD_FULL"
  | "PIV_UNSUPPORTED"
  | "PIV_CONDITIONS_NOT_SATISFIED"
  // PKCS#11 tokens (CKR_* return values, PKCS#11 v2.40 §5.1)
  | "PKCS11_MODULE"
  | "PKCS11_TOKEN_NOT_PRESENT"
  | "PKCS11_PIN_INCORRECT"
  | "PKCS11_PIN_LOCKED"
  | "PKCS11_PIN_INVALID"
  | "PKCS11_NOT_LOGGED_IN"
  | "PKCS11_OBJECT_NOT_FOUND"
  | "PKCS11_FUNCTION_FAILED"
  // device-level (any device type)
  | "DEVICE_NOT_FOUND"
  | "DEVICE_MISMATCH"
  | "DEVICE_CAPABILITY"
  // software certificate store (password-protected PKCS#12 files)
  | "SOFTSTORE_WRONG_PASSWORD"
  | "SOFTSTORE_CORRUPT"
  | "SOFTSTORE_SLOT_EMPTY"
  | "SOFTSTORE_KEY_MISMATCH"
  | "SOFTSTORE_NOT_AUTHENTICATED"
  | "SOFTSTORE_UNAVAILABLE"
  // certificate authorities
  | "CA_REJECTED"
  | "CA_UNAVAILABLE"
  | "CA_BAD_RESPONSE"
  | "CA_UNKNOWN_REQUEST"
  | "CA_INVALID_REQUEST"
  | "CA_UNKNOWN_CERTIFICATE"
  | "CA_WRONG_STATE"
  | "CA_UNSUPPORTED"
  // policy engine
  | "POLICY_NOT_FOUND"
  | "POLICY_NO_MATCH"
  | "POLICY_RULE"
  | "POLICY_INVALID"
  // store
  | "STORE_CONFLICT"
  | "STORE_NOT_FOUND"
  | "STORE_DUPLICATE"
  | "STORE_FAILURE"
  // card leases (one operation per card at a time, across processes)
  | "CARD_LEASED"
  | "LEASE_LOST"
  // secrets
  | "VAULT_UNWRAP_FAILED"
  | "VAULT_CONFIG"
  // workflows and card state
  | "WORKFLOW_STATE"
  | "WORKFLOW_VERSION"
  | "WORKFLOW_FAILED"
  | "CARD_STATE"
  /** A card state transition the policy's transition table does not allow (details: from, to, operation, allowed). */
  | "CARD_TRANSITION"
  | "AUDIT_CHAIN_BROKEN"
  | "USER_NOT_FOUND"
  // notifications
  | "NOTIFY_NO_RECIPIENT"
  | "NOTIFY_FAILED"
  | "AUTHZ_DENIED"
  /** Four-eyes rule: the same person in two roles that must differ (details.rule names which). */
  | "AUTHZ_SEPARATION_OF_DUTIES"
  /** A validated issue without an approved, unused approval for this user and device (details.rule). */
  | "AUTHZ_APPROVAL_REQUIRED"
  /** A policy limit would be exceeded (details: rule, limit, current). */
  | "POLICY_LIMIT"
  /** Security answers did not check out (details: attemptsLeft, lockedUntil when this failure locked them). */
  | "AUTHZ_ANSWERS_REJECTED"
  /** Security-answer checks are locked after too many failures (details.lockedUntil, ISO 8601). */
  | "AUTHZ_LOCKED_OUT"
  /** An offline unblock challenge or response code is mistyped, tampered with, or for another card (details.problem). */
  | "OFFLINE_CODE_INVALID"
  /** A document upload or review that cannot be accepted (details.rule: type, size, reviewed, reason, card). */
  | "DOCUMENT_INVALID"
  /** An agent task of an unknown kind, or one the agent has no handler for (details: taskId, kind). */
  | "AGENT_TASK_UNSUPPORTED"
  | "CONFIG_INVALID"
  /** A key's attestation did not verify (details.check names the failed check: chain, signature, validity, root, publicKey, slot, serial). */
  | "ATTESTATION_FAILED";

/** Structured, secret-free fields attached to an error. */
export interface ErrorDetails {
  /** ISO 7816 status word, as four hex digits (e.g. `"63C2"`). */
  sw?: string;
  /** PIN/PUK tries left when the card reports them. */
  retriesLeft?: number;
  /** PKCS#11 return value name (e.g. `"CKR_PIN_INCORRECT"`). */
  ckr?: string;
  /** Our request id (idempotency key) for CA operations. */
  requestId?: string;
  /** The CA's own request id. */
  caRequestId?: string;
  /** Policy id and the rule that refused. */
  policyId?: string;
  rule?: string;
  /** Record id/kind for store errors. */
  recordId?: string;
  recordKind?: string;
  /** Expected/actual version for optimistic-concurrency conflicts. */
  expectedVersion?: number;
  actualVersion?: number;
  /** Card id / device serial involved. */
  cardId?: string;
  deviceSerial?: string;
  /** Any other secret-free facts (slot, algorithm, APDU index...). */
  [key: string]: string | number | boolean | undefined | readonly string[];
}

/** The JSON shape of a serialised {@link CardwrightError}. */
export interface SerializedError {
  name: string;
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
  cause?: SerializedError | { name: string; message: string };
}

/** Options for constructing a {@link CardwrightError}. */
export interface CardwrightErrorOptions {
  details?: ErrorDetails;
  cause?: unknown;
}

/** Base class of every error cardwright throws. */
export class CardwrightError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Structured, secret-free facts. */
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: CardwrightErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }

  /** JSON form, safe to persist in snapshots and audit events. */
  toJSON(): SerializedError {
    const out: SerializedError = {
      name: this.name,
      code: this.code,
      message: this.message,
      details: this.details,
    };
    if (this.cause instanceof CardwrightError) out.cause = this.cause.toJSON();
    else if (this.cause instanceof Error) out.cause = { name: this.cause.name, message: this.cause.message };
    return out;
  }

  /** Rebuild an error from its JSON form (e.g. from a persisted snapshot). */
  static fromJSON(json: SerializedError): CardwrightError {
    const err = new CardwrightError(json.code, json.message, { details: json.details });
    Object.defineProperty(err, "name", { value: json.name });
    return err;
  }
}

/** True when `err` is a {@link CardwrightError}, optionally with the given code. */
export function isCardwrightError(err: unknown, code?: ErrorCode): err is CardwrightError {
  return err instanceof CardwrightError && (code === undefined || err.code === code);
}

/**
 * Rethrow helper that adds short lowercase context ("selecting piv applet") while keeping
 * the original code and details; a non-cardwright error becomes `fallbackCode`.
 */
export function withContext(
  err: unknown,
  context: string,
  fallbackCode: ErrorCode = "WORKFLOW_FAILED",
): CardwrightError {
  if (err instanceof CardwrightError) {
    const wrapped = new CardwrightError(err.code, `${context}: ${err.message}`, { details: err.details, cause: err });
    Object.defineProperty(wrapped, "name", { value: err.name });
    return wrapped;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CardwrightError(fallbackCode, `${context}: ${message}`, { cause: err });
}

/** A record changed since it was read (optimistic concurrency). */
export class StoreConflictError extends CardwrightError {
  constructor(recordKind: string, recordId: string, expectedVersion: number, actualVersion?: number) {
    super(
      "STORE_CONFLICT",
      `${recordKind} ${recordId} was changed by someone else (expected version ${expectedVersion}${
        actualVersion === undefined ? "" : `, found ${actualVersion}`
      }); re-read it and retry`,
      { details: { recordKind, recordId, expectedVersion, actualVersion } },
    );
  }
}

/**
 * Another holder has a lease on the card: an operation is running on it in another process or
 * worker. `details.leaseOwner` names the holder and `details.leaseExpiresAt` (ISO 8601, by the
 * store's clock) says when a holder that stopped renewing loses it.
 */
export class CardLeasedError extends CardwrightError {
  constructor(cardId: string, leaseOwner: string, leaseExpiresAt: string) {
    super(
      "CARD_LEASED",
      `card ${cardId} is leased to ${leaseOwner} until ${leaseExpiresAt}: an operation is running on it; ` +
        "wait for it to finish, or, if its worker stopped, for the lease to expire, then retry",
      { details: { cardId, leaseOwner, leaseExpiresAt } },
    );
  }
}

/** A policy rule refused the operation; `details.rule` names the rule. */
export class PolicyError extends CardwrightError {
  constructor(policyId: string | undefined, rule: string, message: string, code: ErrorCode = "POLICY_RULE") {
    super(code, message, { details: { policyId, rule } });
  }
}
