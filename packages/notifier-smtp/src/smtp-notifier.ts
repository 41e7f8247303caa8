/**
 * A {@link Notifier} that sends mail over SMTP (RFC 5321) with nodemailer: approval requests to
 * the approvers, results and expiry notices to the card holder, and random PINs — as a printable
 * envelope — to the holder or, where policy prefers, to the holder's manager.
 */
import {
  type CardRecord,
  CardwrightError,
  type Clock,
  type Directory,
  type DirectoryUser,
  type Notification,
  type Notifier,
} from "@cardwright/core";
import { createTransport, type Transporter } from "nodemailer";
import { type MailContent, renderNotification } from "./messages.js";

/** How to reach the SMTP server. */
export interface SmtpServerOptions {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (SMTPS, usually port 465). */
  secure?: boolean;
  /** Refuse to send unless the server upgrades with STARTTLS (RFC 3207). */
  requireTls?: boolean;
  /** SMTP AUTH credentials. Secret: never logged. */
  auth?: { user: string; pass: string };
  /** PEM trust anchors for the server's certificate, when it is not publicly trusted. */
  ca?: string | Uint8Array;
  /** Milliseconds to wait for the connection and for the greeting (default 10 000 each). */
  connectTimeoutMs?: number;
  /** Milliseconds of silence after which a session is abandoned (default 30 000). */
  socketTimeoutMs?: number;
}

/** Options of {@link SmtpNotifier}. */
export interface SmtpNotifierOptions {
  smtp: SmtpServerOptions;
  /** The From address, e.g. `"Card office <cards@example.org>"`. */
  from: string;
  /** Resolves card holders (and their managers) to e-mail addresses. */
  directory: Directory;
  /** Card records, so mails name the device type and serial; without it mails name the card id. */
  cards?: { get(id: string): Promise<CardRecord | null> };
  /**
   * Who is asked to decide: CA approvals (`approval-requested`), issuance validation
   * (`issuance-approval-requested`) and document review (`documents-review-requested`). Required for those.
   */
  approvers?: readonly string[];
  /** Who receives random PINs: the holder (default) or the holder's manager. */
  pinRecipient?: "user" | "manager";
  /** The directory attribute holding the manager's user id (default `"manager"`). */
  managerAttribute?: string;
  /** Organisation or product name in subjects and envelopes (default `"cardwright"`). */
  issuer?: string;
  clock?: Clock;
}

/** A mail ready to go: recipients and content. */
interface Envelope {
  to: readonly string[];
  content: MailContent;
}

/**
 * Sends each notification as one mail. Delivery problems are {@link CardwrightError}s:
 * `NOTIFY_NO_RECIPIENT` when nobody can be addressed, `NOTIFY_FAILED` when the SMTP server
 * cannot be reached or refuses the mail. Neither message nor details ever contain the PIN.
 */
export class SmtpNotifier implements Notifier {
  readonly #options: SmtpNotifierOptions;
  readonly #transport: Transporter;

  constructor(options: SmtpNotifierOptions) {
    this.#options = options;
    const smtp = options.smtp;
    this.#transport = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure ?? false,
      requireTLS: smtp.requireTls ?? false,
      ...(smtp.auth === undefined ? {} : { auth: { user: smtp.auth.user, pass: smtp.auth.pass } }),
      ...(smtp.ca === undefined ? {} : { tls: { ca: typeof smtp.ca === "string" ? smtp.ca : Buffer.from(smtp.ca) } }),
      connectionTimeout: smtp.connectTimeoutMs ?? 10_000,
      greetingTimeout: smtp.connectTimeoutMs ?? 10_000,
      socketTimeout: smtp.socketTimeoutMs ?? 30_000,
      // nodemailer's logger would print message bodies, and a body may hold a PIN.
      logger: false,
      debug: false,
    });
  }

  async notify(notification: Notification): Promise<void> {
    const envelope = await this.#address(notification);
    try {
      await this.#transport.sendMail({
        from: this.#options.from,
        to: [...envelope.to],
        subject: envelope.content.subject,
        text: envelope.content.text,
        html: envelope.content.html,
      });
    } catch (err) {
      throw new CardwrightError(
        "NOTIFY_FAILED",
        `mailing the ${notification.kind} notification for ${subjectOf(notification)} through ${this.#server()} failed: ` +
          `${describeSmtpFailure(err)}; check the SMTP server and retry`,
        { details: { cardId: notification.cardId, notification: notification.kind, ...smtpFacts(err) } },
      );
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.#transport.close();
  }

  async #address(notification: Notification): Promise<Envelope> {
    const user = await this.#user(notification.userId, notification);
    const card =
      notification.cardId === undefined ? null : ((await this.#options.cards?.get(notification.cardId)) ?? null);
    const content = renderNotification(notification, {
      user,
      card,
      issuer: this.#options.issuer ?? "cardwright",
      now: (this.#options.clock?.now() ?? new Date()).toISOString(),
    });
    switch (notification.kind) {
      // Requests for a decision go to the people who decide: CA approvers, validation officers, reviewers.
      case "approval-requested":
      case "issuance-approval-requested":
      case "documents-review-requested": {
        const approvers = this.#options.approvers ?? [];
        if (approvers.length === 0) {
          throw noRecipient(notification, "no approvers are configured (SmtpNotifierOptions.approvers)");
        }
        return { to: approvers, content };
      }
      case "pin":
        return { to: [await this.#pinRecipient(user, notification)], content };
      default:
        return { to: [emailOf(user, notification, "card holder")], content };
    }
  }

  async #pinRecipient(user: DirectoryUser, notification: Notification): Promise<string> {
    if ((this.#options.pinRecipient ?? "user") === "user") return emailOf(user, notification, "card holder");
    const attribute = this.#options.managerAttribute ?? "manager";
    const managerId = user.attributes[attribute];
    if (managerId === undefined || managerId === "") {
      throw noRecipient(notification, `user ${user.id} has no "${attribute}" attribute naming a manager`);
    }
    return emailOf(await this.#user(managerId, notification), notification, "manager");
  }

  async #user(id: string, notification: Notification): Promise<DirectoryUser> {
    const user = await this.#options.directory.getUser(id);
    if (user === null) throw noRecipient(notification, `user ${id} is not in the directory`);
    return user;
  }

  #server(): string {
    return `${this.#options.smtp.host}:${this.#options.smtp.port}`;
  }
}

function emailOf(user: DirectoryUser, notification: Notification, role: string): string {
  if (user.email === undefined || user.email === "") {
    throw noRecipient(notification, `the ${role} ${user.id} has no e-mail address in the directory`);
  }
  return user.email;
}

function noRecipient(notification: Notification, why: string): CardwrightError {
  return new CardwrightError(
    "NOTIFY_NO_RECIPIENT",
    `cannot mail the ${notification.kind} notification for ${subjectOf(notification)}: ${why}`,
    { details: { cardId: notification.cardId, userId: notification.userId, notification: notification.kind } },
  );
}

/** What a notification is about, for messages: its card, else its user (an issuance request may name no card yet). */
function subjectOf(notification: Notification): string {
  return notification.cardId === undefined ? `user ${notification.userId}` : `card ${notification.cardId}`;
}

/** nodemailer's error fields worth keeping; its message can quote the server, never the body. */
function smtpFacts(err: unknown): { smtpCode?: string; smtpResponseCode?: number } {
  const e = err as { code?: unknown; responseCode?: unknown };
  return {
    ...(typeof e.code === "string" ? { smtpCode: e.code } : {}),
    ...(typeof e.responseCode === "number" ? { smtpResponseCode: e.responseCode } : {}),
  };
}

function describeSmtpFailure(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown };
  if (typeof e.responseCode === "number" && typeof e.response === "string") {
    return `the server answered ${e.response.slice(0, 200)}`;
  }
  if (typeof e.code === "string") return `${e.code}${typeof e.message === "string" ? ` (${e.message})` : ""}`;
  return String(err);
}
