export { escapeHtml } from "./html.js";
export { deviceTypeName, type MailContent, type MessageContext, renderNotification } from "./messages.js";
export { type PinEnvelopeData, renderPinEnvelope } from "./pin-envelope.js";
export { SmtpNotifier, type SmtpNotifierOptions, type SmtpServerOptions } from "./smtp-notifier.js";
