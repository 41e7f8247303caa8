/**
 * PEM, the textual encoding of DER (RFC 7468): base64 in 64-character lines between
 * `-----BEGIN label-----` and `-----END label-----`.
 */
import { CardwrightError } from "@cardwright/core";

/** Labels cardwright writes (RFC 7468 §5–§11). */
export type PemLabel = "CERTIFICATE" | "X509 CRL" | "CERTIFICATE REQUEST" | "PRIVATE KEY" | "PUBLIC KEY";

/** Encode DER as one PEM block (RFC 7468 §2), with a trailing newline. */
export function toPem(der: Uint8Array, label: PemLabel | string): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** One decoded PEM block. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/=\s]*$/;

/**
 * Decode every PEM block in `text`, in order; text between blocks is ignored (RFC 7468 §2
 * explanatory text). With `label`, only blocks with that label are returned.
 * @throws CardwrightError `CONFIG_INVALID` when a block body is not base64.
 */
export function fromPemAll(text: string, label?: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const blockLabel = match[1] as string;
    const body = match[2] as string;
    if (label !== undefined && blockLabel !== label) continue;
    if (!BASE64_BODY.test(body)) {
      throw new CardwrightError("CONFIG_INVALID", `PEM block "${blockLabel}" is not valid base64`, {
        details: { label: blockLabel },
      });
    }
    out.push({ label: blockLabel, der: new Uint8Array(Buffer.from(body.replace(/\s+/g, ""), "base64")) });
  }
  return out;
}

/**
 * Decode the first PEM block with `label` (any label when omitted).
 * @throws CardwrightError `CONFIG_INVALID` when there is no such block or it is not base64.
 */
export function fromPem(text: string, label?: string): Uint8Array {
  const first = fromPemAll(text, label)[0];
  if (first === undefined) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      `no PEM block${label === undefined ? "" : ` labelled "${label}"`} found; expected -----BEGIN ${label ?? "…"}-----`,
      { details: { label } },
    );
  }
  return first.der;
}
