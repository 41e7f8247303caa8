/**
 * The card's security status (SP 800-73-4 Part 2 §2.4 and §3.2): PIN and PUK reference data with
 * their retry counters (persistent), and the volatile security status — PIN verified, the
 * one-shot PIN "always" grant, management-key authentication and a pending GENERAL AUTHENTICATE
 * challenge — which a reset or card removal clears.
 */
import { timingSafeEqual } from "node:crypto";

/** Reference data is padded to 8 bytes with FF (SP 800-73-4 Part 2 §2.4.3). */
export const REFERENCE_LENGTH = 8;

/** Pad a PIN/PUK text to its 8-byte reference form. */
export function padReference(text: string): Uint8Array {
  const out = new Uint8Array(REFERENCE_LENGTH).fill(0xff);
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > REFERENCE_LENGTH) throw new RangeError("reference data longer than 8 bytes");
  out.set(bytes);
  return out;
}

/** Length of reference data before its FF padding. */
export function unpaddedLength(padded: Uint8Array): number {
  let n = padded.length;
  while (n > 0 && padded[n - 1] === 0xff) n--;
  return n;
}

/** A PIN or PUK: its padded value, retry counter and whether it is still the factory value. */
export class ReferenceData {
  constructor(
    private value: Uint8Array,
    public retriesTotal: number,
    public retriesLeft: number,
    private readonly factoryValue: Uint8Array,
  ) {}

  /** Whether retries are exhausted. */
  get blocked(): boolean {
    return this.retriesLeft === 0;
  }

  /** Whether the value is still the factory default (GET METADATA tag 05). */
  get isDefault(): boolean {
    return timingSafeEqual(this.value, this.factoryValue);
  }

  /** Compare in constant time; a mismatch costs one retry, a match restores all of them. */
  check(candidate: Uint8Array): boolean {
    const ok = candidate.length === REFERENCE_LENGTH && timingSafeEqual(candidate, this.value);
    if (ok) this.retriesLeft = this.retriesTotal;
    else this.retriesLeft = Math.max(0, this.retriesLeft - 1);
    return ok;
  }

  /** Replace the value and restore the counter. */
  set(value: Uint8Array): void {
    this.value = Uint8Array.from(value);
    this.retriesLeft = this.retriesTotal;
  }

  /** Back to factory value with `retries` tries (SET PIN RETRIES, RESET). */
  restoreFactory(retries: number): void {
    this.value = Uint8Array.from(this.factoryValue);
    this.retriesTotal = retries;
    this.retriesLeft = retries;
  }

  /** Padded value, for the card image only. */
  exportValue(): Uint8Array {
    return Uint8Array.from(this.value);
  }
}

/** A GENERAL AUTHENTICATE exchange with key 9B awaiting its second step. */
export interface PendingManagementAuth {
  /** "mutual": we sent a witness (Appendix A.2); "external": we sent a challenge (A.1). */
  kind: "mutual" | "external";
  algorithm: number;
  /** The plaintext the host must return (mutual) or the challenge it must encrypt (external). */
  expected: Uint8Array;
}

/** Volatile security status; lost on reset, power-off or SELECT of another application. */
export class VolatileSecurityStatus {
  pinVerified = false;
  /** Granted by each successful VERIFY, consumed by one use of a PIN-always key. */
  pinAlwaysGrant = false;
  managementAuthenticated = false;
  pendingManagementAuth: PendingManagementAuth | undefined;
  /** When the user last touched the key (cached touch policy). */
  lastTouchAt: number | undefined;

  clear(): void {
    this.lastTouchAt = undefined;
    this.pinVerified = false;
    this.pinAlwaysGrant = false;
    this.managementAuthenticated = false;
    this.pendingManagementAuth = undefined;
  }
}
