/**
 * Distinguished names between their RFC 4514 string form (`"CN=Root,O=Example"`) and the X.501
 * `Name` pkijs encodes. RFC 4514 §2.1 writes the last RDN first, so the string is reversed on
 * the way to DER. Values are UTF8String (RFC 5280 §4.1.2.6) except the attributes whose
 * ASN.1 type is fixed: countryName and serialNumber (PrintableString), domainComponent and
 * emailAddress (IA5String).
 */
import { CardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

/** Attribute types by their RFC 4514 §3 short name (plus the common additions). */
const ATTRIBUTE_OID: Readonly<Record<string, string>> = {
  CN: "2.5.4.3",
  SN: "2.5.4.4",
  SERIALNUMBER: "2.5.4.5",
  C: "2.5.4.6",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  STREET: "2.5.4.9",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  TITLE: "2.5.4.12",
  GIVENNAME: "2.5.4.42",
  DC: "0.9.2342.19200300.100.1.25",
  UID: "0.9.2342.19200300.100.1.1",
  E: "1.2.840.113549.1.9.1",
  EMAILADDRESS: "1.2.840.113549.1.9.1",
};

const SHORT_NAME = new Map<string, string>([
  ["2.5.4.3", "CN"],
  ["2.5.4.4", "SN"],
  ["2.5.4.5", "serialNumber"],
  ["2.5.4.6", "C"],
  ["2.5.4.7", "L"],
  ["2.5.4.8", "ST"],
  ["2.5.4.9", "STREET"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  ["2.5.4.12", "title"],
  ["2.5.4.42", "givenName"],
  ["0.9.2342.19200300.100.1.25", "DC"],
  ["0.9.2342.19200300.100.1.1", "UID"],
  ["1.2.840.113549.1.9.1", "emailAddress"],
]);

const PRINTABLE = new Set(["2.5.4.6", "2.5.4.5"]);
const IA5 = new Set(["0.9.2342.19200300.100.1.25", "1.2.840.113549.1.9.1"]);

function invalid(dn: string, reason: string): CardwrightError {
  return new CardwrightError("CONFIG_INVALID", `distinguished name "${dn}" is not valid RFC 4514: ${reason}`, {
    details: { subject: dn },
  });
}

/** Split on an unescaped separator, keeping escapes for the value parser. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "\\" && i + 1 < text.length) {
      current += ch + (text[i + 1] as string);
      i++;
    } else if (ch === separator) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** RFC 4514 §3 value unescaping: `\,` style pairs and `\XX` hex pairs (UTF-8 octets). */
function unescapeValue(dn: string, raw: string): string {
  const octets: number[] = [];
  const text = raw.trim();
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch !== "\\") {
      octets.push(...Buffer.from(ch, "utf8"));
      continue;
    }
    const next = text.slice(i + 1, i + 3);
    if (/^[0-9a-fA-F]{2}$/.test(next)) {
      octets.push(Number.parseInt(next, 16));
      i += 2;
    } else if (i + 1 < text.length) {
      octets.push(...Buffer.from(text[i + 1] as string, "utf8"));
      i++;
    } else {
      throw invalid(dn, "dangling escape at the end of a value");
    }
  }
  return Buffer.from(octets).toString("utf8");
}

function encodeValue(oid: string, value: string): asn1js.BaseStringBlock {
  if (PRINTABLE.has(oid)) return new asn1js.PrintableString({ value });
  if (IA5.has(oid)) return new asn1js.IA5String({ value });
  return new asn1js.Utf8String({ value });
}

/**
 * Parse an RFC 4514 string into a pkijs `Name`. Multi-valued RDNs (`+`) and escaped
 * characters are supported; `#`-hex BER values are not.
 * @throws CardwrightError `CONFIG_INVALID` for an empty or malformed name or an unknown attribute.
 */
export function parseDistinguishedName(dn: string): pkijs.RelativeDistinguishedNames {
  if (dn.trim() === "") throw invalid(dn, "it is empty");
  const rdns = splitUnescaped(dn, ",").map((rdn) =>
    splitUnescaped(rdn, "+").map((atv) => {
      const eq = atv.indexOf("=");
      if (eq <= 0) throw invalid(dn, `"${atv.trim()}" has no attribute type`);
      const typeText = atv.slice(0, eq).trim();
      const oid = ATTRIBUTE_OID[typeText.toUpperCase()] ?? (/^\d+(\.\d+)+$/.test(typeText) ? typeText : undefined);
      if (oid === undefined) throw invalid(dn, `unknown attribute type "${typeText}"`);
      const rawValue = atv.slice(eq + 1);
      if (rawValue.trim().startsWith("#")) throw invalid(dn, "#-encoded BER values are not supported");
      const value = unescapeValue(dn, rawValue);
      if (value === "") throw invalid(dn, `attribute "${typeText}" has an empty value`);
      return new pkijs.AttributeTypeAndValue({ type: oid, value: encodeValue(oid, value) });
    }),
  );
  // RFC 4514 §2.1: the string starts with the last RDN of the sequence.
  rdns.reverse();
  // Built from DER because pkijs, left to encode its flat typesAndValues list itself, would put
  // every attribute in one multi-valued RDN.
  const sequence = new asn1js.Sequence({
    value: rdns.map((rdn) => new asn1js.Set({ value: rdn.map((atv) => atv.toSchema()) })),
  });
  return pkijs.RelativeDistinguishedNames.fromBER(sequence.toBER(false));
}

const ESCAPE = /[,+"\\<>;=]|^[ #]|[ ]$/g;

/** Format a pkijs `Name` as an RFC 4514 string (last RDN first). */
export function formatDistinguishedName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((atv) => {
      const type = SHORT_NAME.get(atv.type) ?? atv.type;
      const value = String(atv.value.valueBlock.value ?? "").replace(ESCAPE, (ch) => `\\${ch}`);
      return `${type}=${value}`;
    })
    .reverse()
    .join(",");
}
