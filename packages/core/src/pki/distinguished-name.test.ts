import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { isCardwrightError } from "../errors.js";
import { escapeDnValue } from "../policy/attribute-template.js";
import { nameToString } from "./certificate.js";
import { parseName } from "./csr.js";
import { formatDn, parseDn } from "./distinguished-name.js";

describe("parseDn (RFC 4514)", () => {
  it("returns RDNSequence order (reverse of the string) with OIDs", () => {
    expect(parseDn("CN=Ann Lee,OU=Staff,O=Example,C=US")).toEqual([
      [{ type: "C", oid: "2.5.4.6", value: "US" }],
      [{ type: "O", oid: "2.5.4.10", value: "Example" }],
      [{ type: "OU", oid: "2.5.4.11", value: "Staff" }],
      [{ type: "CN", oid: "2.5.4.3", value: "Ann Lee" }],
    ]);
  });

  it("unescapes specials and hex pairs, keeps multi-valued RDNs", () => {
    const rdns = parseDn("CN=Smith\\, John+UID=jsmith,DC=example,DC=com,E=a@b.c,CN=Caf\\C3\\A9");
    expect(rdns[0]).toEqual([{ type: "CN", oid: "2.5.4.3", value: "Café" }]);
    expect(rdns[1]?.[0]?.oid).toBe("1.2.840.113549.1.9.1");
    expect(rdns[4]).toEqual([
      { type: "CN", oid: "2.5.4.3", value: "Smith, John" },
      { type: "UID", oid: "0.9.2342.19200300.100.1.1", value: "jsmith" },
    ]);
  });

  it("round-trips values escaped by escapeDnValue", () => {
    for (const v of ["a,b", " lead", "trail ", "#hash", 'q"u<o>t;e+s\\', "plain"]) {
      const dn = `CN=${escapeDnValue(v)},O=X`;
      expect(parseDn(dn)[1]?.[0]?.value).toBe(v);
      expect(parseDn(formatDn(parseDn(dn)))).toEqual(parseDn(dn));
    }
  });

  it("refuses unknown types, empty values, hex values and trailing separators", () => {
    expect(() => parseDn("XX=1")).toThrow(/unknown attribute type/);
    expect(() => parseDn("CN=")).toThrow(/empty value/);
    expect(() => parseDn("CN=#0403")).toThrow(/hex-encoded/);
    expect(() => parseDn("CN=a,")).toThrow(/separator/);
    expect(() => parseDn("CN=a<b")).toThrow(/unescaped/);
  });
});

/** Each RDN of the DER Name as `oid:ASN.1 string type:value`. */
function rdnSets(dn: string): string[][] {
  const der = parseName(dn).toSchema().toBER(false);
  const seq = asn1js.fromBER(der).result as asn1js.Sequence;
  return seq.valueBlock.value.map((set) =>
    (set as asn1js.Set).valueBlock.value.map((atv) => {
      const [type, value] = (atv as asn1js.Sequence).valueBlock.value as [
        asn1js.ObjectIdentifier,
        asn1js.BaseStringBlock,
      ];
      return `${type.valueBlock.toString()}:${value.constructor.name}:${value.getValue()}`;
    }),
  );
}

describe("parseName and nameToString (RFC 5280 §4.1.2.4 Name)", () => {
  it("encodes the last RDN of the string first, one attribute per RDN", () => {
    expect(rdnSets("CN=Alice,OU=Staff,O=Example,C=GB")).toEqual([
      ["2.5.4.6:PrintableString:GB"],
      ["2.5.4.10:Utf8String:Example"],
      ["2.5.4.11:Utf8String:Staff"],
      ["2.5.4.3:Utf8String:Alice"],
    ]);
  });

  it("handles escapes, hex pairs, multi-valued RDNs and IA5 attributes", () => {
    expect(rdnSets("CN=Doe\\, John+UID=jdoe,DC=example")).toEqual([
      ["0.9.2342.19200300.100.1.25:IA5String:example"],
      ["2.5.4.3:Utf8String:Doe, John", "0.9.2342.19200300.100.1.1:Utf8String:jdoe"],
    ]);
    expect(rdnSets("CN=Jos\\C3\\A9")).toEqual([["2.5.4.3:Utf8String:José"]]);
  });

  it("formats back to RFC 4514 with escaping", () => {
    expect(nameToString(parseName("CN=Doe\\, John,O=Example"))).toBe("CN=Doe\\, John,O=Example");
    expect(nameToString(parseName("cn=Root, o=Example, 2.5.4.6=GB"))).toBe("CN=Root,O=Example,C=GB");
  });

  it.each(["", "CN", "XX=1", "CN=", "CN=#0403", "CN=a\\"])("refuses %j with CONFIG_INVALID", (dn) => {
    try {
      parseName(dn);
      expect.unreachable();
    } catch (err) {
      expect(isCardwrightError(err, "CONFIG_INVALID")).toBe(true);
    }
  });
});
