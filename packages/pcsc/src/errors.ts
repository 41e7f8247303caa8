/**
 * Typed errors of the card edge. Status words become these in `apdu/status.ts`; host-side
 * refusals (capability, argument checks) are thrown directly. Every error carries
 * `details.sw` (four uppercase hex digits) when a card answered, and `details.instruction`
 * (the ISO 7816 / SP 800-73-4 command name) so a support engineer can read it without a trace.
 * None of them ever carries a PIN, PUK or key.
 */
import { CardwrightError, type ErrorCode, type ErrorDetails } from "@cardwright/core";

/** Context of a failed exchange: which instruction, which status word. */
export interface ApduErrorContext {
  /** Instruction name, e.g. `"VERIFY"`. */
  instruction?: string;
  /** Status word as returned by the card. */
  sw?: number;
  /** Further secret-free facts (slot, object tag, algorithm...). */
  details?: ErrorDetails;
  cause?: unknown;
}

/** Four uppercase hex digits, the form `details.sw` always uses. */
export function formatSw(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, "0");
}

function buildDetails(context: ApduErrorContext): ErrorDetails {
  const details: ErrorDetails = { ...context.details };
  if (context.sw !== undefined) details.sw = formatSw(context.sw);
  if (context.instruction !== undefined) details.instruction = context.instruction;
  return details;
}

/** Common base of the card-edge errors: fills `sw` and `instruction` into the details. */
export abstract class CardEdgeError extends CardwrightError {
  protected constructor(code: ErrorCode, message: string, context: ApduErrorContext) {
    super(code, message, { details: buildDetails(context), cause: context.cause });
  }
}

/** Which reference datum a verification concerned. */
export type CredentialName = "PIN" | "PUK";

/**
 * The card refused a PIN or PUK and said how many tries remain (`63Cx`, ISO 7816-4 §5.6,
 * SP 800-73-4 Part 2 §3.2.1). `details.retriesLeft` holds the count.
 */
export class WrongPinError extends CardEdgeError {
  readonly retriesLeft: number;
  constructor(credential: CredentialName, retriesLeft: number, context: ApduErrorContext = {}) {
    super(
      "PIV_WRONG_PIN",
      `wrong ${credential}, ${retriesLeft} ${retriesLeft === 1 ? "try" : "tries"} left before the ${credential} is blocked; ` +
        "check the value before trying again",
      { ...context, details: { ...context.details, retriesLeft, credential } },
    );
    this.retriesLeft = retriesLeft;
  }
}

/** The PIN or PUK is blocked (`6983`, or `63C0` on the try that blocked it). */
export class PinBlockedError extends CardEdgeError {
  constructor(credential: CredentialName, context: ApduErrorContext = {}) {
    const remedy =
      credential === "PIN"
        ? "unblock it with the PUK (or an administrator unblock)"
        : "the card can only be reset to factory state, erasing its keys";
    super("PIV_PIN_BLOCKED", `the ${credential} is blocked; ${remedy}`, {
      ...context,
      details: { ...context.details, retriesLeft: 0, credential },
    });
  }
}

/** Security status not satisfied (`6982`): the PIN or management key was not presented first. */
export class SecurityStatusError extends CardEdgeError {
  constructor(context: ApduErrorContext = {}) {
    super(
      "PIV_SECURITY_STATUS",
      `the card refused ${context.instruction ?? "the command"}: security status not satisfied; ` +
        "verify the PIN or authenticate with the management key first",
      context,
    );
  }
}

/** Management-key (or other challenge-response) authentication failed. */
export class AuthenticationFailedError extends CardEdgeError {
  constructor(message: string, context: ApduErrorContext = {}) {
    super("PIV_AUTH_FAILED", message, context);
  }
}

/** Data object or key reference not found (`6A82`, `6A88`). */
export class NotFoundError extends CardEdgeError {
  constructor(what: string, context: ApduErrorContext = {}) {
    super("PIV_NOT_FOUND", `${what} not found on the card`, context);
  }
}

/** Incorrect parameters in the command data field (`6A80`). */
export class WrongDataError extends CardEdgeError {
  constructor(context: ApduErrorContext = {}) {
    super(
      "PIV_WRONG_DATA",
      `the card rejected the data of ${context.instruction ?? "the command"} (incorrect parameters); ` +
        "check the algorithm, slot and value sizes this card supports",
      context,
    );
  }
}

/** No room left on the card (`6A84`, `6581`) or an object larger than the card accepts. */
export class CardFullError extends CardEdgeError {
  constructor(message: string, context: ApduErrorContext = {}) {
    super("PIV_CARD_FULL", message, context);
  }
}

/** Conditions of use not satisfied (`6985`), e.g. YubiKey RESET while PIN or PUK are not blocked. */
export class ConditionsNotSatisfiedError extends CardEdgeError {
  constructor(message: string, context: ApduErrorContext = {}) {
    super("PIV_CONDITIONS_NOT_SATISFIED", message, context);
  }
}

/** The card (or its firmware) does not support what was asked; refused before or by the card. */
export class UnsupportedError extends CardEdgeError {
  constructor(message: string, context: ApduErrorContext = {}) {
    super("PIV_UNSUPPORTED", message, context);
  }
}

/** Any status word without a more specific meaning for the instruction. */
export class ApduStatusError extends CardEdgeError {
  constructor(context: ApduErrorContext & { sw: number }) {
    super(
      "APDU_UNEXPECTED_STATUS",
      `the card answered ${context.instruction ?? "the command"} with status ${formatSw(context.sw)}; ` +
        "the card may not support this operation or is in an unexpected state",
      context,
    );
  }
}

/** The card's answer could not be understood (bad TLV, wrong length, unknown enum byte). */
export class BadResponseError extends CardEdgeError {
  constructor(message: string, context: ApduErrorContext = {}) {
    super("APDU_MALFORMED_RESPONSE", `malformed response: ${message}`, context);
  }
}

/** A command could not be built from the caller's arguments (bad PIN length, wrong key size...). */
export class InvalidCommandError extends CardEdgeError {
  constructor(message: string, context: ApduErrorContext = {}) {
    super("APDU_INVALID_COMMAND", message, context);
  }
}

/** The card did not answer within the command's time limit. */
export class ApduTimeoutError extends CardEdgeError {
  constructor(timeoutMs: number, context: ApduErrorContext = {}) {
    super(
      "APDU_TIMEOUT",
      `the card did not answer ${context.instruction ?? "the command"} within ${timeoutMs} ms; ` +
        "check the card is seated and retry",
      { ...context, details: { ...context.details, timeoutMs } },
    );
  }
}
