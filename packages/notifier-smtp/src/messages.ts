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

function describeCard(context: MessageContext, cardId: string): string {
  const card = context.card;
  return card === null ? `card ${cardId}` : `${deviceTypeName(card.deviceType)} ${card.deviceSerial}`;
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
    case "expiring":
      return plain(`[${context.issuer}] A certificate on your card expires on ${notification.notAfter.slice(0, 10)}`, [
        `Hello ${who},`,
        `the certificate ${notification.serialHex} on your ${describeCard(context, notification.cardId)} expires at ${notification.notAfter}.`,
        "Bring the card to an operator or renew it through self-service before then.",
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
