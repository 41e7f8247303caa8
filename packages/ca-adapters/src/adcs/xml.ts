/**
 * The little XML the AD CS web services speak (SOAP 1.2 envelopes of MS-WSTEP and MS-XCEP): a
 * namespace-aware reader for well-formed documents and an escaper for building requests. It
 * refuses DOCTYPE declarations outright, so no entity expansion or external entity can be
 * smuggled in (the answers come from the network).
 */
import { CardwrightError } from "@cardwright/core";

/** An element: namespace URI, local name, attributes by local name, children and text. */
export interface XmlElement {
  ns: string;
  name: string;
  /** Attributes by local name (prefixes dropped; `xmlns` declarations excluded). */
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data, concatenated and entity-decoded. */
  text: string;
}

/** The namespace of `xml:` attributes (XML Namespaces §3). */
const XML_NS = "http://www.w3.org/XML/1998/namespace";

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function malformed(why: string): CardwrightError {
  return new CardwrightError("CA_BAD_RESPONSE", `the server answered malformed XML: ${why}`);
}

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const named = ENTITIES[ref];
    if (named === undefined) throw malformed(`unknown entity ${whole}`);
    return named;
  });
}

/** Escape text for element content or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ESCAPES[c] ?? c);
}

const ESCAPES: Record<string, string> = { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" };

const NAME = "[A-Za-z_][\\w.-]*(?::[A-Za-z_][\\w.-]*)?";
const TAG = new RegExp(`^<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"]*"|'[^']*'))*)\\s*(/?)>`);
const ATTR = new RegExp(`(${NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, "g");

interface Open {
  element: XmlElement;
  qname: string;
  scope: Map<string, string>;
}

/**
 * Parse a document into its root element.
 * @throws CardwrightError `CA_BAD_RESPONSE` for anything that is not well-formed XML, and for DOCTYPE.
 */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const stack: Open[] = [];
  let root: XmlElement | undefined;
  const resolve = (qname: string, scope: Map<string, string>, attribute: boolean): { ns: string; name: string } => {
    const colon = qname.indexOf(":");
    if (colon < 0) return { ns: attribute ? "" : (scope.get("") ?? ""), name: qname };
    const prefix = qname.slice(0, colon);
    if (prefix === "xml") return { ns: XML_NS, name: qname.slice(colon + 1) };
    const ns = scope.get(prefix);
    if (ns === undefined) throw malformed(`undeclared namespace prefix "${prefix}"`);
    return { ns, name: qname.slice(colon + 1) };
  };
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const textEnd = lt < 0 ? xml.length : lt;
    if (textEnd > i) {
      const text = xml.slice(i, textEnd);
      const top = stack.at(-1);
      if (top !== undefined) top.element.text += decode(text);
      else if (text.trim() !== "") throw malformed("text outside the root element");
    }
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith("<?", i)) {
      const end = xml.indexOf("?>", i);
      if (end < 0) throw malformed("unterminated processing instruction");
      i = end + 2;
    } else if (xml.startsWith("<!--", i)) {
      const end = xml.indexOf("-->", i);
      if (end < 0) throw malformed("unterminated comment");
      i = end + 3;
    } else if (xml.startsWith("<![CDATA[", i)) {
      const end = xml.indexOf("]]>", i);
      if (end < 0) throw malformed("unterminated CDATA section");
      const top = stack.at(-1);
      if (top === undefined) throw malformed("CDATA outside the root element");
      top.element.text += xml.slice(i + 9, end);
      i = end + 3;
    } else if (xml.startsWith("<!", i)) {
      throw malformed("DOCTYPE and other declarations are refused");
    } else if (xml.startsWith("</", i)) {
      const end = xml.indexOf(">", i);
      const qname = xml.slice(i + 2, end).trim();
      const top = stack.pop();
      if (end < 0 || top === undefined || top.qname !== qname) throw malformed(`unexpected </${qname}>`);
      i = end + 1;
    } else {
      const match = TAG.exec(xml.slice(i));
      if (match === null) throw malformed(`bad tag at offset ${i}`);
      const [whole, qname = "", rawAttributes = "", selfClosing] = match;
      const parent = stack.at(-1);
      const scope = new Map(parent?.scope ?? []);
      const raw: [string, string][] = [];
      for (const attr of rawAttributes.matchAll(ATTR)) {
        const name = attr[1] as string;
        const value = decode(attr[2] ?? attr[3] ?? "");
        if (name === "xmlns") scope.set("", value);
        else if (name.startsWith("xmlns:")) scope.set(name.slice(6), value);
        else raw.push([name, value]);
      }
      const { ns, name } = resolve(qname, scope, false);
      const attributes: Record<string, string> = {};
      for (const [attrName, value] of raw) attributes[resolve(attrName, scope, true).name] = value;
      const element: XmlElement = { ns, name, attributes, children: [], text: "" };
      if (parent !== undefined) parent.element.children.push(element);
      else if (root === undefined) root = element;
      else throw malformed("more than one root element");
      if (selfClosing !== "/") stack.push({ element, qname, scope });
      i += whole.length;
    }
  }
  if (root === undefined) throw malformed("no root element");
  if (stack.length > 0) throw malformed(`<${stack.at(-1)?.qname}> is not closed`);
  return root;
}

/** The first descendant (depth-first, including `element`) with namespace `ns` and local `name`. */
export function findElement(element: XmlElement, ns: string, name: string): XmlElement | undefined {
  if (element.ns === ns && element.name === name) return element;
  for (const child of element.children) {
    const found = findElement(child, ns, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Every descendant with namespace `ns` and local `name`, in document order. */
export function findElements(element: XmlElement, ns: string, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    if (e.ns === ns && e.name === name) out.push(e);
    for (const child of e.children) walk(child);
  };
  walk(element);
  return out;
}

/** Direct children with namespace `ns` and local `name`. */
export function childElements(element: XmlElement, ns: string, name: string): XmlElement[] {
  return element.children.filter((c) => c.ns === ns && c.name === name);
}
