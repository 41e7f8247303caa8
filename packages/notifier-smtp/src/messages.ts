/**
 * The text of each notification: a subject, a plain-text body and an HTML body. Only the `pin`
 * notification carries a secret, and only its body shows it.
 */
import type { CardRecord, DeviceType, DirectoryUser, Notification } from "@cardwright/core";
import { escapeHtml } from "./html.js";
import { renderPinEnvelope } from "./pin-envelope.js";

/** A rendered message. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** What the renderer knows besides the notification. */
export interface MessageContext {
  /** The card holder. */
  user: DirectoryUser;
  /** The card, when the store knows it. */
  card: CardRecord | null;
  /** Organisation or product name used in subjects. */
  issuer: string;
  /** Now, ISO 8601. */
  now: string;
}

const DEVICE_NAMES: Record<DeviceType, string> = {
  piv: "PIV smart card",
  pkcs11: "PKCS#11 token",
  software: "software certificate store",
  "tpm-vsc": "TPM virtual smart card",
};

/** A human name for a device type, as envelopes and mails show it. */
export function deviceTypeName(type: DeviceType): string {
  return DEVICE_NAMES[type];
}

function describeCard(context: MessageContext, cardId: string | undefined): string {
  const card = context.card;
  if (card !== null) return `${deviceTypeName(card.deviceType)} ${card.deviceSerial}`;
  return cardId === undefined ? "card" : `card ${cardId}`;
}

function plain(subject: string, lines: string[]): MailContent {
  const html = `<!DOCTYPE html><html><body>${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join("")}</body></html>`;
  return { subject, text: `${lines.join("\n\n")}\n`, html };
}

/** Renders `notification` for mail. */
export function renderNotification(notification: Notification, context: MessageContext): MailContent {
  const who = context.user.displayName;
  switch (notification.kind) {
    case "approval-requested":
      return plain(`[${context.issuer}] Approval needed: certificate for ${who}`, [
        `A certificate request for ${who} (template ${notification.templateId}) waits for approval at the certificate authority.`,
        `Card: ${describeCard(context, notification.cardId)}. CA request id: ${notification.caRequestId}. Operation: ${notification.operationId}.`,
        "Approve or reject it at the CA; the card's issue continues once it is decided.",
      ]);
    case "issued":
      return plain(`[${context.issuer}] Your ${describeCard(context, notification.cardId)} is ready`, [
        `Hello ${who},`,
        `your ${describeCard(context, notification.cardId)} has been issued and is ready to use.`,
      ]);
    case "rejected":
      return plain(`[${context.issuer}] Card request for ${who} was rejected`, [
        `The request for ${describeCard(context, notification.cardId)} of ${who} was rejected: ${notification.reason}.`,
        `Operation: ${notification.operationId}.`,
      ]);
    case "updated":
      return plain(`[${context.issuer}] Your ${describeCard(context, notification.cardId)} was updated`, [
        `Hello ${who},`,
        `the certificates on your ${describeCard(context, notification.cardId)} were updated to your current card policy.`,
      ]);
    case "update-rejected":
      return plain(`[${context.issuer}] Update of the card of ${who} was rejected`, [
        `The certificate authority rejected the update of ${describeCard(context, notification.cardId)} of ${who}: ${notification.reason}.`,
        `The update was cancelled; the card is as it was. Operation: ${notification.operationId}.`,
      ]);
    case "expiring":
      return plain(`[${context.issuer}] A certificate on your card expires on ${notification.notAfter.slice(0, 10)}`, [
        `Hello ${who},`,
        `the certificate ${notification.serialHex} on your ${describeCard(context, notification.cardId)} expires at ${notification.notAfter}.`,
        "Bring the card to an operator or renew it through self-service before then.",
      ]);
    case "issuance-approval-requested":
      return plain(`[${context.issuer}] Validation needed: card issuance for ${who}`, [
        `${notification.requestedBy} asks to issue a card to ${who}${notification.deviceSerial === undefined ? "" : ` on device ${notification.deviceSerial}`}.`,
        `Approval request: ${notification.approvalId}.`,
        "A validation officer other than the requester approves or rejects it; a third person then issues the card.",
      ]);
    case "issuance-approved":
      return plain(`[${context.issuer}] Card issuance for ${who} approved`, [
        `Hello ${who},`,
        `your card request (${notification.approvalId}) was approved by ${notification.decidedBy}. An operator will issue your ${describeCard(context, notification.cardId)}.`,
      ]);
    case "issuance-rejected":
      return plain(`[${context.issuer}] Card issuance for ${who} rejected`, [
        `Hello ${who},`,
        `your card request (${notification.approvalId}) was rejected by ${notification.decidedBy}: ${notification.reason}.`,
      ]);
    case "documents-review-requested":
      return plain(`[${context.issuer}] Documents to review for ${who}`, [
        `The ${describeCard(context, notification.cardId)} of ${who} waits for the review of: ${notification.documentTypes.join(", ")}.`,
        "An administrator other than the uploader approves or rejects them; the issue continues once all are approved.",
      ]);
    case "documents-approved":
      return plain(`[${context.issuer}] Your documents were approved`, [
        `Hello ${who},`,
        `the documents for your ${describeCard(context, notification.cardId)} were approved by ${notification.decidedBy}; your card's issue can be finished.`,
      ]);
    case "documents-rejected":
      return plain(`[${context.issuer}] Your documents were rejected`, [
        `Hello ${who},`,
        `${notification.decidedBy} rejected documents for your ${describeCard(context, notification.cardId)}: ${notification.reason}.`,
        `Please upload new ones: ${notification.documentTypes.join(", ")}.`,
      ]);
    case "pin": {
      const envelope = {
        userName: who,
        ...(context.user.email === undefined ? {} : { email: context.user.email }),
        deviceType: context.card === null ? "smart card" : deviceTypeName(context.card.deviceType),
        deviceSerial: context.card?.deviceSerial ?? notification.cardId,
        pin: notification.pin,
        issuer: context.issuer,
        issuedAt: context.now,
      };
      return {
        // The subject is shown in mail lists and logs of mail servers: no PIN in it.
        subject: `[${context.issuer}] PIN for ${envelope.deviceType} ${envelope.deviceSerial}`,
        text: [
          `PIN for the ${envelope.deviceType} ${envelope.deviceSerial} of ${who}:`,
          "",
          `    ${notification.pin}`,
          "",
          "Keep it secret and apart from the card.",
          "",
        ].join("\n"),
        html: renderPinEnvelope(envelope),
      };
    }
  }
}
