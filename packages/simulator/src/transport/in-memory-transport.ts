/**
 * A virtual reader: an {@link ApduTransport} whose card is a {@link VirtualPivCard} in the same
 * process. It can pull and re-insert the card, honours transmit time limits, records a redacted
 * transcript and injects faults at chosen APDUs.
 */
import { CardwrightError } from "@cardwright/core";
import {
  ApduTimeoutError,
  type ApduTransport,
  instructionName,
  type TransmitOptions,
  withinTimeLimit,
} from "@cardwright/pcsc";
import type { VirtualPivCard } from "../card/virtual-piv-card.js";
import { type FaultAction, type FaultInjection, FaultPlan } from "./faults.js";
import { type TranscriptEntry, TranscriptRecorder } from "./transcript.js";

/** Options for {@link InMemoryTransport}. */
export interface InMemoryTransportOptions {
  /** Reader name (default "Cardwright Virtual Reader 00"). */
  reader?: string;
  /** Time limit when a transmit passes none; unlimited by default. */
  defaultTimeoutMs?: number;
  /** Faults armed from the start. */
  faults?: readonly FaultInjection[];
  /** Clock for transcript timestamps (epoch ms; default `Date.now`). */
  now?: () => number;
}

/** An in-process reader holding one virtual card. */
export class InMemoryTransport implements ApduTransport {
  readonly reader: string;
  private current: VirtualPivCard | undefined;
  /** The card last seen in the reader, for {@link InMemoryTransport.insert} without argument. */
  private lastCard: VirtualPivCard | undefined;
  private readonly faults = new FaultPlan();
  private readonly recorder = new TranscriptRecorder();
  private readonly now: () => number;
  private readonly defaultTimeoutMs: number | undefined;
  private count = 0;

  constructor(card: VirtualPivCard, options: InMemoryTransportOptions = {}) {
    this.current = card;
    this.lastCard = card;
    this.reader = options.reader ?? "Cardwright Virtual Reader 00";
    this.now = options.now ?? Date.now;
    this.defaultTimeoutMs = options.defaultTimeoutMs;
    for (const f of options.faults ?? []) this.faults.add(f);
  }

  /** The card in the reader, or `undefined` while removed. */
  get card(): VirtualPivCard | undefined {
    return this.current;
  }

  /** Whether a card is present. */
  get present(): boolean {
    return this.current !== undefined;
  }

  /** APDUs sent so far (the k of fault triggers). */
  get apduCount(): number {
    return this.count;
  }

  /** Redacted transcript of every exchange. */
  get transcript(): readonly TranscriptEntry[] {
    return this.recorder.entries;
  }

  /** Forget the transcript. */
  clearTranscript(): void {
    this.recorder.clear();
  }

  /** Arm a fault. @throws RangeError for a non-positive APDU number. */
  injectFault(fault: FaultInjection): void {
    this.faults.add(fault);
  }

  /** Disarm all faults. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Pull the card: it loses power (volatile state) and transmits fail until {@link insert}. */
  remove(): void {
    this.current?.reset();
    this.current = undefined;
  }

  /** Insert a card (the one removed when omitted); it powers up with fresh volatile state. */
  insert(card?: VirtualPivCard): void {
    const next = card ?? this.lastCard;
    if (next === undefined) throw new CardwrightError("DEVICE_NOT_FOUND", "no card to insert into the virtual reader");
    next.reset();
    this.current = next;
  }

  private removedError(): CardwrightError {
    return new CardwrightError(
      "APDU_CARD_REMOVED",
      `the card was removed from ${this.reader}; insert it again and retry`,
      { details: { reader: this.reader, apdu: this.count } },
    );
  }

  private pull(): void {
    this.lastCard = this.current ?? this.lastCard;
    this.remove();
  }

  /**
   * Send one command APDU.
   * @throws CardwrightError `APDU_CARD_REMOVED` without a card, `APDU_TIMEOUT` when the card (or an
   * injected fault) does not answer in time.
   */
  async transmit(command: Uint8Array, options: TransmitOptions = {}): Promise<Uint8Array> {
    const index = ++this.count;
    const startedAt = this.now();
    const ins = command[1] ?? 0;
    const record = (outcome: TranscriptEntry["outcome"], response?: Uint8Array) =>
      this.recorder.record({ index, command, response, startedAt, durationMs: this.now() - startedAt, outcome });
    const card = this.current;
    if (card === undefined) {
      record("card-removed");
      throw this.removedError();
    }
    this.lastCard = card;
    const fault = this.faults.take(index, ins);
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const timeoutError = (injected = false) =>
      new ApduTimeoutError(timeoutMs ?? 0, { instruction: instructionName(ins), details: { apdu: index, injected } });

    // A fault that leaves the host without an answer: the card is pulled, or the command times out.
    const noAnswer = (action: FaultAction): never => {
      if (action.kind === "remove-card") {
        this.pull();
        record("card-removed");
        throw this.removedError();
      }
      record("timeout");
      throw timeoutError(true);
    };

    if (fault !== undefined && this.firesBefore(fault)) {
      if (fault.kind === "status-word") {
        const rsp = Uint8Array.of((fault.sw >> 8) & 0xff, fault.sw & 0xff);
        record("injected-status", rsp);
        return rsp;
      }
      noAnswer(fault);
    }

    let response: Uint8Array;
    try {
      response = await withinTimeLimit(card.process(command), timeoutMs, timeoutError);
    } catch (err) {
      record("timeout");
      throw err;
    }
    if (this.current !== card) {
      // Pulled while the card was working: the host never gets the answer.
      record("card-removed");
      throw this.removedError();
    }
    if (fault !== undefined) noAnswer(fault);
    record("response", response);
    return response;
  }

  private firesBefore(fault: FaultAction): boolean {
    return fault.kind === "status-word" || (fault.timing ?? "before-processing") === "before-processing";
  }

  /** ATR of the card. @throws CardwrightError `APDU_CARD_REMOVED` without a card. */
  async getAtr(): Promise<Uint8Array> {
    if (this.current === undefined) throw this.removedError();
    return this.current.atr;
  }

  /** Warm reset. @throws CardwrightError `APDU_CARD_REMOVED` without a card. */
  async reset(): Promise<void> {
    if (this.current === undefined) throw this.removedError();
    this.current.reset();
  }
}
