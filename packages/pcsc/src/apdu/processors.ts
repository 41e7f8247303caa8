/**
 * Stacked APDU processors (the yubikit / Yubico.NET pattern): each layer handles one transport
 * quirk so callers never see it.
 *
 *   ApduConnection → CommandChainingProcessor → ResponseChainingProcessor → TransportProcessor → ApduTransport
 *
 * - command chaining, ISO/IEC 7816-4 §5.1.1.1: data longer than a short Lc is sent in chunks of
 *   255 bytes, CLA bit b5 (0x10) set on all but the last, when extended length is off;
 * - response chaining, ISO/IEC 7816-4 §7.1: `61xx` means xx more bytes wait — GET RESPONSE
 *   (INS C0) until `9000`, concatenating the data; `6Cxx` means "wrong Le, resend with Le = xx";
 * - the transport layer encodes short or extended APDUs, enforces the per-command time limit and
 *   writes the APDU trace, with secrets redacted.
 */
import { CardwrightError } from "@cardwright/core";
import { ApduTimeoutError, BadResponseError, formatSw } from "../errors.js";
import { Ins, instructionName, KeyRef } from "../piv/constants.js";
import { withinTimeLimit } from "../time-limit.js";
import { concat } from "../tlv.js";
import type { ApduTransport } from "../transport.js";
import {
  type CommandApdu,
  decodeResponse,
  EXTENDED_MAX_NE,
  encodeCommand,
  type ResponseApdu,
  requiredForm,
  SHORT_MAX_LC,
  SHORT_MAX_NE,
} from "./command.js";

/** One exchange on the wire, as the trace callback receives it. Secrets are already redacted. */
export interface ApduTraceEntry {
  /** Instruction name of the original command (`"GET RESPONSE"` for response chaining). */
  instruction: string;
  /** Command APDU in hex; a redacted data field reads `<redacted N bytes>`. */
  command: string;
  /** Response data in hex (without SW), or `<redacted N bytes>`. */
  response: string;
  /** Status word, four hex digits. */
  sw: string;
  /** Wall time of the exchange. */
  durationMs: number;
  /** True when data fields were hidden because they carry a PIN, PUK or key. */
  redacted: boolean;
}

/** Per-command time limits in milliseconds. */
export interface ApduTimeouts {
  /** Every command not listed below. */
  defaultMs: number;
  /** GENERATE ASYMMETRIC KEY PAIR with an RSA algorithm (slow on-card prime search). */
  generateRsaMs: number;
  /** GENERATE ASYMMETRIC KEY PAIR with an EC algorithm. */
  generateEcMs: number;
  /** Private-key operations (signing), which may wait for a touch (YubiKey touch policy, 15 s). */
  signMs: number;
}

/** Defaults: generous for RSA generation, which takes tens of seconds on some cards. */
export const DEFAULT_TIMEOUTS: Readonly<ApduTimeouts> = Object.freeze({
  defaultMs: 10_000,
  generateRsaMs: 120_000,
  generateEcMs: 30_000,
  signMs: 20_000,
});

/** Options of an {@link ApduConnection}. */
export interface ApduConnectionOptions {
  /**
   * Use extended-length APDUs (ISO/IEC 7816-4 §5.1) for long data and responses instead of
   * command chaining and GET RESPONSE. Off by default: every PIV card handles short APDUs.
   */
  extendedLength?: boolean;
  /** Override some or all time limits. */
  timeouts?: Partial<ApduTimeouts>;
  /**
   * APDU trace, on its own channel (not the application logger). VERIFY, CHANGE REFERENCE DATA,
   * RESET RETRY COUNTER, SET MANAGEMENT KEY, IMPORT KEY and management-key GENERAL AUTHENTICATE
   * data are redacted before the callback sees them.
   */
  trace?: (entry: ApduTraceEntry) => void;
}

/** Facts about one logical command that every layer needs. */
export interface ExchangeContext {
  timeoutMs: number;
  /** Hide data fields in the trace. */
  sensitive: boolean;
  /** Name of the original instruction. */
  instruction: string;
}

/** One layer of the stack. */
export interface ApduProcessor {
  process(apdu: CommandApdu, context: ExchangeContext): Promise<ResponseApdu>;
}

const HEX = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex").toUpperCase();

/**
 * True when the command or its answer carries a secret: reference data (PIN/PUK), management
 * keys, imported private keys, or the management-key mutual-authentication witness/response.
 */
export function isSensitiveCommand(apdu: CommandApdu): boolean {
  switch (apdu.ins) {
    case Ins.verify:
    case Ins.changeReferenceData:
    case Ins.resetRetryCounter:
    case Ins.setManagementKey:
    case Ins.importKey:
      return true;
    case Ins.generalAuthenticate:
      return apdu.p2 === KeyRef.managementKey;
    default:
      return false;
  }
}

function redactedCommandHex(apdu: CommandApdu, encoded: Uint8Array): string {
  const nc = apdu.data?.length ?? 0;
  if (nc === 0) return HEX(encoded);
  // With data present a short Lc is never 0, so a 00 there marks the extended 00 hi lo form.
  const lcBytes = encoded[4] === 0 ? 3 : 1;
  const head = encoded.subarray(0, 4 + lcBytes);
  const tail = encoded.subarray(4 + lcBytes + nc);
  return `${HEX(head)}<redacted ${nc} bytes>${HEX(tail)}`;
}

/** Bottom layer: encodes, transmits with a time limit, decodes, traces. */
export class TransportProcessor implements ApduProcessor {
  constructor(
    private readonly transport: ApduTransport,
    private readonly extendedLength: boolean,
    private readonly trace?: (entry: ApduTraceEntry) => void,
  ) {}

  async process(apdu: CommandApdu, context: ExchangeContext): Promise<ResponseApdu> {
    const encoded = encodeCommand(apdu, this.extendedLength ? requiredForm(apdu) : "short");
    const trace = this.trace;
    const started = trace === undefined ? 0 : performance.now();
    let raw: Uint8Array;
    // The transport should honour timeoutMs itself; the limit guards against one that does not.
    try {
      raw = await withinTimeLimit(
        this.transport.transmit(encoded, { timeoutMs: context.timeoutMs }),
        context.timeoutMs,
        () => new ApduTimeoutError(context.timeoutMs, { instruction: context.instruction }),
      );
    } catch (err) {
      if (err instanceof CardwrightError) throw err;
      throw new CardwrightError("APDU_TRANSPORT", `transmitting ${context.instruction}: ${String(err)}`, {
        cause: err,
        details: { instruction: context.instruction },
      });
    }
    const response = decodeResponse(raw);
    if (response === undefined) {
      throw new BadResponseError(`${raw.length} byte response has no status word`, {
        instruction: context.instruction,
      });
    }
    if (trace !== undefined) {
      const sensitive = context.sensitive;
      trace({
        instruction: apdu.ins === Ins.getResponse ? instructionName(Ins.getResponse) : context.instruction,
        command: sensitive ? redactedCommandHex(apdu, encoded) : HEX(encoded),
        response:
          sensitive && response.data.length > 0 ? `<redacted ${response.data.length} bytes>` : HEX(response.data),
        sw: formatSw(response.sw),
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        redacted: sensitive,
      });
    }
    return response;
  }
}

/** Most GET RESPONSE rounds accepted for one command (a runaway card must not loop us forever). */
const MAX_RESPONSE_ROUNDS = 1024;

/** Handles `61xx` (GET RESPONSE) and `6Cxx` (resend with the exact Le). */
export class ResponseChainingProcessor implements ApduProcessor {
  constructor(private readonly next: ApduProcessor) {}

  async process(apdu: CommandApdu, context: ExchangeContext): Promise<ResponseApdu> {
    let response = await this.next.process(apdu, context);
    if (response.sw >> 8 === 0x6c) {
      const exact = response.sw & 0xff || SHORT_MAX_NE;
      response = await this.next.process({ ...apdu, ne: exact }, context);
    }
    if (response.sw >> 8 !== 0x61) return response;
    const parts: Uint8Array[] = [response.data];
    let rounds = 0;
    while (response.sw >> 8 === 0x61) {
      if (++rounds > MAX_RESPONSE_ROUNDS) {
        throw new BadResponseError(`more than ${MAX_RESPONSE_ROUNDS} GET RESPONSE rounds`, {
          instruction: context.instruction,
          sw: response.sw,
        });
      }
      const available = response.sw & 0xff || SHORT_MAX_NE;
      response = await this.next.process(
        { cla: apdu.cla & ~0x10, ins: Ins.getResponse, p1: 0, p2: 0, ne: available },
        context,
      );
      parts.push(response.data);
    }
    return { data: concat(...parts), sw: response.sw };
  }
}

/** Splits long data into a chain of short commands when extended length is off. */
export class CommandChainingProcessor implements ApduProcessor {
  constructor(
    private readonly next: ApduProcessor,
    private readonly extendedLength: boolean,
  ) {}

  process(apdu: CommandApdu, context: ExchangeContext): Promise<ResponseApdu> {
    // Most commands fit one APDU: hand them on without an async frame of this layer.
    if (this.extendedLength || (apdu.data?.length ?? 0) <= SHORT_MAX_LC) return this.next.process(apdu, context);
    return this.chain(apdu, apdu.data as Uint8Array, context);
  }

  private async chain(apdu: CommandApdu, data: Uint8Array, context: ExchangeContext): Promise<ResponseApdu> {
    for (let offset = 0; ; offset += SHORT_MAX_LC) {
      const chunk = data.subarray(offset, offset + SHORT_MAX_LC);
      const last = offset + SHORT_MAX_LC >= data.length;
      if (last) return this.next.process({ ...apdu, data: chunk }, context);
      const response = await this.next.process(
        { cla: apdu.cla | 0x10, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data: chunk },
        context,
      );
      // A refused link of the chain ends the chain; its status is the command's status.
      if (response.sw !== 0x9000) return response;
    }
  }
}

/** Options of one {@link ApduConnection.send}. */
export interface SendOptions {
  /** Time limit of this command (including chaining); defaults per instruction. */
  timeoutMs?: number;
}

/**
 * A card channel over an {@link ApduTransport}: serialises commands (one at a time, so chains
 * never interleave), applies chaining, time limits and the trace. Returns the status word as
 * the card gave it — mapping to errors is the card edge's job (`apdu/status.ts`).
 */
export class ApduConnection {
  /** Extended-length APDUs are in use. */
  readonly extendedLength: boolean;
  /** Effective time limits. */
  readonly timeouts: Readonly<ApduTimeouts>;
  private readonly stack: ApduProcessor;
  private queue: Promise<unknown> = Promise.resolve();
  /** Commands sent and not yet settled. */
  private inFlight = 0;

  constructor(
    readonly transport: ApduTransport,
    options: ApduConnectionOptions = {},
  ) {
    this.extendedLength = options.extendedLength ?? false;
    this.timeouts = Object.freeze({ ...DEFAULT_TIMEOUTS, ...options.timeouts });
    this.stack = new CommandChainingProcessor(
      new ResponseChainingProcessor(new TransportProcessor(transport, this.extendedLength, options.trace)),
      this.extendedLength,
    );
  }

  /** Largest Ne to ask for: 256 with short APDUs (more arrives via GET RESPONSE), 65536 with extended. */
  get maxNe(): number {
    return this.extendedLength ? EXTENDED_MAX_NE : SHORT_MAX_NE;
  }

  /**
   * Send one logical command; chaining and GET RESPONSE happen below.
   * @throws CardwrightError `APDU_TIMEOUT`, `APDU_TRANSPORT`, `APDU_CARD_REMOVED` from the link;
   * `APDU_INVALID_COMMAND` for a command that cannot be encoded.
   */
  send(apdu: CommandApdu, options: SendOptions = {}): Promise<ResponseApdu> {
    const context: ExchangeContext = {
      timeoutMs: options.timeoutMs ?? this.timeouts.defaultMs,
      sensitive: isSensitiveCommand(apdu),
      instruction: instructionName(apdu.ins),
    };
    // Idle (the usual case: callers await each command): start at once, without a queue hop.
    const idle = this.inFlight++ === 0;
    const run = idle ? this.start(apdu, context) : this.queue.then(() => this.stack.process(apdu, context));
    this.queue = run.then(this.settled, this.settled);
    return run;
  }

  private readonly settled = (): void => {
    this.inFlight--;
  };

  private start(apdu: CommandApdu, context: ExchangeContext): Promise<ResponseApdu> {
    try {
      return this.stack.process(apdu, context);
    } catch (err) {
      // A processor that throws instead of rejecting still fails the command, not the caller's stack.
      return Promise.reject(err);
    }
  }
}
