/**
 * Model-based checks of the issue machine itself: every simple path through the real machine
 * (with every step's success, its failure, and each CA answer) is enumerated with xstate/graph,
 * and the workflow invariants are checked on each path.
 */

import { describe, expect, it } from "vitest";
import type { AnyEventObject } from "xstate";
import { createActor } from "xstate";
import { getSimplePaths } from "xstate/graph";
import { actorDone, actorError } from "../../test/support/actor-events.js";
import { type IssueContext, issueMachine, type TemplatePlan } from "./issue-machine.js";

const input = {
  operationId: "op-1",
  cardId: "card-1",
  userId: "ann",
  actor: "operator",
  deviceSerial: "1",
  optionalTemplates: [],
  previousCardState: "registered" as const,
};

const plan = (templateId: string, slot: string): TemplatePlan => ({
  templateId,
  caId: "ca",
  slot,
  keyAlgorithm: "ECCP256",
  requestId: `req-${templateId}`,
  status: "planned",
});

const done = actorDone;
const error = (id: string): AnyEventObject => actorError(id);

/** Events that can happen in each state: the step's possible outcomes. */
function eventsFor(snapshot: { value: unknown; context: IssueContext }): AnyEventObject[] {
  const state = String(snapshot.value);
  const c = snapshot.context;
  switch (state) {
    case "resolvePolicy":
      return [
        ...[
          [true, false],
          [false, false],
          [false, true],
        ].map(([initialiseOnIssue, documentsRequired]) =>
          done("resolvePolicy", {
            policyId: "p",
            policyVersion: 1,
            initialiseOnIssue,
            ...(documentsRequired === true ? { documentsRequired } : {}),
            templates: [plan("auth", "9a"), plan("sign", "9c")],
          }),
        ),
        error(state),
      ];
    case "authenticateAdmin":
      return [done(state, { source: "factory" }), error(state)];
    case "replaceAdminCredential":
      return [done(state, { replaced: true }), error(state)];
    case "writeCardIdentifiers":
      return [done(state, { guid: "00".repeat(16) }), error(state)];
    case "generateKey":
      return [done(state, { spki: "AAAA" }), error(state)];
    case "submitRequest":
      return [
        done(state, { status: "issued", caRequestId: "ca-1", serialHex: `0${c.index + 1}` }),
        done(state, { status: "pending", caRequestId: `ca-${c.index + 1}` }),
        done(state, { status: "rejected", reason: "no" }),
        error(state),
      ];
    case "pollRequests": {
      const pending = c.templates.filter((t) => t.status === "pending");
      return [
        done(state, { results: pending.map((t) => ({ requestId: t.requestId, status: "issued", serialHex: "0f" })) }),
        done(state, {
          results: pending.map((t) => ({ requestId: t.requestId, status: "pending", caRequestId: t.caRequestId })),
        }),
        done(state, {
          results: pending.map((t) => ({ requestId: t.requestId, status: "rejected", reason: "denied" })),
        }),
        error(state),
      ];
    }
    case "checkDocuments":
      return [
        done(state, { status: "approved", documents: [] }),
        done(state, {
          status: "rejected",
          documents: [{ type: "form", name: "Form", status: "rejected", documentId: "d1", reason: "unsigned" }],
        }),
        error(state),
      ];
    case "pending":
    case "awaitingDocuments":
    case "rollbackPending":
      return [{ type: "RESUME" }];
    case "rollback":
      return [
        done(state, {
          revoked: c.templates.filter((t) => t.status === "issued" || t.status === "written").map((t) => t.requestId),
        }),
        error(state),
      ];
    case "done":
    case "failed":
      return [];
    default:
      return [done(state), error(state)];
  }
}

describe("issue machine paths (xstate/graph)", () => {
  const paths = getSimplePaths(issueMachine, {
    input,
    // The done/error events of invoked actors are not in the machine's declared event union.
    events: eventsFor as never,
  });
  const statesOf = (p: (typeof paths)[number]) => p.steps.map((s) => String(s.state.value));

  it("enumerates a substantial set of paths, ending in done, failed and the resting states", () => {
    const ends = new Set(paths.map((p) => String(p.state.value)));
    expect(paths.length).toBeGreaterThan(100);
    console.info(`issue machine: ${paths.length} simple paths checked`);
    for (const s of ["done", "failed", "pending", "awaitingDocuments", "rollbackPending"]) expect(ends).toContain(s);
  });

  it("reaches done only with every certificate written, the PIN set, and nothing rejected", () => {
    const toDone = paths.filter((p) => p.state.value === "done");
    expect(toDone.length).toBeGreaterThan(0);
    for (const p of toDone) {
      const ctx = p.state.context as IssueContext;
      expect(ctx.templates.length).toBe(2);
      expect(ctx.templates.every((t) => t.status === "written")).toBe(true);
      expect(ctx.pinSet).toBe(true);
      const s = statesOf(p);
      expect(s.lastIndexOf("writeCertificates")).toBeLessThan(s.lastIndexOf("setPins"));
      expect(s.lastIndexOf("setPins")).toBeLessThan(s.lastIndexOf("complete"));
      expect(s).not.toContain("rollback");
    }
  });

  it("fails only through rollback, with the error recorded and every issued certificate revoked", () => {
    const toFailed = paths.filter((p) => p.state.value === "failed");
    expect(toFailed.length).toBeGreaterThan(0);
    for (const p of toFailed) {
      const ctx = p.state.context as IssueContext;
      expect(statesOf(p)).toContain("rollback");
      expect(ctx.error?.code).toMatch(/^(APDU_CARD_REMOVED|CA_REJECTED)$/);
      expect(ctx.templates.some((t) => t.status === "issued" || t.status === "written")).toBe(false);
    }
  });

  it("never runs a device-changing step after rollback began, nor writes a certificate before all are issued", () => {
    expect(paths.filter((p) => statesOf(p).includes("writeCertificates")).length).toBeGreaterThan(10);
    for (const p of paths) {
      const s = statesOf(p);
      const rb = s.indexOf("rollback");
      if (rb >= 0) {
        const after = s.slice(rb);
        for (const step of ["generateKey", "buildCsr", "submitRequest", "writeCertificates", "setPins", "complete"]) {
          expect(after).not.toContain(step);
        }
      }
      for (const step of [...p.steps.map((x) => x.state), p.state]) {
        if (String(step.value) === "writeCertificates") {
          const ctx = step.context as IssueContext;
          expect(ctx.templates.every((t) => t.status === "issued" || t.status === "written")).toBe(true);
        }
      }
    }
  });

  it("writes certificates only after the document check approved, and waits in awaitingDocuments otherwise", () => {
    const waiting = paths.filter((p) => p.state.value === "awaitingDocuments");
    expect(waiting.length).toBeGreaterThan(0);
    for (const p of waiting) {
      const ctx = p.state.context as IssueContext;
      expect(ctx.documents?.status).toBe("rejected");
      expect(statesOf(p)).not.toContain("writeCertificates");
    }
    for (const p of paths) {
      for (const step of [...p.steps.map((x) => x.state), p.state]) {
        const ctx = step.context as IssueContext;
        if (String(step.value) === "writeCertificates" && ctx.documentsRequired === true) {
          expect(ctx.documents?.status).toBe("approved");
        }
        // A policy without documents never runs the document check.
        if (ctx.documentsRequired !== true) expect(String(step.value)).not.toMatch(/Documents$/);
      }
    }
    // A rejection followed by RESUME and an approval reaches done.
    expect(
      paths.some((p) => {
        const s = statesOf(p);
        return p.state.value === "done" && s.includes("awaitingDocuments");
      }),
    ).toBe(true);
  });

  it("keeps context JSON-serialisable and free of anything that looks like a credential", () => {
    for (const p of paths) {
      const json = JSON.stringify(p.state.context);
      expect(JSON.parse(json)).toEqual(p.state.context);
      expect(json).not.toMatch(/"(pin|puk|managementKey|key)"\s*:/i);
    }
  });

  it("refuses to run a step nobody provided", async () => {
    const actor = createActor(issueMachine, { input });
    actor.start();
    await new Promise((r) => setTimeout(r, 0));
    const snap = actor.getSnapshot();
    expect(snap.value).toBe("rollbackPending");
    expect(snap.context.error?.code).toBe("WORKFLOW_STATE");
  });
});
