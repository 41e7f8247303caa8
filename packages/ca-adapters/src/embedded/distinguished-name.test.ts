import { isCardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { formatDistinguishedName, parseDistinguishedName } from "./distinguished-name.js";

function rdnSets(dn: string): string[][] {
  const der = parseDistinguishedName(dn).toSchema().toBER(false);
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

describe("distinguished names (RFC 4514)", () => {
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
    expect(formatDistinguishedName(parseDistinguishedName("CN=Doe\\, John,O=Example"))).toBe(
      "CN=Doe\\, John,O=Example",
    );
    expect(formatDistinguishedName(parseDistinguishedName("cn=Root, o=Example, 2.5.4.6=GB"))).toBe(
      "CN=Root,O=Example,C=GB",
    );
  });

  it.each(["", "CN", "XX=1", "CN=", "CN=#0403", "CN=a\\"])("refuses %j with CONFIG_INVALID", (dn) => {
    try {
      parseDistinguishedName(dn);
      expect.unreachable();
    } catch (err) {
      expect(isCardwrightError(err, "CONFIG_INVALID")).toBe(true);
    }
  });
});
