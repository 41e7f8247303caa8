/**
 * Canonical JSON for hashing: object keys sorted by code unit, no whitespace, `undefined`
 * members dropped (as `JSON.stringify` does). In the spirit of RFC 8785 (JCS) for the values
 * audit events carry (strings, finite numbers, booleans, null, arrays, plain objects).
 *
 * Every audit hash is computed over this text, so its bytes are frozen: chains already stored
 * must keep verifying. It is written as loops that append to one string (rather than
 * `map`/`filter`/`join`) only because it runs once per appended and per verified event.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // A hole stays empty, as `map` + `join` always rendered it; JSON input never has one.
      if (!(i in value)) continue;
      const item: unknown = value[i];
      out += item === undefined ? "null" : canonicalJson(item);
    }
    return `${out}]`;
  }
  const toJson = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJson === "function") return canonicalJson(toJson.call(value));
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += `${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}
