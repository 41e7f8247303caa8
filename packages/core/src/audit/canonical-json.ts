/**
 * Canonical JSON for hashing: object keys sorted by code unit, no whitespace, `undefined`
 * members dropped (as `JSON.stringify` does). In the spirit of RFC 8785 (JCS) for the values
 * audit events carry (strings, finite numbers, booleans, null, arrays, plain objects).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const toJson = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJson === "function") return canonicalJson(toJson.call(value));
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}
