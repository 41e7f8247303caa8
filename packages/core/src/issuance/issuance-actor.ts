/**
 * Who issues or binds a card. Issue once took an actor id only (always an operator), so a plain
 * string still means an operator; new callers pass a {@link LifecycleActor} with its kind, which the
 * policy's permissions and issuance mode are checked against.
 */
import type { LifecycleActor } from "../lifecycle/lifecycle-permissions.js";

/** An actor as `issueCard` and `bindCard` accept it: an operator id, or an actor with its kind. */
export type IssuanceActorInput = string | LifecycleActor;

/** The actor a caller named: a string is an operator with that id. */
export function issuanceActor(actor: IssuanceActorInput): LifecycleActor {
  return typeof actor === "string" ? { id: actor, kind: "operator" } : { id: actor.id, kind: actor.kind };
}
