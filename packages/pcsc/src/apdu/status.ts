/**
 * Status words → typed errors (ISO/IEC 7816-4 §5.6, SP 800-73-4 Part 2 §3 "Response" tables).
 * The card edge calls {@link checkStatus} after every command; only this module decides what a
 * status word means, so every caller gets the same error for the same answer.
 */
import type { CardwrightError, ErrorDetails } from "@cardwright/core";
import {
  ApduStatusError,
  CardFullError,
  ConditionsNotSatisfiedError,
  type CredentialName,
  NotFoundError,
  PinBlockedError,
  SecurityStatusError,
  UnsupportedError,
  WrongDataError,
  WrongPinError,
} from "../errors.js";
import { Sw } from "../piv/constants.js";
import type { ResponseApdu } from "./command.js";

/** What the card edge knows about a command when it interprets the status word. */
export interface StatusContext {
  /** Instruction name, e.g. `"VERIFY"`. */
  instruction: string;
  /** The reference datum a VERIFY / CHANGE / RESET RETRY COUNTER concerned. */
  credential?: CredentialName;
  /** What was looked for, for not-found messages ("certificate in slot 9a"). */
  what?: string;
  /** Extra secret-free facts (slot, object tag...). */
  details?: ErrorDetails;
}

/** Retries left encoded in a `63Cx` status word, or `undefined` for any other. */
export function retriesFromSw(sw: number): number | undefined {
  return (sw & 0xfff0) === Sw.verifyFailPrefix ? sw & 0x0f : undefined;
}

/** The typed error for a status word other than `9000`. */
export function statusError(sw: number, context: StatusContext): CardwrightError {
  const ctx = { instruction: context.instruction, sw, details: context.details };
  const retries = retriesFromSw(sw);
  if (retries !== undefined) {
    const credential = context.credential ?? "PIN";
    return retries === 0 ? new PinBlockedError(credential, ctx) : new WrongPinError(credential, retries, ctx);
  }
  switch (sw) {
    case Sw.authMethodBlocked:
      return new PinBlockedError(context.credential ?? "PIN", ctx);
    case Sw.securityStatusNotSatisfied:
      return new SecurityStatusError(ctx);
    case Sw.fileNotFound:
    case Sw.referenceNotFound:
      return new NotFoundError(context.what ?? "the requested object or key", ctx);
    case Sw.wrongData:
      return new WrongDataError(ctx);
    case Sw.notEnoughMemory:
    case Sw.memoryFailure:
      return new CardFullError(
        `the card has no room left for ${context.what ?? "the data"} (${context.instruction}); ` +
          "delete unused certificates or data objects, or store a compressed certificate",
        ctx,
      );
    case Sw.conditionsNotSatisfied:
    case Sw.commandNotAllowed:
      return new ConditionsNotSatisfiedError(
        `the card refused ${context.instruction}: conditions of use not satisfied; ` +
          "check the card's state (PIN/touch policy, blocked credentials) before retrying",
        ctx,
      );
    case Sw.insNotSupported:
    case Sw.claNotSupported:
    case Sw.functionNotSupported:
      return new UnsupportedError(
        `the card does not support ${context.instruction}; it may not be a YubiKey or its firmware is too old`,
        ctx,
      );
    case Sw.incorrectP1P2:
      return new UnsupportedError(
        `the card does not support the parameters of ${context.instruction} (slot or algorithm)`,
        ctx,
      );
    default:
      return new ApduStatusError(ctx);
  }
}

/**
 * The response data when the status word is `9000`.
 * @throws the typed error of {@link statusError} for any other status word.
 */
export function checkStatus(response: ResponseApdu, context: StatusContext): Uint8Array {
  if (response.sw === Sw.ok) return response.data;
  throw statusError(response.sw, context);
}
