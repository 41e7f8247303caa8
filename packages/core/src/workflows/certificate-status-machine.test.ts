/**
 * Model-based checks of the suspend/resume/revoke machine: every simple path (each step's
 * success and failure, and RESUME from the resting state) is enumerated with xstate/graph and the
 * failure rule is checked on each.
 */
import { describe, expect, it } from "vitest";
import { type AnyEventObject, createActor } from "xstate";
import { getSimplePaths } from "xstate/graph";
import { actorDone, actorError } from "../../test/support/actor-events.js";
import { CardwrightError } from "../errors.js";
import {
  type CertificateStatusContext,
  type CertificateTarget,
  certificateStatusMachine,
} from "./certificate-status-machine.js";

const input = {
  operationId: "op-1",
  cardId: "card-1",
  userId: "ann",
  actor: "operator-1",
  actorKind: "operator" as const,
  change: "revoke" as const,
  reason: "keyCompromise" as const,
  fromState: "active" as const,
  toState: "revoked" as const,
};

const target = (slot: string): CertificateTarget => ({
  certificateId: `cert-${slot}`,
  caId: "ca",
  serialHex: `0${slot}`,
  slot,
  done: false,
});

const done = actorDone;
const error = (id: string): AnyEventObject =>
  actorError(id, new CardwrightError("CA_UNAVAILABLE", "the CA did not answer"));

function eventsFor(snapshot: { value: unknown; context: CertificateStatusContext }): AnyEventObject[] {
  const state = String(snapshot.value);
  switch (state) {
    case "plan":
      return [
        done(state, { targets: [target("9a"), target("9c"), target("9d")] }),
        done(state, { targets: [] }),
        error(state),
      ];
    case "interrupted":
      return [{ type: "RESUME" }];
    case "done":
    case "failed":
      return [];
    default:
      return [done(state), error(state)];
  }
}

describe("certificate-status machine paths (xstate/graph)", () => {
  const paths = getSimplePaths(certificateStatusMachine, { input, events: eventsFor as never });
  const statesOf = (p: (typeof paths)[number]) => [...p.steps.map((s) => String(s.state.value)), String(p.state.value)];

  it("enumerates paths ending in done, failed and interrupted", () => {
    const ends = new Set(paths.map((p) => String(p.state.value)));
    expect(paths.length).toBeGreaterThan(20);
    for (const s of ["done", "failed", "interrupted"]) expect(ends).toContain(s);
  });

  it("reaches done only with every planned certificate changed, through complete", () => {
    const toDone = paths.filter((p) => p.state.value === "done");
    expect(toDone.length).toBeGreaterThan(0);
    for (const p of toDone) {
      const ctx = p.state.context as CertificateStatusContext;
      expect(ctx.planned).toBe(true);
      expect(ctx.targets.every((t) => t.done)).toBe(true);
      expect(statesOf(p)).toContain("complete");
      expect(ctx.error).toBeUndefined();
    }
  });

  it("releases the card (failed) only when no certificate was changed", () => {
    const toFailed = paths.filter((p) => p.state.value === "failed");
    expect(toFailed.length).toBeGreaterThan(0);
    for (const p of toFailed) {
      const ctx = p.state.context as CertificateStatusContext;
      expect(statesOf(p)).toContain("release");
      expect(ctx.targets.some((t) => t.done || t.atCa === true)).toBe(false);
      expect(ctx.error?.code).toBe("CA_UNAVAILABLE");
    }
  });

  it("rests interrupted with the error and what was done recorded whenever a change failed part-way", () => {
    const partial = paths.filter(
      (p) =>
        p.state.value === "interrupted" && (p.state.context as CertificateStatusContext).targets.some((t) => t.done),
    );
    expect(partial.length).toBeGreaterThan(0);
    for (const p of partial) expect((p.state.context as CertificateStatusContext).error?.code).toBe("CA_UNAVAILABLE");
  });

  it("never sends a certificate to the CA again once it is recorded done, across RESUME", () => {
    let resumed = 0;
    for (const p of paths) {
      const doneIds = new Set<string>();
      const seq = [...p.steps.map((s) => s.state), p.state];
      for (const [i, s] of seq.entries()) {
        const ctx = s.context as CertificateStatusContext;
        const next = ctx.targets.find((t) => !t.done);
        if (String(s.value) === "changeCertificate") {
          // Sent to the CA only if the CA has not acted on it yet in this operation.
          expect(doneIds.has(next!.certificateId)).toBe(false);
          expect(next!.atCa).not.toBe(true);
        }
        if (String(s.value) === "recordCertificate") expect(next!.atCa).toBe(true);
        for (const t of ctx.targets) if (t.done || t.atCa === true) doneIds.add(t.certificateId);
        if (i > 0 && p.steps[i - 1]?.event.type === "RESUME") resumed++;
      }
    }
    expect(resumed).toBeGreaterThan(0);
  });

  it("keeps context JSON-serialisable and credential-free", () => {
    for (const p of paths) {
      const json = JSON.stringify(p.state.context);
      expect(JSON.parse(json)).toEqual(p.state.context);
      expect(json).not.toMatch(/"(pin|puk|managementKey|key)"\s*:/i);
    }
  });

  it("refuses to run a step nobody provided, releasing the card", async () => {
    const actor = createActor(certificateStatusMachine, { input });
    actor.start();
    await new Promise((r) => setTimeout(r, 0));
    const snap = actor.getSnapshot();
    // plan fails (not provided) → release fails too → interrupted, nothing changed.
    expect(snap.value).toBe("interrupted");
    expect(snap.context.error?.code).toBe("WORKFLOW_STATE");
  });
});
