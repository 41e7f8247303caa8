/**
 * Notifications report what has already happened (a card issued, a PIN set, a decision recorded):
 * a notifier that fails must not undo or fail the operation, so a lost notification is logged
 * and dropped.
 */

import { isCardwrightError } from "../errors.js";
import type { Notification, Notifier } from "../ports/notifier.js";
import type { Logger } from "../ports/runtime.js";

/** The parts {@link notifySafely} needs; without a notifier nothing is sent. */
export interface NotifyParts {
  notifier?: Notifier | undefined;
  logger: Logger;
}

/**
 * Send `notification` if a notifier is configured; a failure is logged (`warn`, "notification
 * failed" with the kind, the card and the error's code) and never thrown. The error's text is left
 * out for the `pin` notification — the one carrying a secret, which a transport's error could echo.
 */
export async function notifySafely(parts: NotifyParts, notification: Notification): Promise<void> {
  if (parts.notifier === undefined) return;
  try {
    await parts.notifier.notify(notification);
  } catch (err) {
    const cardId = "cardId" in notification ? notification.cardId : undefined;
    parts.logger.log("warn", "notification failed", {
      kind: notification.kind,
      ...(cardId === undefined ? {} : { cardId }),
      code: isCardwrightError(err) ? err.code : "unknown",
      ...(notification.kind === "pin" ? {} : { error: err instanceof Error ? err.message : String(err) }),
    });
  }
}
