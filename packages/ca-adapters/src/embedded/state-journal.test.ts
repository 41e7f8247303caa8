import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { encodeJournalEntry, scanJournal } from "./state-journal.js";

const line = (crlNumber: number) => encodeJournalEntry({ generation: 2, changes: { settings: { crlNumber } } });
const bytes = (...parts: (Buffer | string)[]) => Buffer.concat(parts.map((part) => Buffer.from(part)));

describe("scanJournal", () => {
  it("returns the complete lines and how many bytes they take", () => {
    const scan = scanJournal(bytes(line(1), line(2)), "j");
    expect(scan.entries.map((entry) => entry.changes.settings?.crlNumber)).toEqual([1, 2]);
    expect(scan.consumed).toBe(line(1).length * 2);
    expect(scan.torn).toBe(0);
  });

  it("leaves out a torn last line, with or without a newline, and counts its bytes", () => {
    for (const torn of ['{"generation":2,"chan', '{"generation":2,"changes":{}}', "\u0000\u0000\n"]) {
      const scan = scanJournal(bytes(line(1), torn), "j");
      expect(scan.entries).toHaveLength(1);
      expect(scan.consumed).toBe(line(1).length);
      expect(scan.torn).toBe(Buffer.byteLength(torn));
    }
  });

  it("refuses lines that would reach past the record maps", () => {
    for (const bad of [
      '{"generation":2,"changes":{"settings":{"format":"x"}}}\n',
      '{"generation":2,"changes":{"settings":{"certificates":{}}}}\n',
      '{"generation":2,"changes":{"other":{}}}\n',
      '{"generation":2,"changes":{"certificates":{"01":"not a record"}}}\n',
      '{"generation":2,"changes":{"requestIndex":{"r":{"not":"an id"}}}}\n',
      '{"generation":"2","changes":{}}\n',
    ]) {
      expect(scanJournal(bytes(line(1), bad), "j").entries).toHaveLength(1);
    }
  });

  it("reports damage, with its file offset, when an unreadable line is followed by a valid one", () => {
    const error = (() => {
      try {
        scanJournal(bytes(line(1), "garbage\n", line(2)), "j", 100);
      } catch (err) {
        return err;
      }
    })();
    expect(isCardwrightError(error, "CONFIG_INVALID")).toBe(true);
    expect((error as { details?: { offset?: number } }).details?.offset).toBe(100 + line(1).length);
  });
});
