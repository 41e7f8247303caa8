/** Reading CRLs (RFC 5280 §5) with OpenSSL, a tool nobody here wrote. */
import { expect } from "vitest";
import { openssl } from "./openssl.js";
import { pem } from "./pem.js";

/** A serial number as OpenSSL prints it and our records keep it, compared as lowercase hex without leading zeros. */
export const bare = (serialHex: string): string => serialHex.toLowerCase().replace(/^0+/, "");

/** `openssl crl -text` of a DER CRL, as revoked serial ({@link bare} hex) → CRL reason text (RFC 5280 §5.3.1). */
export function crlEntries(crl: Uint8Array): Map<string, string> {
  const r = openssl(["crl", "-noout", "-text", "-in", "crl.pem"], { "crl.pem": pem("X509 CRL", crl) });
  expect(r.status, r.output).toBe(0);
  const entries = new Map<string, string>();
  const re = /Serial Number:\s*([0-9A-Fa-f]+)[\s\S]*?CRL Reason Code:\s*\n\s*([^\n]+)/g;
  for (const m of r.output.matchAll(re)) entries.set(bare(m[1]!), m[2]!.trim());
  return entries;
}
