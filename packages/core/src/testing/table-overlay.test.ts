import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TableOverlay } from "./table-overlay.js";

type Op = { kind: "set"; key: number; value: string } | { kind: "delete"; key: number };

const ops = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 9 }), value: fc.string() }),
    fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 9 }) }),
  ),
  { maxLength: 40 },
);

function apply(table: Map<number, string> | TableOverlay<number, string>, op: Op): unknown {
  return op.kind === "set" ? table.has(op.key) : table.delete(op.key);
}

describe("TableOverlay", () => {
  it("reads like the committed table changed in place, and commits to exactly that", () => {
    fc.assert(
      fc.property(ops, ops, (before, during) => {
        const base = new Map<number, string>();
        for (const op of before) op.kind === "set" ? base.set(op.key, op.value) : base.delete(op.key);
        const expected = new Map(base);
        const overlay = new TableOverlay(base);
        for (const op of during) {
          // Same answers from the overlay as from a copy the writes went into.
          expect(apply(overlay, op)).toBe(apply(expected, op));
          if (op.kind === "set") {
            overlay.set(op.key, op.value);
            expected.set(op.key, op.value);
          }
          expect(overlay.size).toBe(expected.size);
        }
        for (let key = 0; key <= 9; key++) expect(overlay.get(key)).toBe(expected.get(key));
        expect([...overlay.values()].sort()).toEqual([...expected.values()].sort());
        const untouched = new Map(base);
        // Until it commits, the committed table is as it was.
        expect(base).toEqual(untouched);
        overlay.commit();
        expect(base).toEqual(expected);
      }),
    );
  });
});
