/** Model-based checks of the retire machine's failure rule over every simple path (xstate/graph). */
import { describe, expect, it } from "vitest";
import type { AnyEventObject } from "xstate";
import { getSimplePaths } from "xstate/graph";
import { actorDone, actorError } from "../../test/support/actor-events.js";
import { type RetireContext, retireMachine } from "./retire-machine.js";

const input = {
  operationId: "op-1",
  cardId: "card-1",
  userId: "ann",
  actor: "operator-1",
  actorKind: "operator" as const,
  deviceSerial: "1",
  fromState: "revoked" as const,
  toState: "retired" as const,
};

const done = actorDone;
const error = (id: string): AnyEventObject => actorError(id);

function eventsFor(snapshot: { value: unknown }): AnyEventObject[] {
  const state = String(snapshot.value);
  if (state === "wipe") return [done(state, { method: "reset" }), done(state, { method: "delete" }), error(state)];
  if (state === "interrupted") return [{ type: "RESUME" }];
  if (state === "done" || state === "failed") return [];
  return [done(state), error(state)];
}

describe("retire machine paths (xstate/graph)", () => {
  const paths = getSimplePaths(retireMachine, { input, events: eventsFor as never });
  const statesOf = (p: (typeof paths)[number]) => [...p.steps.map((s) => String(s.state.value)), String(p.state.value)];

  it("enumerates paths ending in done, failed and interrupted", () => {
    const ends = new Set(paths.map((p) => String(p.state.value)));
    expect(paths.length).toBeGreaterThan(10);
    for (const s of ["done", "failed", "interrupted"]) expect(ends).toContain(s);
  });

  it("reaches done only after wipe, verifyWiped and complete, in that order", () => {
    const toDone = paths.filter((p) => p.state.value === "done");
    expect(toDone.length).toBeGreaterThan(0);
    for (const p of toDone) {
      const s = statesOf(p);
      expect(s.lastIndexOf("wipe")).toBeLessThan(s.lastIndexOf("verifyWiped"));
      expect(s.lastIndexOf("verifyWiped")).toBeLessThan(s.lastIndexOf("complete"));
      expect((p.state.context as RetireContext).method).toMatch(/^(reset|delete)$/);
    }
  });

  it("releases the card only when the wipe never started; a failed wipe rests interrupted", () => {
    for (const p of paths) {
      const ctx = p.state.context as RetireContext;
      if (p.state.value === "failed") {
        expect(ctx.wipeStarted).toBe(false);
        expect(statesOf(p)).not.toContain("wipe");
        expect(ctx.error?.code).toBe("APDU_CARD_REMOVED");
      }
      const s = statesOf(p);
      if (s.includes("wipe")) expect(s.slice(s.indexOf("wipe"))).not.toContain("release");
    }
    expect(paths.some((p) => p.state.value === "interrupted" && (p.state.context as RetireContext).wipeStarted)).toBe(
      true,
    );
  });

  it("re-connects and re-authenticates on RESUME before touching the card again", () => {
    let checked = 0;
    for (const p of paths) {
      for (const step of p.steps) {
        // A step's state is the one its event led to.
        if (step.event.type !== "RESUME") continue;
        expect(String(step.state.value)).toBe("connectCard");
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});
