import { describe, expect, it } from "vitest";
import type { CardState } from "../domain/card.js";
import type { CardStateTransition } from "../domain/policy.js";
import { isCardwrightError } from "../errors.js";
import { validatePolicy } from "../policy/policy-validation.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import {
  allowedTargets,
  assertTransition,
  CARD_STATES,
  DEFAULT_CARD_STATE_TRANSITIONS,
  transitionTable,
} from "./card-state-transitions.js";

function refusal(fn: () => void) {
  try {
    fn();
  } catch (err) {
    if (isCardwrightError(err)) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("default card state transition table", () => {
  it.each(DEFAULT_CARD_STATE_TRANSITIONS.map((r) => [r.from, r.to, r.reason] as const))(
    "allows %s → %s (%s)",
    (from, to, reason) => {
      expect(reason?.length).toBeGreaterThan(10);
      expect(() => assertTransition(DEFAULT_CARD_STATE_TRANSITIONS, from, to, "test")).not.toThrow();
    },
  );

  it("refuses every pair not in the table with CARD_TRANSITION naming from, to, operation and the allowed targets", () => {
    const listed = new Set(DEFAULT_CARD_STATE_TRANSITIONS.map((r) => `${r.from}>${r.to}`));
    let refused = 0;
    for (const from of CARD_STATES) {
      for (const to of CARD_STATES) {
        if (listed.has(`${from}>${to}`)) continue;
        const err = refusal(() => assertTransition(DEFAULT_CARD_STATE_TRANSITIONS, from, to, "suspend", "card-1"));
        expect(err.code).toBe("CARD_TRANSITION");
        expect(err.details).toMatchObject({ from, to, operation: "suspend", cardId: "card-1" });
        expect(err.details.allowed).toEqual(allowedTargets(DEFAULT_CARD_STATE_TRANSITIONS, from));
        expect(err.message).toContain(`from ${from} to ${to}`);
        refused++;
      }
    }
    expect(refused).toBe(CARD_STATES.length ** 2 - listed.size);
  });

  it("has the DESIGN.md paths and no way out of retired", () => {
    const t = DEFAULT_CARD_STATE_TRANSITIONS;
    expect(allowedTargets(t, "active").sort()).toEqual(["damaged", "lost", "revoked", "suspended", "updating"]);
    expect(allowedTargets(t, "suspended").sort()).toEqual(["active", "lost", "revoked"]);
    expect(allowedTargets(t, "revoked")).toEqual(["retired"]);
    // A replaced card (its certificates revoked by the replacement) is wiped from lost or damaged.
    expect(allowedTargets(t, "damaged").sort()).toEqual(["retired", "revoked"]);
    expect(allowedTargets(t, "lost").sort()).toEqual(["retired", "revoked"]);
    expect(allowedTargets(t, "retired")).toEqual([]);
    expect(refusal(() => assertTransition(t, "retired", "active", "resume")).message).toContain("no transition");
  });

  it("names only known states", () => {
    for (const row of DEFAULT_CARD_STATE_TRANSITIONS) {
      expect(CARD_STATES).toContain(row.from);
      expect(CARD_STATES).toContain(row.to);
    }
  });
});

describe("a policy's own transition table", () => {
  const custom: CardStateTransition[] = [
    { from: "active", to: "retired", reason: "this site wipes cards without revoking (short-lived certificates)" },
    { from: "active", to: "suspended" },
  ];

  it("replaces the default entirely", () => {
    const policy = examplePivPolicy({ cardStateTransitions: custom });
    expect(() => validatePolicy(policy)).not.toThrow();
    const table = transitionTable(policy);
    expect(() => assertTransition(table, "active", "retired", "retire")).not.toThrow();
    const err = refusal(() => assertTransition(table, "active", "revoked", "revoke"));
    expect(err.code).toBe("CARD_TRANSITION");
    expect(err.details.allowed).toEqual(["retired", "suspended"]);
    expect(transitionTable(examplePivPolicy())).toBe(DEFAULT_CARD_STATE_TRANSITIONS);
  });

  it.each([
    ["an unknown state", [{ from: "active", to: "shredded" as CardState }]],
    ["a self-transition", [{ from: "active", to: "active" }]],
    [
      "a duplicate row",
      [
        { from: "active", to: "revoked" },
        { from: "active", to: "revoked" },
      ],
    ],
  ] as const)("is refused with POLICY_INVALID for %s", (_, rows) => {
    const err = refusal(() =>
      validatePolicy(examplePivPolicy({ cardStateTransitions: rows as readonly CardStateTransition[] })),
    );
    expect(err.code).toBe("POLICY_INVALID");
    expect(err.details.rule).toBe("cardStateTransitions");
    expect(err.details.row).toBe(rows.length - 1);
  });
});
