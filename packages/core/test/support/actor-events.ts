/**
 * The events xstate v5 sends a machine when an invoked actor settles (`xstate.done.actor.<id>`,
 * `xstate.error.actor.<id>`), for model-based tests that walk a machine's paths with
 * xstate/graph instead of running the steps.
 */
import type { AnyEventObject } from "xstate";
import { CardwrightError } from "../../src/errors.js";

/** Actor `id` finished with `output`. */
export function actorDone(id: string, output: unknown = undefined): AnyEventObject {
  return { type: `xstate.done.actor.${id}`, output };
}

/** Actor `id` failed with `error` (by default: the card was pulled out of the reader). */
export function actorError(
  id: string,
  error: unknown = new CardwrightError("APDU_CARD_REMOVED", "the card was removed from the reader"),
): AnyEventObject {
  return { type: `xstate.error.actor.${id}`, error };
}
