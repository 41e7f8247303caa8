/**
 * APDU transcript of a virtual reader: every exchange with its instruction, bytes, status word
 * and timing. Secrets are redacted at recording time — the data field of VERIFY, CHANGE
 * REFERENCE DATA, RESET RETRY COUNTER, SET MANAGEMENT KEY, IMPORT KEY and GENERAL AUTHENTICATE
 * with the management key (9B), and the response data of the latter — so a transcript can be
 * logged or attached to a bug report.
 */
import { instructionName } from "@cardwright/pcsc";

/** One recorded exchange. */
export interface TranscriptEntry {
  /** 1-based APDU number on this transport. */
  index: number;
  ins: number;
  /** Instruction name, e.g. "GENERAL AUTHENTICATE". */
  instruction: string;
  /** Command bytes; the data field is zeroed when `redacted`. */
  command: Uint8Array;
  /** Response bytes (data ‖ SW); empty when the exchange failed. Data zeroed when `redacted`. */
  response: Uint8Array;
  /** Status word as four hex digits, or undefined when the exchange failed. */
  sw?: string;
  /** Whether secret bytes were blanked. */
  redacted: boolean;
  /** Epoch milliseconds when the command was sent. */
  startedAt: number;
  durationMs: number;
  /** What went wrong instead of a response (error code), or which fault was injected. */
  outcome: "response" | "timeout" | "card-removed" | "injected-status";
}

function isSensitive(ins: number, p2: number): boolean {
  return [0x20, 0x24, 0x2c, 0xff, 0xfe].includes(ins) || (ins === 0x87 && p2 === 0x9b);
}

/** Offset and length of the data field of a command APDU (short or extended form). */
function dataField(cmd: Uint8Array): { offset: number; length: number } {
  if (cmd.length <= 5) return { offset: cmd.length, length: 0 };
  const b4 = cmd[4] as number;
  if (b4 !== 0) return { offset: 5, length: Math.min(b4, cmd.length - 5) };
  if (cmd.length <= 7) return { offset: cmd.length, length: 0 };
  const lc = ((cmd[5] as number) << 8) | (cmd[6] as number);
  return { offset: 7, length: Math.min(lc, cmd.length - 7) };
}

/** Copy of `command` with its data field zeroed. */
export function redactCommand(command: Uint8Array): Uint8Array {
  const out = Uint8Array.from(command);
  const { offset, length } = dataField(out);
  out.fill(0, offset, offset + length);
  return out;
}

/** Copy of `response` with everything but the status word zeroed. */
export function redactResponse(response: Uint8Array): Uint8Array {
  const out = Uint8Array.from(response);
  out.fill(0, 0, Math.max(0, out.length - 2));
  return out;
}

/** Records exchanges, redacting secrets. */
export class TranscriptRecorder {
  private readonly list: TranscriptEntry[] = [];

  /** Recorded entries, oldest first. */
  get entries(): readonly TranscriptEntry[] {
    return this.list;
  }

  /** Record one exchange. */
  record(e: {
    index: number;
    command: Uint8Array;
    response?: Uint8Array;
    startedAt: number;
    durationMs: number;
    outcome: TranscriptEntry["outcome"];
  }): TranscriptEntry {
    const ins = e.command[1] ?? 0;
    const p2 = e.command[3] ?? 0;
    const redacted = isSensitive(ins, p2);
    const response = e.response ?? new Uint8Array(0);
    const entry: TranscriptEntry = {
      index: e.index,
      ins,
      instruction: instructionName(ins),
      command: redacted ? redactCommand(e.command) : Uint8Array.from(e.command),
      response: redacted && ins === 0x87 ? redactResponse(response) : Uint8Array.from(response),
      sw:
        response.length >= 2
          ? Buffer.from(response.subarray(response.length - 2))
              .toString("hex")
              .toUpperCase()
          : undefined,
      redacted,
      startedAt: e.startedAt,
      durationMs: e.durationMs,
      outcome: e.outcome,
    };
    this.list.push(entry);
    return entry;
  }

  /** Forget all entries. */
  clear(): void {
    this.list.length = 0;
  }
}
