/**
 * Permission checks for issuance decisions that concern a person rather than a card (a validation
 * officer deciding an issuance request): the same grants as {@link assertPermitted}, with `own`
 * meaning "about the actor themself" and the card state checked only when a card is named.
 */
import type { CardState } from "../domain/card.js";
import type { LifecycleOperation, PermissionGrant } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import { ACTOR_KINDS, type LifecycleActor } from "../lifecycle/lifecycle-permissions.js";

/** What a person-level permission is checked against. */
export interface PermissionSubject {
  /** The user the decision is about. */
  userId: string;
  /** The card's state, when the request named a registered card. */
  cardState?: CardState;
  /** Id of what is decided (an approval id), for the message and details. */
  ref: string;
}

/**
 * Refuse an actor whom `grantList` does not allow `operation` on `subject`.
 * @throws CardwrightError `AUTHZ_DENIED` with `details.permission`
 * (`<actor kind>:<operation>:<own|any>[:<card state>]`), `actorKind`, `operation`, `userId`.
 */
export function assertSubjectPermitted(
  grantList: readonly PermissionGrant[],
  actor: LifecycleActor,
  operation: LifecycleOperation,
  subject: PermissionSubject,
): void {
  const own = subject.userId === actor.id;
  const permitted =
    ACTOR_KINDS.includes(actor.kind) &&
    grantList.some(
      (g) =>
        g.actor === actor.kind &&
        g.operations.includes(operation) &&
        ((g.scope ?? (g.actor === "user" ? "own" : "any")) === "any" || own) &&
        (g.cardStates === undefined || subject.cardState === undefined || g.cardStates.includes(subject.cardState)),
    );
  if (permitted) return;
  const permission = `${String(actor.kind)}:${operation}:${own ? "own" : "any"}${
    subject.cardState === undefined ? "" : `:${subject.cardState}`
  }`;
  throw new CardwrightError(
    "AUTHZ_DENIED",
    `${String(actor.kind)} ${actor.id} may not ${operation} for ${own ? "themself" : `user ${subject.userId}`} (${subject.ref}): the policy grants no ${permission} permission`,
    {
      details: { permission, actorKind: String(actor.kind), operation, userId: subject.userId, ref: subject.ref },
    },
  );
}
