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
  /** A card update completed: its certificates now match the card's policy. */
  | { kind: "updated"; cardId: string; userId: string; operationId: string }
  /** A CA rejected a card update's request; the update was cancelled and the card is as before. */
  | { kind: "update-rejected"; cardId: string; userId: string; operationId: string; reason: string }
  /** A random PIN to deliver to the user out of band; the only notification that carries a secret. */
  | { kind: "pin"; cardId: string; userId: string; pin: string }
  | { kind: "expiring"; cardId: string; userId: string; serialHex: string; notAfter: string }
  /** A validation officer is needed: an issuance request for `userId` waits for approval. */
  | {
      kind: "issuance-approval-requested";
      approvalId: string;
      userId: string;
      requestedBy: string;
      policyId?: string;
      /** The card, when the request named a registered device. */
      cardId?: string;
      deviceSerial?: string;
    }
  /** A validation officer approved an issuance request: an operator (not the officer) may now issue. */
  | { kind: "issuance-approved"; approvalId: string; userId: string; decidedBy: string; cardId?: string }
  /** A validation officer rejected an issuance request. */
  | {
      kind: "issuance-rejected";
      approvalId: string;
      userId: string;
      decidedBy: string;
      reason: string;
      cardId?: string;
    }
  /** Documents a policy requires wait for an administrator's review (`documentTypes` names them). */
  | {
      kind: "documents-review-requested";
      cardId: string;
      userId: string;
      operationId?: string;
      documentTypes: string[];
    }
  /** Every document the policy requires is approved: the waiting issue may be resumed. */
  | { kind: "documents-approved"; cardId: string; userId: string; operationId?: string; decidedBy: string }
  /** An administrator rejected documents: the user must upload new ones (`documentTypes`). */
  | {
      kind: "documents-rejected";
      cardId: string;
      userId: string;
      operationId?: string;
      decidedBy: string;
      reason: string;
      documentTypes: string[];
    };

/** Delivers notifications (mail, chat, a queue...). */
export interface Notifier {
  notify(notification: Notification): Promise<void>;
}
