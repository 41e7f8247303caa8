import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../domain/audit.js";
import { isCardwrightError } from "../errors.js";
import {
  recordBody,
  recordJsonText,
  requireAuditEvent,
  requireCertificateRecord,
  requireRecordId,
  requireStoreInstant,
  requireStoreLimit,
} from "./record-checks.js";

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    expect(isCardwrightError(err, "STORE_FAILURE")).toBe(true);
    return (err as { details?: unknown }).details;
  }
  throw new Error("expected STORE_FAILURE");
}

describe("store record checks (the Store contract's refusals)", () => {
  it("accepts what every store can keep and passes it back", () => {
    expect(requireRecordId("card-1", "card")).toBe("card-1");
    expect(requireStoreInstant("2026-01-02T03:04:05.000Z", "at")).toBe("2026-01-02T03:04:05.000Z");
    expect(requireStoreLimit(undefined)).toBeUndefined();
    expect(requireStoreLimit(0)).toBe(0);
    expect(recordJsonText({ a: "x", b: [1] }, "card")).toBe('{"a":"x","b":[1]}');
    expect(() => requireCertificateRecord({})).not.toThrow();
  });

  it("refuses empty ids, non-instants, bad limits and bad certificate expiry", () => {
    expect(refusal(() => requireRecordId("", "card"))).toEqual({ recordKind: "card" });
    expect(refusal(() => requireRecordId(7, "card"))).toEqual({ recordKind: "card" });
    expect(refusal(() => requireStoreInstant("next tuesday", "notAfter"))).toEqual({ field: "notAfter" });
    expect(refusal(() => requireStoreLimit(-1))).toEqual({ limit: -1 });
    expect(refusal(() => requireStoreLimit(1.5))).toEqual({ limit: 1.5 });
    expect(refusal(() => requireCertificateRecord({ notAfter: "soon" }))).toEqual({ field: "notAfter" });
  });

  it("refuses JSON that PostgreSQL jsonb cannot hold: NUL in values or keys, and non-JSON values", () => {
    expect(refusal(() => recordJsonText({ a: "x\0y" }, "card"))).toEqual({ recordKind: "card" });
    expect(refusal(() => recordJsonText({ "k\0": 1 }, "card"))).toEqual({ recordKind: "card" });
    expect(refusal(() => recordJsonText({ n: 1n }, "operation"))).toEqual({ recordKind: "operation" });
    expect(refusal(() => recordJsonText({ a: ["ok", { b: "\\\0" }] }, "card"))).toEqual({ recordKind: "card" });
  });

  it("keeps text that only spells the NUL escape out, backslash and all", () => {
    for (const text of ["\\u0000", "a\\u0000b\\\\u0000", "\\\\\\u0000"]) {
      expect(JSON.parse(recordJsonText({ text }, "card"))).toEqual({ text });
    }
  });

  it("drops the store-owned fields whatever the caller passed", () => {
    const body = recordBody({ id: "c", version: 9, createdAt: "x", updatedAt: "y", state: "issued" });
    expect(body).toEqual({ id: "c", state: "issued" });
  });

  it("checks an audit event's seq, id and instant", () => {
    const event = { seq: 1, id: "evt-1", at: "2026-01-02T03:04:05.000Z" } as AuditEvent;
    expect(requireAuditEvent(event)).toBe("evt-1");
    expect(refusal(() => requireAuditEvent({ ...event, seq: 0 }))).toEqual({ recordKind: "audit event" });
    expect(refusal(() => requireAuditEvent({ ...event, seq: 1.5 }))).toEqual({ recordKind: "audit event" });
    expect(refusal(() => requireAuditEvent({ ...event, id: "" }))).toEqual({ recordKind: "audit event" });
    expect(refusal(() => requireAuditEvent({ ...event, at: "later" }))).toEqual({ field: "at" });
  });
});
