import { describe, expect, it } from "vitest";
import type { AuditEvent, AuditEventInput } from "../domain/audit.js";
import { CardwrightError } from "../errors.js";
import type { AuditLog } from "../ports/audit-log.js";
import { auditRefusal, refusalOnCard, refusing } from "./operation-refusal.js";

/** An audit log that keeps what was appended, in order. */
class RecordingAuditLog implements AuditLog {
  readonly events: AuditEventInput[] = [];
  async append(event: AuditEventInput): Promise<AuditEvent> {
    this.events.push(event);
    return {
      ...event,
      seq: this.events.length,
      id: String(this.events.length),
      at: "",
      prevHash: "",
      hash: "",
    } as AuditEvent;
  }
  async verify() {
    return { ok: true, count: this.events.length };
  }
}

const operator = { id: "op-1", kind: "operator" } as const;
const denied = () =>
  new CardwrightError("AUTHZ_DENIED", "no", { details: { permission: "p", operation: "checked", cardId: "c1" } });

describe("refusing", () => {
  it("returns what the checks return and audits nothing when they pass", async () => {
    const log = new RecordingAuditLog();
    await expect(refusing(log, { actor: operator, operation: "suspend" }, async () => 7)).resolves.toBe(7);
    expect(log.events).toEqual([]);
  });

  it("audits a typed refusal on the card, the refusal's fields winning by default, and rethrows it", async () => {
    const log = new RecordingAuditLog();
    const err = denied();
    const refusal = { actor: operator, operation: "update", ...refusalOnCard({ id: "c1", userId: "u1" }) };
    await expect(
      refusing(log, { ...refusal, context: { step: "x" } }, () => {
        throw err;
      }),
    ).rejects.toBe(err);
    expect(log.events).toEqual([
      {
        actor: "op-1",
        action: "operation.refused",
        cardId: "c1",
        userId: "u1",
        details: {
          permission: "p",
          cardId: "c1",
          operation: "update",
          actorKind: "operator",
          code: "AUTHZ_DENIED",
          step: "x",
        },
      },
    ]);
  });

  it("records the error's details over its own with precedence error, and the operation id", async () => {
    const log = new RecordingAuditLog();
    await auditRefusal(
      log,
      { actor: operator, operation: "replace", cardId: "c2", operationId: "o1", precedence: "error" },
      denied(),
    );
    expect(log.events[0]).toEqual({
      actor: "op-1",
      action: "operation.refused",
      cardId: "c2",
      operationId: "o1",
      details: { operation: "checked", actorKind: "operator", code: "AUTHZ_DENIED", permission: "p", cardId: "c1" },
    });
  });

  it("does not audit an untyped error (not a refusal) but still rethrows it", async () => {
    const log = new RecordingAuditLog();
    const bug = new TypeError("bug");
    await expect(
      refusing(log, { actor: operator, operation: "bind", userId: "u1" }, () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
    expect(log.events).toEqual([]);
  });

  it("names no user for an unbound card", () => {
    expect(refusalOnCard({ id: "c3" })).toEqual({ cardId: "c3" });
  });
});
