import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { childElements, escapeXml, findElement, parseXml } from "./xml.js";

describe("parseXml", () => {
  it("resolves default and prefixed namespaces, attributes, entities and CDATA", () => {
    const root = parseXml(
      `<?xml version="1.0" encoding="utf-8"?><!-- c --><s:Envelope xmlns:s="urn:s" xmlns="urn:d">` +
        `<s:Body><Item a:Id="x" xmlns:a="urn:a" plain='1'>a &amp; b &#x41;&#66;<![CDATA[<raw>]]></Item><Empty/></s:Body></s:Envelope>`,
    );
    expect(root).toMatchObject({ ns: "urn:s", name: "Envelope" });
    const item = findElement(root, "urn:d", "Item");
    expect(item?.text).toBe("a & b AB<raw>");
    expect(item?.attributes).toEqual({ Id: "x", plain: "1" });
    const body = findElement(root, "urn:s", "Body");
    expect(body === undefined ? [] : childElements(body, "urn:d", "Empty")).toHaveLength(1);
  });

  it("refuses DOCTYPE (no entity expansion), mismatched tags, undeclared prefixes and trailing roots", () => {
    for (const bad of [
      `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`,
      "<a><b></a></b>",
      "<p:a/>",
      "<a/><b/>",
      "<a>",
      "<a>&bogus;</a>",
      "plain text",
    ]) {
      let caught: unknown;
      try {
        parseXml(bad);
      } catch (err) {
        caught = err;
      }
      expect(isCardwrightError(caught, "CA_BAD_RESPONSE"), bad).toBe(true);
    }
  });

  it("escapes the five XML specials so a value round-trips", () => {
    const value = `<a href="x">Tom & 'Jerry'</a>`;
    expect(parseXml(`<v t="${escapeXml(value)}">${escapeXml(value)}</v>`)).toMatchObject({
      text: value,
      attributes: { t: value },
    });
  });
});
