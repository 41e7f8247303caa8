/** Catching the CardwrightError an operation is expected to fail with. */
import { type CardwrightError, isCardwrightError } from "../../src/errors.js";

/**
 * The CardwrightError `p` rejects with. Any other rejection is rethrown, and a `p` that resolves fails the test,
 * so a refusal that never comes cannot pass unnoticed.
 */
export async function rejection(p: Promise<unknown>): Promise<CardwrightError> {
  try {
    await p;
  } catch (err) {
    if (isCardwrightError(err)) return err;
    throw err;
  }
  throw new Error("expected a CardwrightError, the promise resolved");
}
