/**
 * RFC 4514 string representation of distinguished names: parsing to RDNs with attribute OIDs,
 * and formatting back. An RFC 4514 string lists RDNs last-first (§2.1): `"CN=Ann,O=Example"` is
 * the RDNSequence `O=Example, CN=Ann`.
 */
import { CardwrightError } from "../errors.js";
import { escapeDnValue } from "../policy/attribute-template.js";

/** Attribute type short names → OIDs (RFC 4514 §3, RFC 4519, RFC 2985 emailAddress). */
export const DN_ATTRIBUTE_OIDS = {
  CN: "2.5.4.3",
  SN: "2.5.4.4",
  serialNumber: "2.5.4.5",
  C: "2.5.4.6",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  STREET: "2.5.4.9",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  title: "2.5.4.12",
  GN: "2.5.4.42",
  DC: "0.9.2342.19200300.100.1.25",
  UID: "0.9.2342.19200300.100.1.1",
  E: "1.2.840.113549.1.9.1",
} as const;

const ALIASES: Record<string, keyof typeof DN_ATTRIBUTE_OIDS> = {
  emailaddress: "E",
  email: "E",
  serialnumber: "serialNumber",
  givenname: "GN",
  surname: "SN",
};

/** One attribute of an RDN. */
export interface DnAttribute {
  /** Short name as written (normalised to the table's case). */
  type: string;
  oid: string;
  value: string;
}

/** A relative distinguished name (usually one attribute; several when joined by `+`). */
export type Rdn = DnAttribute[];

function invalid(dn: string, why: string): CardwrightError {
  return new CardwrightError("CONFIG_INVALID", `invalid distinguished name "${dn}": ${why}`, {
    details: { rule: "dn" },
  });
}

function resolveType(raw: string, dn: string): { type: string; oid: string } {
  const t = raw.trim();
  if (/^[0-2](\.\d+)+$/.test(t)) return { type: t, oid: t };
  for (const [name, oid] of Object.entries(DN_ATTRIBUTE_OIDS)) {
    if (name.toLowerCase() === t.toLowerCase()) return { type: name, oid };
  }
  const alias = ALIASES[t.toLowerCase()];
  if (alias !== undefined) return { type: alias, oid: DN_ATTRIBUTE_OIDS[alias] };
  throw invalid(dn, `unknown attribute type "${t}"`);
}

/**
 * Parse an RFC 4514 string into RDNs in RDNSequence order (the reverse of the string).
 * Supports `\`-escapes of special characters and `\XX` hex pairs (UTF-8), and multi-valued RDNs.
 * @throws CardwrightError `CONFIG_INVALID` for a malformed string, an unknown attribute type or
 * a `#`-hex (BER) value, which subjects built from templates never need.
 */
export function parseDn(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  let current: Rdn = [];
  let i = 0;
  const n = dn.length;
  if (dn.trim() === "") throw invalid(dn, "empty");
  while (i < n) {
    const eq = dn.indexOf("=", i);
    if (eq < 0) throw invalid(dn, `missing "=" after position ${i}`);
    const { type, oid } = resolveType(dn.slice(i, eq), dn);
    i = eq + 1;
    if (dn[i] === "#") throw invalid(dn, `hex-encoded value for ${type} is not supported`);
    const bytes: number[] = [];
    let trailingEscapedSpaceEnd = 0;
    const enc = new TextEncoder();
    while (i < n && dn[i] !== "," && dn[i] !== "+" && dn[i] !== ";") {
      const c = dn[i]!;
      if (c === "\\") {
        const next = dn[i + 1];
        if (next === undefined) throw invalid(dn, "dangling escape");
        if (/^[0-9a-fA-F]{2}$/.test(dn.slice(i + 1, i + 3))) {
          bytes.push(Number.parseInt(dn.slice(i + 1, i + 3), 16));
          i += 3;
        } else {
          bytes.push(...enc.encode(next));
          i += 2;
        }
        trailingEscapedSpaceEnd = bytes.length;
        continue;
      }
      if (c === '"' || c === "<" || c === ">") throw invalid(dn, `unescaped "${c}" in the value of ${type}`);
      const cp = dn.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      bytes.push(...enc.encode(s));
      i += s.length;
    }
    // Unescaped trailing spaces are not part of the value (RFC 4514 §3); escaped ones are.
    let end = bytes.length;
    while (end > trailingEscapedSpaceEnd && bytes[end - 1] === 0x20) end--;
    let start = 0;
    while (start < end && bytes[start] === 0x20 && start >= 0 && !escapedAtStart(dn, eq + 1)) start++;
    let value: string;
    try {
      value = new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes.slice(start, end)));
    } catch {
      throw invalid(dn, `the value of ${type} is not valid UTF-8`);
    }
    if (value === "") throw invalid(dn, `empty value for ${type}`);
    current.push({ type, oid, value });
    const sep = dn[i];
    i++;
    if (sep !== "+") {
      rdns.push(current);
      current = [];
    }
    while (i < n && dn[i] === " ") i++;
    if (sep !== undefined && i >= n) throw invalid(dn, "ends with a separator");
  }
  return rdns.reverse();
}

function escapedAtStart(dn: string, valueStart: number): boolean {
  return dn[valueStart] === "\\";
}

/** Format RDNs (RDNSequence order) as an RFC 4514 string (reverse order, `,` and `+` separators). */
export function formatDn(rdns: readonly Rdn[]): string {
  return [...rdns]
    .reverse()
    .map((rdn) => rdn.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join("+"))
    .join(",");
}
