/**
 * ACME identifiers (RFC 8555 §9.7.7) for the names a PKCS#10 request asks for: dNSName → `dns`,
 * iPAddress → `ip` (RFC 8738, textual form per RFC 5952), rfc822Name → `email` (RFC 8823).
 * The order must name exactly what the CSR carries, or the server refuses to finalize (§7.4).
 */
import { CardwrightError } from "@cardwright/core";
import type * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { ExtensionOid, Pkcs9Oid } from "../oids.js";

/** An ACME identifier object. */
export interface AcmeIdentifier {
  type: "dns" | "ip" | "email";
  value: string;
}

/** RFC 5952 §4 text of an IPv6 address: lowercase, no leading zeros, longest zero run as `::`. */
function ipv6Text(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

function ipText(octets: Uint8Array): string {
  if (octets.length === 4) return [...octets].join(".");
  if (octets.length === 16) return ipv6Text(octets);
  throw new CardwrightError("CA_INVALID_REQUEST", `the CSR has an iPAddress of ${octets.length} bytes`);
}

/**
 * The identifiers for an order, from the CSR's subjectAltName extension request.
 * @throws CardwrightError `CA_INVALID_REQUEST` when `csr` is not PKCS#10 or names nothing ACME can validate.
 */
export function csrIdentifiers(csr: Uint8Array): AcmeIdentifier[] {
  let request: pkijs.CertificationRequest;
  try {
    request = pkijs.CertificationRequest.fromBER(new Uint8Array(csr));
  } catch (err) {
    throw new CardwrightError("CA_INVALID_REQUEST", "not a DER PKCS#10 certification request", { cause: err });
  }
  const out: AcmeIdentifier[] = [];
  const seen = new Set<string>();
  const add = (id: AcmeIdentifier) => {
    const key = `${id.type}:${id.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(id);
    }
  };
  for (const attribute of request.attributes ?? []) {
    if (attribute.type !== Pkcs9Oid.extensionRequest) continue;
    for (const value of attribute.values) {
      const extensions = new pkijs.Extensions({ schema: value });
      for (const extension of extensions.extensions) {
        if (extension.extnID !== ExtensionOid.subjectAltName) continue;
        const names = extension.parsedValue as pkijs.AltName | undefined;
        for (const name of names?.altNames ?? []) {
          if (name.type === 2) add({ type: "dns", value: String(name.value).toLowerCase() });
          else if (name.type === 1) add({ type: "email", value: String(name.value) });
          else if (name.type === 7) {
            const octets = (name.value as asn1js.OctetString).valueBlock.valueHexView;
            add({ type: "ip", value: ipText(new Uint8Array(octets)) });
          }
        }
      }
    }
  }
  if (out.length === 0) {
    throw new CardwrightError(
      "CA_INVALID_REQUEST",
      "the CSR carries no dNSName, iPAddress or rfc822Name subjectAltName; an ACME order needs at least one identifier",
    );
  }
  return out;
}
