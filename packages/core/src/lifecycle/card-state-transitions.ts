/**
 * Card state transitions as data: a table of allowed `from → to` rows, in the manner of Dogtag
 * TPS's `tokendb.allowedTransitions`. Workflows never change a card's state without asking
 * {@link assertTransition}; a policy may replace the table ({@link Policy.cardStateTransitions}).
 */
import type { CardState } from "../domain/card.js";
import type { CardStateTransition, Policy } from "../domain/policy.js";
import { CardwrightError, PolicyError } from "../errors.js";

/** Every card state cardwright knows (DESIGN.md "Card states", plus `damaged` and `lost`). */
export const CARD_STATES: readonly CardState[] = [
  "registered",
  "bound",
  "issuing",
  "pending",
  "active",
  "suspended",
  "updating",
  "revoked",
  "retired",
  "damaged",
  "lost",
];

/**
 * The default transition table. Each row says why it exists; anything not listed is refused.
 * `retired` has no way out: a cleared card's record is kept for the audit trail, and the device
 * comes back only as a newly registered card.
 */
export const DEFAULT_CARD_STATE_TRANSITIONS: readonly CardStateTransition[] = [
  { from: "registered", to: "bound", reason: "assign an unassigned card to a user for self-enrolment" },
  { from: "registered", to: "issuing", reason: "an operator issues an unassigned card" },
  { from: "bound", to: "issuing", reason: "the bound user (or an operator for them) starts issue" },
  { from: "registered", to: "retired", reason: "decommission a card that was never issued" },
  { from: "bound", to: "retired", reason: "decommission a card bound but never issued" },
  { from: "issuing", to: "pending", reason: "a CA holds a request for approval" },
  { from: "issuing", to: "active", reason: "every certificate is written: issue completes" },
  { from: "issuing", to: "registered", reason: "issue rolled back (failure rule) on a card that was registered" },
  { from: "issuing", to: "bound", reason: "issue rolled back (failure rule) on a card that was bound" },
  { from: "pending", to: "issuing", reason: "approval arrived: issue continues" },
  { from: "pending", to: "registered", reason: "a pending issue rolled back on a registered card" },
  { from: "pending", to: "bound", reason: "a pending issue rolled back on a bound card" },
  { from: "active", to: "suspended", reason: "temporary hold (card mislaid, leave): certificates on hold" },
  { from: "active", to: "updating", reason: "the card is brought in line with its (new) policy" },
  { from: "active", to: "revoked", reason: "certificates revoked at the CA (compromise, leaving...)" },
  { from: "active", to: "damaged", reason: "reported damaged: to be revoked and replaced" },
  { from: "active", to: "lost", reason: "reported lost or stolen: to be revoked and replaced" },
  { from: "suspended", to: "active", reason: "hold released: certificates valid again" },
  { from: "suspended", to: "revoked", reason: "a held card is not coming back: revoke for good" },
  { from: "suspended", to: "lost", reason: "a card held as mislaid turns out lost" },
  { from: "updating", to: "active", reason: "update completed or rolled back" },
  { from: "damaged", to: "revoked", reason: "the damaged card's certificates are revoked" },
  { from: "lost", to: "revoked", reason: "the lost card's certificates are revoked" },
  { from: "revoked", to: "retired", reason: "the revoked card is wiped (cleared) for disposal or reuse" },
  {
    from: "lost",
    to: "retired",
    reason: "a lost or stolen card, replaced (its certificates revoked), is found again and wiped",
  },
  {
    from: "damaged",
    to: "retired",
    reason: "a damaged card, replaced (its certificates revoked), is wiped where it still answers, or destroyed",
  },
];

/** The table that applies under `policy` (its own, or the default). */
export function transitionTable(
  policy: Pick<Policy, "cardStateTransitions"> | undefined,
): readonly CardStateTransition[] {
  return policy?.cardStateTransitions ?? DEFAULT_CARD_STATE_TRANSITIONS;
}

/** States `from` may move to under `table`, in table order. */
export function allowedTargets(table: readonly CardStateTransition[], from: CardState): CardState[] {
  return table.filter((row) => row.from === from).map((row) => row.to);
}

/**
 * Refuse a state change the table does not allow.
 * @throws CardwrightError `CARD_TRANSITION` with `details` `{ from, to, operation, allowed }`
 * (the states `from` may move to), so the caller can tell what would be possible instead.
 */
export function assertTransition(
  table: readonly CardStateTransition[],
  from: CardState,
  to: CardState,
  operation: string,
  cardId?: string,
): void {
  if (table.some((row) => row.from === from && row.to === to)) return;
  const allowed = allowedTargets(table, from);
  throw new CardwrightError(
    "CARD_TRANSITION",
    `${operation} would move card${cardId === undefined ? "" : ` ${cardId}`} from ${from} to ${to}, which the policy's transition table does not allow; from ${from} it allows ${allowed.length === 0 ? "no transition" : allowed.join(", ")}`,
    { details: { from, to, operation, allowed, ...(cardId === undefined ? {} : { cardId }) } },
  );
}

/**
 * Validate a policy's transition table: known states, no self-transition, no duplicate row.
 * @throws PolicyError `POLICY_INVALID` with `details.rule` `cardStateTransitions`.
 */
export function validateCardStateTransitions(policy: Policy): void {
  const table = policy.cardStateTransitions;
  if (table === undefined) return;
  const seen = new Set<string>();
  for (const [i, row] of table.entries()) {
    for (const side of ["from", "to"] as const) {
      if (!CARD_STATES.includes(row[side])) {
        invalid(policy, `row ${i} names unknown card state "${String(row[side])}" as ${side}`, {
          row: i,
          state: String(row[side]),
        });
      }
    }
    if (row.from === row.to) invalid(policy, `row ${i} moves ${row.from} to itself`, { row: i, state: row.from });
    const key = `${row.from}>${row.to}`;
    if (seen.has(key)) invalid(policy, `row ${i} repeats ${row.from} → ${row.to}`, { row: i, state: row.from });
    seen.add(key);
  }
}

function invalid(policy: Policy, message: string, extra: Record<string, string | number>): never {
  const err = new PolicyError(
    policy.id,
    "cardStateTransitions",
    `policy ${policy.id}: cardStateTransitions ${message}`,
    "POLICY_INVALID",
  );
  Object.assign(err.details, extra);
  throw err;
}
