/**
 * Expiry monitoring: which certificates in the inventory — issued by cardwright or found on a card
 * (third-party) — expire within N days (RFC 5280 §4.1.2.5 notAfter), grouped by card and user, and
 * the `expiring` notification for each, sent once per certificate and threshold. What was sent is
 * remembered in the audit log (`certificate.expiry-notified` with `thresholdDays`), checked before
 * sending, so a daily run does not repeat itself; a notice at a threshold also covers every larger
 * threshold (a certificate told "7 days left" is not told "30 days left" afterwards).
 */
import type { CardRecord, CertificateRecord } from "../domain/card.js";
import { CardwrightError, isCardwrightError, type SerializedError, withContext } from "../errors.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { Notifier } from "../ports/notifier.js";
import type { Clock, Logger } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";
import { silentLogger } from "../runtime/logger.js";
import { CardLeaseKeeper } from "../workflows/card-lease-keeper.js";

/** Audit action recording an `expiring` notification that was sent. */
export const EXPIRY_NOTIFIED_ACTION = "certificate.expiry-notified";

/**
 * Lease key that lets one notification run at a time across every process sharing the store, so
 * two daily jobs started together cannot both find a certificate un-notified and both send.
 */
export const EXPIRY_NOTIFY_LEASE = "job:expiry-notify";

const NOTIFY_LEASE_TTL_MS = 60_000;

/** Statuses of certificates that can no longer expire in use: they are left out. */
const ENDED: readonly CertificateRecord["status"][] = ["revoked", "removed", "expired"];

const DAY_MS = 86_400_000;

/** What {@link ExpiryMonitor} needs; the facade passes its own parts. */
export interface ExpiryMonitorDependencies {
  store: Store;
  auditLog: AuditLog;
  clock: Clock;
  notifier?: Notifier;
  logger?: Logger;
}

/** Options of {@link ExpiryMonitor.listExpiring}. */
export interface ListExpiringOptions {
  /** Certificates whose notAfter is less than this many days from now (a whole number, 1 to 3650). */
  withinDays: number;
}

/** A certificate that expires soon. */
export interface ExpiringCertificate {
  certificate: CertificateRecord;
  /** ISO 8601. */
  notAfter: string;
  /** Whole days left, rounded down (0 on the last day). */
  daysLeft: number;
}

/** A card with certificates that expire soon. */
export interface ExpiringCard {
  cardId: string;
  /** The certificate's user, else the card's. */
  userId?: string;
  deviceSerial?: string;
  cardState?: CardRecord["state"];
  /** Soonest first. */
  certificates: ExpiringCertificate[];
  /** The soonest notAfter among them, ISO 8601. */
  soonestNotAfter: string;
}

/** Result of {@link ExpiryMonitor.listExpiring}. */
export interface ExpiryReport {
  /** ISO 8601: when the report was made. */
  asOf: string;
  /** ISO 8601: certificates expiring before this instant are listed. */
  before: string;
  withinDays: number;
  /** Soonest expiry first. */
  certificates: ExpiringCertificate[];
  /** By card, soonest expiry first. */
  cards: ExpiringCard[];
  /** By user, the users' cards soonest first; certificates whose card has no user are not in it. */
  users: { userId: string; cards: ExpiringCard[] }[];
}

/** Options of {@link ExpiryMonitor.notifyExpiring}. */
export interface NotifyExpiringOptions extends ListExpiringOptions {
  /** Who runs the notification (recorded in the audit log); `system` by default. */
  actor?: string;
}

/** Result of {@link ExpiryMonitor.notifyExpiring}. */
export interface NotifyExpiringResult {
  withinDays: number;
  /** Certificates notified in this run. */
  notified: ExpiringCertificate[];
  /** Certificates left alone because a notice at this or a smaller threshold was sent before. */
  alreadyNotified: ExpiringCertificate[];
  /** Certificates with no user (neither on the certificate nor on its card): nobody to tell. */
  noRecipient: ExpiringCertificate[];
  /** Notifications the notifier failed to deliver; they are tried again on the next run. */
  failed: { certificate: ExpiringCertificate; error: SerializedError }[];
}

/** Lists and notifies expiring certificates; see the module comment. */
export class ExpiryMonitor {
  readonly #d: ExpiryMonitorDependencies;

  constructor(deps: ExpiryMonitorDependencies) {
    this.#d = deps;
  }

  /**
   * Certificates that have not expired yet but will within `withinDays` days, leaving out revoked,
   * removed and expired ones; third-party certificates are included.
   * @throws CardwrightError `CONFIG_INVALID` when `withinDays` is not a whole number from 1 to 3650.
   */
  async listExpiring(options: ListExpiringOptions): Promise<ExpiryReport> {
    const withinDays = requireDays(options.withinDays);
    const now = this.#d.clock.now();
    const before = new Date(now.getTime() + withinDays * DAY_MS);
    const rows = await this.#d.store.certificates.list({ expiringBefore: before.toISOString() });
    const certificates = rows
      .filter((c) => !ENDED.includes(c.status) && c.notAfter !== undefined && Date.parse(c.notAfter) > now.getTime())
      .map((c) => ({
        certificate: c,
        notAfter: c.notAfter as string,
        daysLeft: Math.floor((Date.parse(c.notAfter as string) - now.getTime()) / DAY_MS),
      }));
    const cards = await this.#byCard(certificates);
    const users = new Map<string, ExpiringCard[]>();
    for (const card of cards) {
      if (card.userId === undefined) continue;
      users.set(card.userId, [...(users.get(card.userId) ?? []), card]);
    }
    return {
      asOf: now.toISOString(),
      before: before.toISOString(),
      withinDays,
      certificates,
      cards,
      users: [...users].map(([userId, userCards]) => ({ userId, cards: userCards })),
    };
  }

  /**
   * Sends the Notifier's `expiring` notification for each certificate {@link listExpiring} finds,
   * unless one was sent for it at this or a smaller threshold; each sent one is audited
   * `certificate.expiry-notified` (certificate id, serial, notAfter, thresholdDays). A delivery
   * failure is audited `certificate.expiry-notify-failed`, reported, and retried on the next run.
   * One run at a time across processes sharing the store (a lease on {@link EXPIRY_NOTIFY_LEASE}).
   * @throws CardwrightError `CONFIG_INVALID` without a notifier or for a bad `withinDays`;
   * CardLeasedError `CARD_LEASED` while another run is in progress (retry after it).
   */
  async notifyExpiring(options: NotifyExpiringOptions): Promise<NotifyExpiringResult> {
    const notifier = this.#d.notifier;
    if (notifier === undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        "notifyExpiring needs a notifier; pass one in the Cardwright options",
        {
          details: { field: "notifier" },
        },
      );
    }
    const report = await this.listExpiring(options);
    const actor = options.actor ?? "system";
    const lease = await CardLeaseKeeper.acquire(
      this.#d.store,
      EXPIRY_NOTIFY_LEASE,
      `expiry-monitor:${actor}`,
      NOTIFY_LEASE_TTL_MS,
      this.#d.logger ?? silentLogger,
    );
    try {
      return await this.#notify(notifier, report, actor);
    } finally {
      await lease.release();
    }
  }

  async #notify(notifier: Notifier, report: ExpiryReport, actor: string): Promise<NotifyExpiringResult> {
    const result: NotifyExpiringResult = {
      withinDays: report.withinDays,
      notified: [],
      alreadyNotified: [],
      noRecipient: [],
      failed: [],
    };
    for (const card of report.cards) {
      const sent = await this.#notifiedThresholds(card.cardId);
      for (const expiring of card.certificates) {
        const c = expiring.certificate;
        const thresholds = sent.get(c.id) ?? [];
        if (thresholds.some((t) => t <= report.withinDays)) {
          result.alreadyNotified.push(expiring);
          continue;
        }
        const userId = c.userId ?? card.userId;
        if (userId === undefined) {
          result.noRecipient.push(expiring);
          continue;
        }
        const facts = {
          certificateId: c.id,
          serialHex: c.serialHex ?? "",
          notAfter: expiring.notAfter,
          thresholdDays: report.withinDays,
          daysLeft: expiring.daysLeft,
          ...(c.thirdParty === true ? { thirdParty: true } : {}),
        };
        try {
          await notifier.notify({
            kind: "expiring",
            cardId: c.cardId,
            userId,
            serialHex: c.serialHex ?? "",
            notAfter: expiring.notAfter,
          });
        } catch (err) {
          const error = (
            isCardwrightError(err) ? err : withContext(err, "sending expiry notification", "NOTIFY_FAILED")
          ).toJSON();
          await this.#d.auditLog.append({
            actor,
            action: "certificate.expiry-notify-failed",
            cardId: c.cardId,
            userId,
            details: { ...facts, code: error.code },
          });
          result.failed.push({ certificate: expiring, error });
          continue;
        }
        await this.#d.auditLog.append({
          actor,
          action: EXPIRY_NOTIFIED_ACTION,
          cardId: c.cardId,
          userId,
          details: facts,
        });
        result.notified.push(expiring);
      }
    }
    return result;
  }

  /** Certificate id → thresholds it was notified at, from the card's audit events. */
  async #notifiedThresholds(cardId: string): Promise<Map<string, number[]>> {
    const sent = new Map<string, number[]>();
    for (const e of await this.#d.store.audit.list({ cardId })) {
      if (e.action !== EXPIRY_NOTIFIED_ACTION) continue;
      const id = e.details?.certificateId;
      const threshold = e.details?.thresholdDays;
      if (typeof id !== "string" || typeof threshold !== "number") continue;
      sent.set(id, [...(sent.get(id) ?? []), threshold]);
    }
    return sent;
  }

  async #byCard(certificates: ExpiringCertificate[]): Promise<ExpiringCard[]> {
    const groups = new Map<string, ExpiringCertificate[]>();
    for (const c of certificates) {
      groups.set(c.certificate.cardId, [...(groups.get(c.certificate.cardId) ?? []), c]);
    }
    const cards: ExpiringCard[] = [];
    for (const [cardId, list] of groups) {
      const card = await this.#d.store.cards.get(cardId);
      const userId = list.find((c) => c.certificate.userId !== undefined)?.certificate.userId ?? card?.userId;
      cards.push({
        cardId,
        ...(userId === undefined ? {} : { userId }),
        ...(card === null ? {} : { deviceSerial: card.deviceSerial, cardState: card.state }),
        certificates: list,
        soonestNotAfter: list[0]!.notAfter,
      });
    }
    return cards.sort((a, b) => Date.parse(a.soonestNotAfter) - Date.parse(b.soonestNotAfter));
  }
}

function requireDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      `withinDays must be a whole number of days from 1 to 3650, got ${days}`,
      {
        details: { field: "withinDays" },
      },
    );
  }
  return days;
}
