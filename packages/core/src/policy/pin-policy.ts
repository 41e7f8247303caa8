/**
 * PIN rules: checking a chosen PIN against a {@link PinPolicy}, and generating random PINs and
 * PUKs from a CSPRNG without modulo bias. Errors name the rule, never the PIN.
 */
import type { PinCharacterClass, PinPolicy } from "../domain/policy.js";
import { CardwrightError, PolicyError } from "../errors.js";
import type { Random } from "../ports/runtime.js";

/** Characters of each class. `special` is printable ASCII safe to type on any keyboard layout. */
export const PIN_CLASSES: Readonly<Record<PinCharacterClass, string>> = {
  digits: "0123456789",
  lower: "abcdefghijklmnopqrstuvwxyz",
  upper: "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  special: "!#$%&*+-=?@_",
};

/** PUK length for PIV cards: 8 bytes (NIST SP 800-73-4 Part 2 §3.2.3, PIN/PUK reference data). */
export const PIV_PUK_LENGTH = 8;

function classOf(ch: string): PinCharacterClass | undefined {
  for (const [cls, chars] of Object.entries(PIN_CLASSES)) if (chars.includes(ch)) return cls as PinCharacterClass;
  return undefined;
}

/**
 * Check `pin` against `policy`. The error names the rule (`length`, `allowed`, `required`) and
 * never the PIN.
 * @throws PolicyError `POLICY_RULE`.
 */
export function validatePin(pin: string, policy: PinPolicy, policyId?: string): void {
  const chars = [...pin];
  if (chars.length < policy.minLength || chars.length > policy.maxLength) {
    throw new PolicyError(
      policyId,
      "length",
      `PIN must be ${policy.minLength}${policy.maxLength === policy.minLength ? "" : `–${policy.maxLength}`} characters long`,
    );
  }
  const seen = new Set<PinCharacterClass>();
  for (const ch of chars) {
    const cls = classOf(ch);
    if (cls === undefined || !policy.allowed.includes(cls)) {
      throw new PolicyError(policyId, "allowed", `PIN may only contain ${policy.allowed.join(", ")} characters`);
    }
    seen.add(cls);
  }
  for (const cls of policy.required ?? []) {
    if (!seen.has(cls)) throw new PolicyError(policyId, "required", `PIN must contain at least one ${cls} character`);
  }
}

/**
 * Uniform integer in `[0, n)` from `random`, by rejection sampling on 32-bit words so every
 * value is equally likely (no modulo bias).
 */
export function uniformInt(n: number, random: Random): number {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`uniformInt: bad range ${n}`);
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const b = random.bytes(4);
    const word = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (word < limit) return word % n;
  }
}

function randomString(alphabet: string, length: number, random: Random): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[uniformInt(alphabet.length, random)]!;
  return out;
}

/**
 * A random PIN of `policy.randomLength ?? policy.minLength` characters drawn uniformly from the
 * allowed classes, redrawn until it contains every required class — so it is uniform over the
 * PINs the policy accepts.
 * @throws CardwrightError `POLICY_INVALID` when the policy cannot be satisfied.
 */
export function generatePin(policy: PinPolicy, random: Random, policyId?: string): string {
  const length = policy.randomLength ?? policy.minLength;
  const required = policy.required ?? [];
  if (
    length < policy.minLength ||
    length > policy.maxLength ||
    required.length > length ||
    policy.allowed.length === 0
  ) {
    throw new PolicyError(policyId, "pin", "PIN policy cannot be satisfied by a random PIN", "POLICY_INVALID");
  }
  const alphabet = policy.allowed.map((c) => PIN_CLASSES[c]).join("");
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const pin = randomString(alphabet, length, random);
    if (required.every((cls) => [...pin].some((ch) => PIN_CLASSES[cls].includes(ch)))) return pin;
  }
  throw new CardwrightError("POLICY_INVALID", "could not generate a PIN meeting the required classes", {
    details: { policyId, rule: "required" },
  });
}

/** A random all-digit PUK (8 digits for PIV, SP 800-73-4). */
export function generatePuk(random: Random, length: number = PIV_PUK_LENGTH): string {
  return randomString(PIN_CLASSES.digits, length, random);
}
