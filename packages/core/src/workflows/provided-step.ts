/**
 * Step actors the workflow machines declare but do not implement: a machine fixes each step's
 * input and output types, and the facade supplies the implementations with
 * `machine.provide({ actors })` (xstate v5), so a machine can be tested with fake steps and the
 * facade can bind its own ports.
 */
import { fromPromise } from "xstate";
import { CardwrightError } from "../errors.js";

/**
 * A promise actor for step `name` of `workflow` whose implementation the facade provides; run
 * unprovided, it fails.
 * @throws CardwrightError `WORKFLOW_STATE` (as the actor's error) when the step was never provided.
 */
export function providedStep<TInput, TOutput>(workflow: string, name: string) {
  return fromPromise<TOutput, TInput>(async () => {
    throw new CardwrightError(
      "WORKFLOW_STATE",
      `${workflow} step ${name} has no implementation; the facade provides it with machine.provide({ actors })`,
      { details: { step: name } },
    );
  });
}
