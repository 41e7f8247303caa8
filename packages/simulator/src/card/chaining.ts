/**
 * Both directions of chaining, ISO/IEC 7816-4: command chaining (§5.1.1.1, CLA bit b5 = 0x10
 * says "more commands of this chain follow") and response chaining with 61xx / GET RESPONSE
 * (§5.3.4, §7.6.1) when a response does not fit the host's Ne.
 */
import { concat, Sw } from "@cardwright/pcsc";
import type { CommandApdu } from "./command-apdu.js";
import { CardStatus } from "./status.js";

/** CLA bit announcing that more commands of the chain follow. */
export const CLA_CHAINING = 0x10;

/** Reassembles a chained command: the pieces must share INS, P1 and P2. */
export class CommandChain {
  private header: { ins: number; p1: number; p2: number } | undefined;
  private parts: Uint8Array[] = [];

  /** Whether a chain is open. */
  get open(): boolean {
    return this.header !== undefined;
  }

  /**
   * Feed one command. Returns `undefined` while the chain continues, or the complete command
   * (with all data) when `cmd` ends it — or is not chained at all.
   * @throws CardStatus 6883 when a command with another header interrupts an open chain.
   */
  accept(cmd: CommandApdu): CommandApdu | undefined {
    const more = (cmd.cla & CLA_CHAINING) !== 0;
    if (this.header !== undefined) {
      const h = this.header;
      if (h.ins !== cmd.ins || h.p1 !== cmd.p1 || h.p2 !== cmd.p2) {
        this.clear();
        throw new CardStatus(Sw.lastCommandOfChainExpected, "another command interrupted a command chain");
      }
    }
    if (more) {
      this.header ??= { ins: cmd.ins, p1: cmd.p1, p2: cmd.p2 };
      this.parts.push(cmd.data);
      return undefined;
    }
    if (this.header === undefined) return cmd;
    const data = concat(...this.parts, cmd.data);
    this.clear();
    return { ...cmd, cla: cmd.cla & ~CLA_CHAINING, data };
  }

  /** Drop an open chain (reset, error). */
  clear(): void {
    this.header = undefined;
    this.parts = [];
  }
}

/** Holds the part of a response the host has not fetched yet. */
export class ResponseChain {
  private pending: Uint8Array | undefined;

  /** Whether bytes wait for GET RESPONSE. */
  get open(): boolean {
    return this.pending !== undefined;
  }

  /**
   * Frame `data` for a host that accepts at most `ne` bytes: all of it with 9000, or the first
   * `ne` bytes with 61xx (xx = bytes left, 00 for 256 or more) keeping the rest.
   */
  frame(data: Uint8Array, ne: number): Uint8Array {
    if (data.length <= ne) {
      this.pending = undefined;
      return concat(data, Uint8Array.of(0x90, 0x00));
    }
    this.pending = data.subarray(ne);
    const left = this.pending.length;
    return concat(data.subarray(0, ne), Uint8Array.of(0x61, left >= 256 ? 0x00 : left));
  }

  /**
   * Serve GET RESPONSE (INS C0) with the next `ne` bytes.
   * @throws CardStatus 6985 when nothing is pending.
   */
  next(ne: number): Uint8Array {
    const pending = this.pending;
    if (pending === undefined) throw new CardStatus(Sw.conditionsNotSatisfied, "no response data pending");
    return this.frame(pending, ne);
  }

  /** Drop pending bytes (any command other than GET RESPONSE does). */
  clear(): void {
    this.pending = undefined;
  }
}
