/**
 * PC/SC failures as cardwright errors. The binding reports SCard* return codes as the
 * pcsc-lite message text (it carries no numeric code), so the mapping goes by that text;
 * the numeric codes are the PC/SC Workgroup's (pcsclite.h).
 */
import { CardwrightError, type ErrorCode } from "@cardwright/core";

interface Mapping {
  code: ErrorCode;
  /** PC/SC return code name, for details and support. */
  scard: string;
  /** What to do, appended to the message. */
  advice: string;
}

const BY_MESSAGE: ReadonlyMap<string, Mapping> = new Map<string, Mapping>([
  [
    "PC/SC service not running",
    {
      code: "PCSC_NO_SERVICE",
      scard: "SCARD_E_NO_SERVICE",
      advice: "start pcscd (systemctl start pcscd, or pcscd --foreground)",
    },
  ],
  [
    "PC/SC service stopped",
    {
      code: "PCSC_NO_SERVICE",
      scard: "SCARD_E_SERVICE_STOPPED",
      advice: "pcscd stopped; start it again and reopen the reader",
    },
  ],
  [
    "Card was removed",
    { code: "APDU_CARD_REMOVED", scard: "SCARD_W_REMOVED_CARD", advice: "insert the card again and retry" },
  ],
  [
    "No smart card present",
    { code: "APDU_CARD_REMOVED", scard: "SCARD_E_NO_SMARTCARD", advice: "insert the card and retry" },
  ],
  [
    "Sharing violation",
    {
      code: "PCSC_SHARING_VIOLATION",
      scard: "SCARD_E_SHARING_VIOLATION",
      advice: "another application holds the card; close it (or wait for its operation to end) and retry",
    },
  ],
  ["Operation timed out", { code: "APDU_TIMEOUT", scard: "SCARD_E_TIMEOUT", advice: "retry; check the reader" }],
  [
    "Card was reset",
    {
      code: "PCSC_CARD_RESET",
      scard: "SCARD_W_RESET_CARD",
      advice: "another application reset the card, so PIN and selection are lost; open the device again and retry",
    },
  ],
  [
    "Unknown reader",
    { code: "DEVICE_NOT_FOUND", scard: "SCARD_E_UNKNOWN_READER", advice: "list the readers and pick one of them" },
  ],
  [
    "Reader unavailable",
    { code: "DEVICE_NOT_FOUND", scard: "SCARD_E_READER_UNAVAILABLE", advice: "reconnect the reader" },
  ],
  [
    "No readers available",
    { code: "DEVICE_NOT_FOUND", scard: "SCARD_E_NO_READERS_AVAILABLE", advice: "connect a reader" },
  ],
  [
    "Protocol mismatch",
    {
      code: "APDU_TRANSPORT",
      scard: "SCARD_E_PROTO_MISMATCH",
      advice:
        "the card does not speak the requested protocol, or still runs another one from a previous session (reset it)",
    },
  ],
  ["Card is unresponsive", { code: "APDU_TRANSPORT", scard: "SCARD_W_UNRESPONSIVE_CARD", advice: "reinsert the card" }],
  ["Card is unpowered", { code: "APDU_TRANSPORT", scard: "SCARD_W_UNPOWERED_CARD", advice: "reinsert the card" }],
  [
    "Card is not supported",
    { code: "APDU_TRANSPORT", scard: "SCARD_W_UNSUPPORTED_CARD", advice: "use a supported card" },
  ],
  [
    "Transaction failed",
    {
      code: "APDU_TRANSPORT",
      scard: "SCARD_E_NOT_TRANSACTED",
      advice: "the reader lost the exchange; retry, reinserting the card if needed",
    },
  ],
  [
    "Communication error",
    { code: "APDU_TRANSPORT", scard: "SCARD_F_COMM_ERROR", advice: "check the reader connection and pcscd" },
  ],
  [
    "Card is not connected",
    { code: "APDU_CARD_REMOVED", scard: "SCARD_E_INVALID_HANDLE", advice: "open the reader again" },
  ],
]);

/** Facts to put in the error. */
export interface PcscErrorContext {
  /** What we were doing, lowercase ("transmitting", "connecting"). */
  action: string;
  reader?: string;
  details?: Record<string, string | number | boolean | undefined>;
}

/** The PC/SC return code name the binding's message stands for, when known. */
export function scardCodeOf(err: unknown): string | undefined {
  return err instanceof Error ? BY_MESSAGE.get(err.message)?.scard : undefined;
}

/** Turn a binding failure into a CardwrightError with a stable code and an actionable message. */
export function pcscError(err: unknown, context: PcscErrorContext): CardwrightError {
  if (err instanceof CardwrightError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const mapping = BY_MESSAGE.get(text);
  const where = context.reader === undefined ? "" : ` (${context.reader})`;
  const code: ErrorCode = mapping?.code ?? "APDU_TRANSPORT";
  const advice = mapping?.advice ?? "check pcscd and the reader";
  return new CardwrightError(code, `${context.action}${where}: ${text}; ${advice}`, {
    cause: err,
    details: { ...context.details, reader: context.reader, scard: mapping?.scard },
  });
}
