/**
 * Who may run which lifecycle operation: a small, data-driven check over the grants of
 * {@link Policy.permissions}. The embedding application authenticates the actor and says what
 * kind it is; this module only decides whether that kind of actor may do this to this card.
 * (The full permission model — approvals, roles, delegation — comes with later work.)
 */
import type { CardRecord } from "../domain/card.js";
import type { ActorKind, LifecycleOperation, PermissionGrant, Policy } from "../domain/policy.js";
import { CardwrightError, PolicyError } from "../errors.js";
import { CARD_STATES } from "./card-state-transitions.js";

/** Who runs a lifecycle operation, as the embedding application authenticated them. */
export interface LifecycleActor {
  /** Operator id, user id (as in the Directory) or agent name; recorded in the audit log. */
  id: string;
  kind: ActorKind;
}

/** Actor kinds, in the order permissions are documented. */
export const ACTOR_KINDS: readonly ActorKind[] = ["operator", "user", "agent"];

/** Operations {@link Policy.permissions} guards. */
export const LIFECYCLE_OPERATIONS: readonly LifecycleOperation[] = [
  "issue",
  "bind",
  "select-optional",
  "update",
  "cancel-update",
  "change-pin",
  "reset-pin",
  "unblock-pin",
  "offline-unblock",
  "suspend",
  "resume",
  "revoke",
  "replace",
  "retire",
  "register-certificate",
  "view-admin-pin",
  "approve-issuance",
  "approve-documents",
  "queue-task",
];

/** What no default grants: seeing a card's admin credential is for a named permission holder only. */
const NEVER_BY_DEFAULT: readonly LifecycleOperation[] = ["view-admin-pin"];

/** Operators' (and agents') default operations. */
const STAFF_OPERATIONS = LIFECYCLE_OPERATIONS.filter((op) => !NEVER_BY_DEFAULT.includes(op));

/**
 * Permissions when a policy gives none (or a card has no policy yet): operators and agents may
 * run every operation but `view-admin-pin` on any card; a user may, on their own card, update it,
 * choose optional certificates, change and unblock their PIN, and suspend, resume and revoke it
 * (the self-service answer to "I lost my card") — but not issue (self-service issue), bind, clear
 * or replace it: a policy that wants those grants them, e.g.
 * `{ actor: "user", operations: ["retire"], cardStates: ["revoked"] }`.
 */
export const DEFAULT_LIFECYCLE_PERMISSIONS: readonly PermissionGrant[] = [
  { actor: "operator", operations: STAFF_OPERATIONS, scope: "any" },
  { actor: "agent", operations: STAFF_OPERATIONS, scope: "any" },
  {
    actor: "user",
    operations: ["update", "select-optional", "change-pin", "unblock-pin", "suspend", "resume", "revoke"],
    scope: "own",
  },
];

/** The grants that apply under `policy` (its own, or the default). */
export function permissionGrants(policy: Pick<Policy, "permissions"> | undefined): readonly PermissionGrant[] {
  return policy?.permissions ?? DEFAULT_LIFECYCLE_PERMISSIONS;
}

/** A grant's scope: users are limited to their own card unless a grant says `any`. */
function scopeOf(grant: PermissionGrant): "own" | "any" {
  return grant.scope ?? (grant.actor === "user" ? "own" : "any");
}

function grants(grant: PermissionGrant, actor: LifecycleActor, operation: LifecycleOperation, card: CardRecord) {
  if (grant.actor !== actor.kind || !grant.operations.includes(operation)) return false;
  if (scopeOf(grant) === "own" && card.userId !== actor.id) return false;
  return grant.cardStates === undefined || grant.cardStates.includes(card.state);
}

/**
 * Refuse an actor the policy does not allow to run `operation` on `card`.
 * @throws CardwrightError `AUTHZ_DENIED` with `details.permission` naming the missing permission
 * (`<actor kind>:<operation>:<own|any>:<card state>`), plus `actorKind`, `operation`, `cardId`
 * and `state`.
 */
export function assertPermitted(
  grantList: readonly PermissionGrant[],
  actor: LifecycleActor,
  operation: LifecycleOperation,
  card: CardRecord,
): void {
  if (!ACTOR_KINDS.includes(actor.kind)) {
    throw new CardwrightError(
      "AUTHZ_DENIED",
      `actor kind "${String(actor.kind)}" is not one of ${ACTOR_KINDS.join(", ")}`,
      {
        details: { actorKind: String(actor.kind), operation, cardId: card.id },
      },
    );
  }
  if (grantList.some((g) => grants(g, actor, operation, card))) return;
  const own = card.userId !== undefined && card.userId === actor.id;
  const permission = `${actor.kind}:${operation}:${own ? "own" : "any"}:${card.state}`;
  throw new CardwrightError(
    "AUTHZ_DENIED",
    `${actor.kind} ${actor.id} may not ${operation} ${own ? "their own" : "this"} ${card.state} card ${card.id}: the policy grants no ${permission} permission`,
    { details: { permission, actorKind: actor.kind, operation, cardId: card.id, state: card.state } },
  );
}

/**
 * Validate a policy's permission grants: known actor kinds, operations, scopes and card states.
 * @throws PolicyError `POLICY_INVALID` with `details.rule` `permissions`.
 */
export function validatePermissionGrants(policy: Policy): void {
  for (const [i, g] of (policy.permissions ?? []).entries()) {
    const bad = (what: string) => {
      const err = new PolicyError(
        policy.id,
        "permissions",
        `policy ${policy.id}: permissions grant ${i} ${what}`,
        "POLICY_INVALID",
      );
      Object.assign(err.details, { grant: i });
      throw err;
    };
    if (!ACTOR_KINDS.includes(g.actor)) bad(`names unknown actor kind "${String(g.actor)}"`);
    for (const op of g.operations) {
      if (!LIFECYCLE_OPERATIONS.includes(op)) bad(`names unknown operation "${String(op)}"`);
    }
    if (g.scope !== undefined && g.scope !== "own" && g.scope !== "any") bad(`has unknown scope "${String(g.scope)}"`);
    for (const s of g.cardStates ?? []) {
      if (!CARD_STATES.includes(s)) bad(`names unknown card state "${String(s)}"`);
    }
  }
}
