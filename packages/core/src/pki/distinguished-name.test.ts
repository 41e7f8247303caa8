import { describe, expect, it } from "vitest";
import { escapeDnValue } from "../policy/attribute-template.js";
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
