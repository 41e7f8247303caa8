/** What the adapters' failure tests compare: the error's stable code, its message and its JSON form. */
import { isCardwrightError } from "@cardwright/core";

/** The code, message and serialized form of a `CardwrightError`. */
export interface CardwrightErrorView {
  code: string;
  message: string;
  /** `JSON.stringify(error.toJSON())`, for checking that no secret leaks into the error. */
  json: string;
}

/**
 * The `CardwrightError` `promise` rejects with.
 * @throws Error when it resolves or rejects with anything else, so the test fails.
 */
export async function errorOf(promise: Promise<unknown>): Promise<CardwrightErrorView> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isCardwrightError(error)) throw new Error(`expected a CardwrightError, got ${String(error)}`);
  return { code: error.code, message: error.message, json: JSON.stringify(error.toJSON()) };
}
