/**
 * The embedded CA's append-only change journal: one JSON line per committed change, beside the
 * state snapshot. A line counts only once its terminating newline is written, so a crash in the
 * middle of an append leaves a torn last line that readers ignore and the next writer cuts off.
 * Each line names the snapshot generation it applies to; after a compaction folds the journal
 * into a new snapshot, lines of older generations are already in it and are skipped.
 */
import { CardwrightError } from "@cardwright/core";
import { type CaStateChanges, RECORD_MAPS } from "./state-draft.js";

/** One committed change. */
export interface JournalEntry {
  /** Generation of the snapshot this change applies on top of. */
  generation: number;
  changes: CaStateChanges;
}

/** What a scan of journal bytes found. */
export interface JournalScan {
  entries: JournalEntry[];
  /** Bytes of complete, valid lines from the start of the scanned bytes. */
  consumed: number;
  /** Bytes after `consumed`: a torn last line (a crash or a write in progress), or 0. */
  torn: number;
}

const NEWLINE = 0x0a;

/** The journal line of one change, newline included. */
export function encodeJournalEntry(entry: JournalEntry): Buffer {
  return Buffer.from(`${JSON.stringify({ generation: entry.generation, changes: entry.changes })}\n`, "utf8");
}

function isRecordObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseLine(line: string): JournalEntry | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecordObject(json) || !Number.isSafeInteger(json.generation) || !isRecordObject(json.changes)) {
    return undefined;
  }
  const changes = json.changes;
  for (const [part, value] of Object.entries(changes)) {
    if (!isRecordObject(value)) return undefined;
    if (part === "settings") {
      // A setting may never replace a record map or the format tag.
      if (Object.keys(value).some((key) => key === "format" || (RECORD_MAPS as readonly string[]).includes(key))) {
        return undefined;
      }
    } else if (!(RECORD_MAPS as readonly string[]).includes(part)) {
      return undefined;
    } else {
      // requestIndex maps to caRequestIds; the other maps hold records.
      const wellFormed = (entry: unknown) =>
        entry === null || (part === "requestIndex" ? typeof entry === "string" : isRecordObject(entry));
      if (!Object.values(value).every(wellFormed)) return undefined;
    }
  }
  return { generation: json.generation as number, changes: changes as CaStateChanges };
}

/**
 * Parse the journal bytes `bytes`, read from the line boundary `fileOffset`. A last line that is not
 * newline-terminated or not a valid entry is torn: reported, not returned.
 * @throws CardwrightError `CONFIG_INVALID` when an invalid line is followed by a valid one —
 * that is damage, not a crash in the middle of an append.
 */
export function scanJournal(bytes: Uint8Array, path: string, fileOffset = 0): JournalScan {
  const entries: JournalEntry[] = [];
  let consumed = 0;
  let invalidAt: number | undefined;
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end < 0) break;
    const entry = parseLine(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("utf8"));
    if (entry === undefined) {
      invalidAt ??= start;
    } else if (invalidAt !== undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `embedded CA journal ${path} is damaged at byte ${fileOffset + invalidAt}: an unreadable line is followed by valid ones; restore the CA directory from a backup`,
        { details: { path, offset: fileOffset + invalidAt } },
      );
    } else {
      entries.push(entry);
      consumed = end + 1;
    }
    start = end + 1;
  }
  return { entries, consumed, torn: bytes.length - consumed };
}
