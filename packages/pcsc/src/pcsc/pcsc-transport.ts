/**
 * `PcscTransport`: an {@link ApduTransport} over a PC/SC reader (pcsc-lite on Linux and macOS,
 * WinSCard on Windows) through the `smartcard` binding.
 *
 * Exclusive access: the binding has no SCardBeginTransaction, so the card is connected with
 * SCARD_SHARE_EXCLUSIVE for the life of the transport — from {@link PcscTransport.connect} to
 * {@link PcscTransport.close}, which the device provider ties to one operation. Any other
 * application's SCardConnect fails with a sharing violation meanwhile, so nobody can slip an
 * APDU (or a reset) between our VERIFY and the signature it unlocks.
 */
import { CardwrightError } from "@cardwright/core";
import { ApduTimeoutError } from "../errors.js";
import { instructionName } from "../piv/constants.js";
import { withinTimeLimit } from "../time-limit.js";
import type { ApduTransport, TransmitOptions } from "../transport.js";
import { loadPcscBinding, type PcscBinding, type PcscCardHandle, type PcscContextHandle } from "./binding.js";
import { pcscError } from "./pcsc-errors.js";

/** Transmission protocols (ISO/IEC 7816-3): T=0 character, T=1 block; `any` lets the reader choose. */
export type PcscProtocol = "T0" | "T1" | "any";

/** Share mode: exclusive (the default) for an operation, shared for read-only look-ups. */
export type PcscShareMode = "exclusive" | "shared";

/** What happens to the card when the transport closes. */
export type PcscDisposition = "leave" | "reset" | "unpower";

/** Options of {@link PcscTransport.connect}. */
export interface PcscTransportOptions {
  /** Default "any". */
  protocol?: PcscProtocol;
  /** Default "exclusive". */
  share?: PcscShareMode;
  /**
   * Default "reset": the next application finds the PIN unverified and no application
   * selected, instead of inheriting our security status.
   */
  disposition?: PcscDisposition;
  /** Time limit when a transmit passes none; unlimited by default. */
  defaultTimeoutMs?: number;
  /** The binding; loaded lazily when omitted (tests inject one). */
  binding?: PcscBinding;
}

/** Room for an extended-length response: 65,536 data bytes and SW1 SW2. */
const MAX_RESPONSE = 65_538;
/** SCardStatus card states (pcsclite.h, same values in WinSCard); the binding exports only the SCARD_STATE_* flags. */
const SCARD_ABSENT = 0x0002;
const SCARD_PRESENT = 0x0004;
/** How long to watch for a removal after a lost exchange: pcscd polls presence every 400 ms or so. */
const REMOVAL_CONFIRM_MS = 2_000;

/** A card in a PC/SC reader, connected. */
export class PcscTransport implements ApduTransport {
  readonly reader: string;
  private readonly queue: { tail: Promise<unknown> } = { tail: Promise.resolve() };
  private closed = false;
  private count = 0;

  private constructor(
    private readonly binding: PcscBinding,
    private readonly context: PcscContextHandle,
    private card: PcscCardHandle,
    reader: string,
    private readonly shareMode: number,
    private readonly protocols: number,
    private readonly disposition: number,
    private readonly defaultTimeoutMs: number | undefined,
  ) {
    this.reader = reader;
  }

  /**
   * Connect to the card in `reader`.
   * @throws CardwrightError `PCSC_UNAVAILABLE` (no binding), `PCSC_NO_SERVICE` (no pcscd),
   * `DEVICE_NOT_FOUND` (no such reader), `APDU_CARD_REMOVED` (reader empty),
   * `PCSC_SHARING_VIOLATION` (another application holds the card), `APDU_TRANSPORT` (protocol mismatch…).
   */
  static async connect(reader: string, options: PcscTransportOptions = {}): Promise<PcscTransport> {
    const binding = options.binding ?? (await loadPcscBinding());
    const shareMode =
      (options.share ?? "exclusive") === "exclusive" ? binding.SCARD_SHARE_EXCLUSIVE : binding.SCARD_SHARE_SHARED;
    const protocols = protocolMask(binding, options.protocol ?? "any");
    const disposition = dispositionOf(binding, options.disposition ?? "reset");
    const context = establish(binding);
    try {
      const handle = readerHandle(context, reader);
      const card = await handle.connect(shareMode, protocols);
      return new PcscTransport(
        binding,
        context,
        card,
        reader,
        shareMode,
        protocols,
        disposition,
        options.defaultTimeoutMs,
      );
    } catch (err) {
      context.close();
      throw pcscError(err, { action: "connecting to the card", reader });
    }
  }

  /** The protocol the card and reader agreed on. */
  get protocol(): "T0" | "T1" | "raw" {
    if (this.card.protocol === this.binding.SCARD_PROTOCOL_T0) return "T0";
    if (this.card.protocol === this.binding.SCARD_PROTOCOL_T1) return "T1";
    return "raw";
  }

  /** Command APDUs sent so far. */
  get apduCount(): number {
    return this.count;
  }

  /**
   * Send one command APDU (one at a time: a transmit waits for the previous one).
   * @throws CardwrightError `APDU_CARD_REMOVED`, `APDU_TIMEOUT`, `PCSC_CARD_RESET` (after which the
   * transport is reconnected and usable, but the card's volatile state is gone), `APDU_TRANSPORT`.
   */
  transmit(command: Uint8Array, options: TransmitOptions = {}): Promise<Uint8Array> {
    return this.serial(async () => {
      this.ensureOpen();
      const index = ++this.count;
      const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
      const ins = command[1] ?? 0;
      const exchange = this.card.transmit(Buffer.from(command), { maxRecvLength: MAX_RESPONSE });
      // After a timeout the native call may still fail later; that outcome has no one to tell.
      exchange.catch(() => undefined);
      try {
        const response = await withinTimeLimit(
          exchange,
          timeoutMs,
          () =>
            new ApduTimeoutError(timeoutMs ?? 0, {
              instruction: instructionName(ins),
              details: { apdu: index, reader: this.reader },
            }),
        );
        if (response.length >= 2) return Uint8Array.from(response);
        // No status word: a card never answers so, but a reader whose card left mid-command can
        // (vpcd 3.3 reports success with no bytes).
        throw await this.lostExchange(new Error("the reader returned no status word"), ins, index);
      } catch (err) {
        if (err instanceof CardwrightError) throw err;
        const mapped = pcscError(err, {
          action: `transmitting ${instructionName(ins)}`,
          reader: this.reader,
          details: { apdu: index },
        });
        if (mapped.code === "PCSC_CARD_RESET") await this.reconnectAfterReset();
        if (mapped.details.scard === "SCARD_E_NOT_TRANSACTED" || mapped.details.scard === "SCARD_F_COMM_ERROR") {
          throw await this.lostExchange(err, ins, index);
        }
        throw mapped;
      }
    });
  }

  /** ATR of the card, as the reader reports it now. @throws CardwrightError `APDU_CARD_REMOVED`. */
  async getAtr(): Promise<Uint8Array> {
    this.ensureOpen();
    try {
      return Uint8Array.from(this.card.getStatus().atr);
    } catch (err) {
      throw pcscError(err, { action: "reading the ATR", reader: this.reader });
    }
  }

  /** Warm reset (SCardReconnect with SCARD_RESET_CARD), keeping exclusive access. */
  reset(): Promise<void> {
    return this.serial(async () => {
      this.ensureOpen();
      try {
        await this.card.reconnect(this.shareMode, this.protocols, this.binding.SCARD_RESET_CARD);
      } catch (err) {
        throw pcscError(err, { action: "resetting the card", reader: this.reader });
      }
    });
  }

  /** Disconnect (resetting the card by default) and release the PC/SC context. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.tail.catch(() => undefined);
    this.closed = true;
    try {
      if (this.card.connected) {
        // The binding's disconnect is synchronous and blocks the event loop while the reader
        // resets or powers down the card; a card served from this very process (a virtual card
        // behind vpcd) could then never answer. The asynchronous SCardReconnect does the reset
        // on a worker thread, and the disconnect that follows leaves the card alone.
        if (this.disposition !== this.binding.SCARD_LEAVE_CARD) {
          await this.card.reconnect(this.shareMode, this.protocols, this.disposition);
        }
        this.card.disconnect(this.binding.SCARD_LEAVE_CARD);
      }
    } catch {
      // The card is gone already: nothing left to release but the context.
    } finally {
      this.context.close();
    }
  }

  /**
   * An exchange failed without a verdict (SCARD_E_NOT_TRANSACTED, a comm error, no status word):
   * if the card is gone that is a removal — pcscd notices only at its next presence poll, so
   * watch the card status for a moment — otherwise a transport failure.
   */
  private async lostExchange(cause: unknown, ins: number, index: number): Promise<CardwrightError> {
    const deadline = Date.now() + REMOVAL_CONFIRM_MS;
    for (;;) {
      let removed: boolean;
      try {
        const state = this.card.getStatus().state;
        removed = (state & SCARD_ABSENT) !== 0 || (state & SCARD_PRESENT) === 0;
      } catch (err) {
        removed = pcscError(err, { action: "reading the card status" }).code === "APDU_CARD_REMOVED";
        if (!removed) break;
      }
      if (removed) {
        return new CardwrightError(
          "APDU_CARD_REMOVED",
          `the card was removed from ${this.reader} during ${instructionName(ins)}; insert it again and retry`,
          { cause, details: { reader: this.reader, apdu: index, instruction: instructionName(ins) } },
        );
      }
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return pcscError(cause, {
      action: `transmitting ${instructionName(ins)}`,
      reader: this.reader,
      details: { apdu: index },
    });
  }

  private async reconnectAfterReset(): Promise<void> {
    try {
      await this.card.reconnect(this.shareMode, this.protocols, this.binding.SCARD_LEAVE_CARD);
    } catch {
      // The card may have left as well; the next transmit reports that.
    }
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new CardwrightError("DEVICE_NOT_FOUND", `the connection to ${this.reader} was closed; connect again`, {
        details: { reader: this.reader },
      });
    }
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.tail.then(work, work);
    this.queue.tail = run.catch(() => undefined);
    return run;
  }
}

/** Establish an SCARDCONTEXT. @throws CardwrightError `PCSC_NO_SERVICE` without pcscd. */
export function establish(binding: PcscBinding): PcscContextHandle {
  try {
    return new binding.Context();
  } catch (err) {
    throw pcscError(err, { action: "connecting to the PC/SC service" });
  }
}

function readerHandle(context: PcscContextHandle, reader: string) {
  const found = context.listReaders().find((r) => r.name === reader);
  if (found === undefined) {
    throw new CardwrightError("DEVICE_NOT_FOUND", `no PC/SC reader named "${reader}"; list the readers and pick one`, {
      details: { reader },
    });
  }
  return found;
}

function protocolMask(binding: PcscBinding, protocol: PcscProtocol): number {
  if (protocol === "T0") return binding.SCARD_PROTOCOL_T0;
  if (protocol === "T1") return binding.SCARD_PROTOCOL_T1;
  return binding.SCARD_PROTOCOL_T0 | binding.SCARD_PROTOCOL_T1;
}

function dispositionOf(binding: PcscBinding, disposition: PcscDisposition): number {
  if (disposition === "leave") return binding.SCARD_LEAVE_CARD;
  if (disposition === "unpower") return binding.SCARD_UNPOWER_CARD;
  return binding.SCARD_RESET_CARD;
}
