/** Asserting the CardwrightError an operation on the virtual card fails with. */
import { type CardwrightError, isCardwrightError } from "@cardwright/core";
import { expect } from "vitest";

/** `p` must reject with a CardwrightError of `code`; returns it. A `p` that resolves fails the test. */
export async function expectError(p: Promise<unknown>, code: string): Promise<CardwrightError> {
  try {
    await p;
  } catch (err) {
    expect(isCardwrightError(err), String(err)).toBe(true);
    expect((err as CardwrightError).code).toBe(code);
    return err as CardwrightError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}
