import { describe, expect, it } from "vitest";
import { CardwrightError } from "../errors.js";
import type { Notification, Notifier } from "../ports/notifier.js";
import type { Logger, LogLevel } from "../ports/runtime.js";
import { notifySafely } from "./notify-safely.js";

class RecordingLogger implements Logger {
  readonly lines: { level: LogLevel; message: string; fields?: Record<string, unknown> }[] = [];
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level, message, ...(fields === undefined ? {} : { fields }) });
  }
}

const failing = (err: unknown): Notifier => ({
  notify: async () => {
    throw err;
  },
});

describe("notifySafely", () => {
  it("sends the notification to the notifier", async () => {
    const sent: Notification[] = [];
    const logger = new RecordingLogger();
    const notification: Notification = { kind: "issued", cardId: "c1", userId: "u1", operationId: "o1" };
    await notifySafely({ notifier: { notify: async (n) => void sent.push(n) }, logger }, notification);
    expect(sent).toEqual([notification]);
    expect(logger.lines).toEqual([]);
  });

  it("does nothing without a notifier", async () => {
    const logger = new RecordingLogger();
    await notifySafely({ logger }, { kind: "issued", cardId: "c1", userId: "u1", operationId: "o1" });
    expect(logger.lines).toEqual([]);
  });

  it("logs a failure with kind, card, code and text, and does not throw", async () => {
    const logger = new RecordingLogger();
    const err = new CardwrightError("NOTIFY_FAILED", "smtp down");
    await notifySafely(
      { notifier: failing(err), logger },
      { kind: "updated", cardId: "c1", userId: "u1", operationId: "o1" },
    );
    expect(logger.lines).toEqual([
      {
        level: "warn",
        message: "notification failed",
        fields: { kind: "updated", cardId: "c1", code: "NOTIFY_FAILED", error: "smtp down" },
      },
    ]);
  });

  it("never logs the error text of the PIN notification, which could echo the PIN", async () => {
    const logger = new RecordingLogger();
    await notifySafely(
      { notifier: failing(new Error("could not send 123456")), logger },
      { kind: "pin", cardId: "c1", userId: "u1", pin: "123456" },
    );
    expect(logger.lines).toEqual([
      { level: "warn", message: "notification failed", fields: { kind: "pin", cardId: "c1", code: "unknown" } },
    ]);
    expect(JSON.stringify(logger.lines)).not.toContain("123456");
  });
});
