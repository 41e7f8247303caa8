import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json.js";

/** The implementation every stored audit hash was computed with, kept verbatim as the reference. */
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : referenceCanonicalJson(v))).join(",")}]`;
  const toJson = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJson === "function") return referenceCanonicalJson(toJson.call(value));
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${referenceCanonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

describe("canonicalJson", () => {
  it("sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it("writes the same bytes as the implementation stored hashes were computed with", () => {
    const leaf = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.date({ noInvalidDate: true }),
    );
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, leaf, tie("array"), tie("object")),
      array: fc.array(tie("node"), { maxLength: 5 }),
      object: fc.dictionary(fc.oneof(fc.string({ unit: "binary" }), fc.nat().map(String)), tie("node"), {
        maxKeys: 5,
      }),
    }));
    fc.assert(
      fc.property(tree.node, (value) => {
        expect(canonicalJson(value)).toBe(referenceCanonicalJson(value));
      }),
      { numRuns: 200 },
    );
    // A sparse array: the hole renders as the reference rendered it.
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is under test
    const sparse = [1, , 3];
    expect(canonicalJson(sparse)).toBe(referenceCanonicalJson(sparse));
  });
});
