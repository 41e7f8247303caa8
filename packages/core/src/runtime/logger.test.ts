import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLogger, redactSecrets } from "./logger.js";

describe("redactSecrets", () => {
  it("redacts keys named like secrets at any depth and keeps the rest", () => {
    const out = redactSecrets({
      cardId: "c1",
      pin: "123456",
      nested: { managementKey: "0102", puk: "12345678", slot: "9a", list: [{ secret: "x", ok: 1 }] },
    });
    expect(out).toEqual({
      cardId: "c1",
      pin: "[redacted]",
      nested: { managementKey: "[redacted]", puk: "[redacted]", slot: "9a", list: [{ secret: "[redacted]", ok: 1 }] },
    });
  });
});

describe("consoleLogger", () => {
  afterEach(() => vi.restoreAllMocks());
  it("prints JSON lines at or above its level, without secrets", () => {
    const spy = vi.spyOn(console, "log").mockImplementation(() => {});
    const logger = consoleLogger({ level: "info" });
    logger.log("debug", "hidden");
    logger.log("info", "pin changed", { cardId: "c1", pin: "987654" });
    expect(spy).toHaveBeenCalledTimes(1);
    const line = String(spy.mock.calls[0]?.[0]);
    expect(line).not.toContain("987654");
    expect(JSON.parse(line)).toEqual({
      level: "info",
      message: "pin changed",
      fields: { cardId: "c1", pin: "[redacted]" },
    });
  });
});
