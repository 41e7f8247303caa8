/** PEM armour (RFC 7468) for handing DER to OpenSSL and other tools in tests. */

/** RFC 7468 §2: base64 of `der` in 64-character lines between `-----BEGIN label-----` and `-----END label-----`. */
export function pem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${body}${body.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

/** A DER X.509 certificate (RFC 5280 §4) as PEM. */
export const certificatePem = (der: Uint8Array): string => pem("CERTIFICATE", der);
