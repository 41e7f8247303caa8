/**
 * The limits of {@link Policy.limits}, checked before an issue starts (before a key is generated or
 * a request reaches a CA): how many cards one user may hold, and how many live certificates of one
 * template. Counts come from the store, so they see every process's cards.
 */
import type { CardState, CertificateStatus } from "../domain/card.js";
import type { Policy } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import type { Store } from "../ports/store.js";

/** Card states that count against `maxCardsPerUser`: cards in use, or on their way to it. */
export const CARD_STATES_COUNTED: readonly CardState[] = ["issuing", "pending", "active", "updating", "suspended"];

/**
 * Certificate statuses that count against `maxCertificatesPerTemplate`: requested or issued and
 * neither revoked, expired nor removed (a held certificate can be released, so it still counts).
 */
export const CERTIFICATE_STATUSES_COUNTED: readonly CertificateStatus[] = [
  "requested",
  "pending",
  "approved",
  "valid",
  "written",
  "suspended",
];

/** What an issue would add, for {@link assertWithinLimits}. */
export interface LimitCheck {
  policy: Policy;
  userId: string;
  /** The card being issued; not counted against itself. */
  cardId: string;
  /** Ids of the templates the issue would request (mandatory and chosen optional ones). */
  templateIds: readonly string[];
  /** Now, to leave expired certificates out of the count. */
  now: Date;
}

/**
 * Refuse an issue that would give the user more cards, or more live certificates of one template,
 * than the policy allows.
 * @throws CardwrightError `POLICY_LIMIT` with `details` `{ rule, limit, current, userId, policyId }`
 * (`rule` is `limits.maxCardsPerUser` or `limits.maxCertificatesPerTemplate`, the latter with `templateId`).
 */
export async function assertWithinLimits(store: Store, check: LimitCheck): Promise<void> {
  const { policy, userId } = check;
  const maxCards = policy.limits?.maxCardsPerUser;
  if (maxCards !== undefined) {
    const current = (await store.cards.list({ userId })).filter(
      (c) => c.id !== check.cardId && CARD_STATES_COUNTED.includes(c.state),
    ).length;
    if (current + 1 > maxCards) {
      throw new CardwrightError(
        "POLICY_LIMIT",
        `user ${userId} already holds ${current} card(s) and policy ${policy.id} allows ${maxCards}: retire, revoke or replace one first`,
        { details: { rule: "limits.maxCardsPerUser", limit: maxCards, current, userId, policyId: policy.id } },
      );
    }
  }
  const maxCertificates = policy.limits?.maxCertificatesPerTemplate;
  if (maxCertificates === undefined || check.templateIds.length === 0) return;
  const now = check.now.getTime();
  const live = (await store.certificates.list({ userId })).filter(
    (c) =>
      CERTIFICATE_STATUSES_COUNTED.includes(c.status) && (c.notAfter === undefined || Date.parse(c.notAfter) > now),
  );
  for (const templateId of check.templateIds) {
    const current = live.filter((c) => c.templateId === templateId).length;
    if (current + 1 > maxCertificates) {
      throw new CardwrightError(
        "POLICY_LIMIT",
        `user ${userId} already holds ${current} live certificate(s) of template ${templateId} and policy ${policy.id} allows ${maxCertificates}: revoke one first`,
        {
          details: {
            rule: "limits.maxCertificatesPerTemplate",
            limit: maxCertificates,
            current,
            userId,
            policyId: policy.id,
            templateId,
          },
        },
      );
    }
  }
}
