/**
 * Fault injection for the in-memory reader: at the k-th APDU, or at the n-th APDU with a given
 * instruction, the card is pulled, answers a chosen status word, or the exchange times out —
 * either before the card saw the command or after it processed it (the response is lost),
 * which is the case idempotent workflows must survive.
 */

/** When a fault fires. */
export type FaultTrigger =
  /** At the k-th APDU sent through the transport (1-based, counting every transmit). */
  | { atApdu: number }
  /** At the n-th (1-based, default 1) APDU with this instruction byte. */
  | { ins: number; occurrence?: number };

/** Whether the card processed the command before the fault hit. */
export type FaultTiming = "before-processing" | "after-processing";

/** What happens. */
export type FaultAction =
  /** Card pulled out: this and later transmits fail with `APDU_CARD_REMOVED` until `insert()`. */
  | { kind: "remove-card"; timing?: FaultTiming }
  /** The card answers this status word (with no data) instead of processing the command. */
  | { kind: "status-word"; sw: number }
  /** No answer: the transmit fails with `APDU_TIMEOUT`. */
  | { kind: "timeout"; timing?: FaultTiming };

/** A fault to inject once. */
export interface FaultInjection {
  trigger: FaultTrigger;
  action: FaultAction;
}

/** Tracks armed faults and decides which one fires for an APDU. */
export class FaultPlan {
  private armed: FaultInjection[] = [];
  private readonly insCounts = new Map<number, number>();

  /** Arm a fault (fires at most once). */
  add(fault: FaultInjection): void {
    if ("atApdu" in fault.trigger && (!Number.isInteger(fault.trigger.atApdu) || fault.trigger.atApdu < 1)) {
      throw new RangeError("atApdu must be a positive integer");
    }
    this.armed.push(fault);
  }

  /** Disarm every fault. */
  clear(): void {
    this.armed = [];
  }

  /** Faults not fired yet. */
  get pending(): readonly FaultInjection[] {
    return this.armed;
  }

  /** The fault for APDU number `index` with instruction `ins`, removing it from the plan. */
  take(index: number, ins: number): FaultAction | undefined {
    const seen = (this.insCounts.get(ins) ?? 0) + 1;
    this.insCounts.set(ins, seen);
    const i = this.armed.findIndex((f) =>
      "atApdu" in f.trigger
        ? f.trigger.atApdu === index
        : f.trigger.ins === ins && (f.trigger.occurrence ?? 1) === seen,
    );
    if (i < 0) return undefined;
    const [fault] = this.armed.splice(i, 1);
    return fault?.action;
  }
}
