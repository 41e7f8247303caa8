/** Catching the CardwrightError an SDK call is expected to fail with. */
import { type CardwrightError, isCardwrightError } from "@cardwright/core";

/**
 * The CardwrightError `p` rejects with. Any other rejection is rethrown, and a `p` that resolves fails
 * the test with `expectation`, so a refusal that never comes cannot pass unnoticed.
 */
export async function rejection(
  p: Promise<unknown>,
  expectation = "expected a CardwrightError",
): Promise<CardwrightError> {
  try {
    await p;
  } catch (err) {
    if (isCardwrightError(err)) return err;
    throw err;
  }
  throw new Error(expectation);
}
