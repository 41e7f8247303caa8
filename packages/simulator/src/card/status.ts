/**
 * How a card handler refuses a command: it throws {@link CardStatus} with the ISO/IEC 7816-4
 * §5.6 status word the card returns. The dispatcher turns it into the response trailer; it
 * never leaves the card.
 */
import { CardwrightError, type ErrorCode } from "@cardwright/core";

/** Status words the virtual card answers with (ISO/IEC 7816-4 §5.6, SP 800-73-4 Part 2 §3). */
export const SW = {
  ok: 0x9000,
  wrongLength: 0x6700,
  lastCommandOfChainExpected: 0x6883,
  securityStatusNotSatisfied: 0x6982,
  authMethodBlocked: 0x6983,
  conditionsNotSatisfied: 0x6985,
  wrongData: 0x6a80,
  functionNotSupported: 0x6a81,
  fileNotFound: 0x6a82,
  notEnoughMemory: 0x6a84,
  incorrectP1P2: 0x6a86,
  referenceNotFound: 0x6a88,
  insNotSupported: 0x6d00,
  claNotSupported: 0x6e00,
  noPreciseDiagnosis: 0x6f00,
} as const;

function codeFor(sw: number): ErrorCode {
  if ((sw & 0xfff0) === 0x63c0) return "PIV_WRONG_PIN";
  switch (sw) {
    case SW.securityStatusNotSatisfied:
      return "PIV_SECURITY_STATUS";
    case SW.authMethodBlocked:
      return "PIV_PIN_BLOCKED";
    case SW.conditionsNotSatisfied:
      return "PIV_CONDITIONS_NOT_SATISFIED";
    case SW.fileNotFound:
    case SW.referenceNotFound:
      return "PIV_NOT_FOUND";
    case SW.notEnoughMemory:
      return "PIV_CARD_FULL";
    case SW.wrongData:
    case SW.incorrectP1P2:
      return "PIV_WRONG_DATA";
    case SW.wrongLength:
    case SW.claNotSupported:
    case SW.lastCommandOfChainExpected:
      return "APDU_INVALID_COMMAND";
    default:
      return "PIV_UNSUPPORTED";
  }
}

/** Hex form of a status word, e.g. `"6A82"`. */
export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, "0");
}

/** A command refused by the card with status word `sw`. Carries no command data. */
export class CardStatus extends CardwrightError {
  readonly sw: number;

  constructor(sw: number, reason: string) {
    super(codeFor(sw), `card answers ${swHex(sw)}: ${reason}`, { details: { sw: swHex(sw) } });
    this.sw = sw;
  }
}
