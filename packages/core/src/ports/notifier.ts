/** The `Notifier` port: tells people what they need to know. */

/** Something to tell a user, a manager or an operator. */
export type Notification =
  | {
      kind: "approval-requested";
      cardId: string;
      userId: string;
      operationId: string;
      templateId: string;
      caRequestId: string;
    }
  | { kind: "issued"; cardId: string; userId: string; operationId: string }
  | { kind: "rejected"; cardId: string; userId: string; operationId: string; reason: string }
  /** A random PIN to deliver to the user out of band; the only notification that carries a secret. */
  | { kind: "pin"; cardId: string; userId: string; pin: string }
  | { kind: "expiring"; cardId: string; userId: string; serialHex: string; notAfter: string };

/** Delivers notifications (mail, chat, a queue...). */
export interface Notifier {
  notify(notification: Notification): Promise<void>;
}
