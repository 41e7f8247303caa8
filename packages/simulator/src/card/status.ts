/**
 * How a card handler refuses a command: it throws {@link CardStatus} with the ISO/IEC 7816-4
 * §5.6 status word the card returns. The dispatcher turns it into the response trailer; it
 * never leaves the card.
 */
import { CardwrightError, type ErrorCode } from "@cardwright/core";
import { formatSw, Sw } from "@cardwright/pcsc";

function codeFor(sw: number): ErrorCode {
  if ((sw & 0xfff0) === Sw.verifyFailPrefix) return "PIV_WRONG_PIN";
  switch (sw) {
    case Sw.securityStatusNotSatisfied:
      return "PIV_SECURITY_STATUS";
    case Sw.authMethodBlocked:
      return "PIV_PIN_BLOCKED";
    case Sw.conditionsNotSatisfied:
      return "PIV_CONDITIONS_NOT_SATISFIED";
    case Sw.fileNotFound:
    case Sw.referenceNotFound:
      return "PIV_NOT_FOUND";
    case Sw.notEnoughMemory:
      return "PIV_CARD_FULL";
    case Sw.wrongData:
    case Sw.incorrectP1P2:
      return "PIV_WRONG_DATA";
    case Sw.wrongLength:
    case Sw.claNotSupported:
    case Sw.lastCommandOfChainExpected:
      return "APDU_INVALID_COMMAND";
    default:
      return "PIV_UNSUPPORTED";
  }
}

/** A command refused by the card with status word `sw`. Carries no command data. */
export class CardStatus extends CardwrightError {
  readonly sw: number;

  constructor(sw: number, reason: string) {
    super(codeFor(sw), `card answers ${formatSw(sw)}: ${reason}`, { details: { sw: formatSw(sw) } });
    this.sw = sw;
  }
}
