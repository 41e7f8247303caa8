/**
 * PIV certificate data objects, SP 800-73-4 Part 1 Appendix A Tables 10–15 and 20–39:
 * Certificate (0x70), CertInfo (0x71; SP 800-73-4 Part 1 §3.3.1 — bit 0 set means the
 * certificate is gzip-compressed) and the empty Error Detection Code (0xFE).
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { BadResponseError } from "../errors.js";
import { concat, decodeMap, tlv } from "../tlv.js";
import { Tag } from "./constants.js";

/** CertInfo bit 0: CompressionType gzip. */
const CERT_INFO_GZIP = 0x01;
/** A decompressed certificate larger than this is refused (a compression bomb, not a certificate). */
const MAX_CERTIFICATE_SIZE = 64 * 1024;

/** Encode a certificate object; `compress` stores it gzip-compressed with CertInfo bit 0 set. */
export function encodeCertificateObject(der: Uint8Array, compress = false): Uint8Array {
  const body = compress ? gzipSync(der) : der;
  return concat(
    tlv(Tag.certificate, body),
    tlv(Tag.certInfo, Uint8Array.of(compress ? CERT_INFO_GZIP : 0)),
    tlv(Tag.errorDetectionCode),
  );
}

/**
 * The DER certificate of a certificate object, gunzipped when CertInfo says so.
 * @throws BadResponseError when the certificate element is missing or does not decompress.
 */
export function decodeCertificateObject(object: Uint8Array): Uint8Array {
  const map = decodeMap(object);
  const body = map.get(Tag.certificate);
  if (body === undefined) throw new BadResponseError("certificate object lacks its certificate (tag 70)");
  const info = map.get(Tag.certInfo)?.[0] ?? 0;
  if ((info & CERT_INFO_GZIP) === 0) return Uint8Array.from(body);
  try {
    return Uint8Array.from(gunzipSync(body, { maxOutputLength: MAX_CERTIFICATE_SIZE }));
  } catch (err) {
    throw new BadResponseError("compressed certificate does not gunzip", { cause: err });
  }
}
