/**
 * Key slots and their access rules. Slots: SP 800-73-4 Part 1 §3.1 and Table 4b (9A, 9C, 9D,
 * 9E and retired 82–95). Default PIN policies as a YubiKey applies them (Yubico PIV "Slot
 * information"): 9A and 9D PIN once per session, 9C PIN before every use, 9E never.
 */

import { Sw } from "@cardwright/pcsc";
import type { SlotKey } from "../crypto/slot-keys.js";
import type { CardContext } from "./card-state.js";
import { CardStatus } from "./status.js";

/** Yubico PIN policy bytes (tag AA). */
export const PinPolicy = { default: 0, never: 1, once: 2, always: 3, matchOnce: 4, matchAlways: 5 } as const;
/** How long a touch counts for keys with the cached touch policy (Yubico: 15 seconds). */
export const CACHED_TOUCH_MS = 15_000;

/** Yubico touch policy bytes (tag AB). */
export const TouchPolicy = { default: 0, never: 1, always: 2, cached: 3 } as const;

/** Whether `ref` names a slot that can hold a key pair (not 9B, not F9). */
export function isAsymmetricSlot(ref: number): boolean {
  return ref === 0x9a || ref === 0x9c || ref === 0x9d || ref === 0x9e || (ref >= 0x82 && ref <= 0x95);
}

/** The PIN policy a slot gets when the host asks for "default". */
export function defaultPinPolicy(ref: number): number {
  if (ref === 0x9c) return PinPolicy.always;
  if (ref === 0x9e) return PinPolicy.never;
  return PinPolicy.once;
}

/**
 * Resolve the AA/AB policy bytes of GENERATE or IMPORT KEY for `ref`.
 * @throws CardStatus 6A80 for biometric (match) policies or unknown values.
 */
export function resolvePolicies(ref: number, pin: number | undefined, touch: number | undefined) {
  const pinPolicy = pin === undefined || pin === PinPolicy.default ? defaultPinPolicy(ref) : pin;
  const touchPolicy = touch === undefined || touch === TouchPolicy.default ? TouchPolicy.never : touch;
  if (pinPolicy < PinPolicy.never || pinPolicy > PinPolicy.always) {
    throw new CardStatus(Sw.wrongData, "unsupported PIN policy (biometric policies need a YubiKey Bio)");
  }
  if (touchPolicy < TouchPolicy.never || touchPolicy > TouchPolicy.cached) {
    throw new CardStatus(Sw.wrongData, "unsupported touch policy");
  }
  return { pinPolicy, touchPolicy };
}

/**
 * Enforce a key's PIN policy before a private-key operation; a PIN-always key consumes the
 * grant of the VERIFY that preceded it.
 * @throws CardStatus 6982 when the PIN has not been verified as the policy demands.
 */
export function enforcePinPolicy(ctx: CardContext, key: SlotKey): void {
  const v = ctx.state.volatile;
  if (key.pinPolicy === PinPolicy.never) return;
  if (!v.pinVerified) throw new CardStatus(Sw.securityStatusNotSatisfied, "this key needs the PIN");
  if (key.pinPolicy === PinPolicy.always) {
    if (!v.pinAlwaysGrant)
      throw new CardStatus(Sw.securityStatusNotSatisfied, "this key needs the PIN before each use");
    v.pinAlwaysGrant = false;
  }
}

/**
 * Enforce a touch policy: "always" asks for a touch on every use, "cached" accepts a touch
 * from the last {@link CACHED_TOUCH_MS}.
 * @throws CardStatus 6982 when the user does not touch (the simulator's answer to a touch timeout).
 */
export async function enforceTouchPolicy(ctx: CardContext, slot: number, touchPolicy: number): Promise<void> {
  if (touchPolicy !== TouchPolicy.always && touchPolicy !== TouchPolicy.cached) return;
  const v = ctx.state.volatile;
  const now = ctx.now();
  if (touchPolicy === TouchPolicy.cached && v.lastTouchAt !== undefined && now - v.lastTouchAt < CACHED_TOUCH_MS)
    return;
  if (!(await ctx.touch({ slot }))) throw new CardStatus(Sw.securityStatusNotSatisfied, "no touch");
  v.lastTouchAt = ctx.now();
}
