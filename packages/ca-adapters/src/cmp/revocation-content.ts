/**
 * RFC 4210 §5.3.9 RevReqContent and §5.3.10 RevRepContent. A RevDetails names the certificate
 * by issuer and serial (RFC 9483 §4.2) and carries the RFC 5280 §5.3.1 reasonCode extension.
 */
import type { RevocationReason } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CrlReasonCode } from "../embedded/revocation-reason.js";
import { ExtensionOid } from "../oids.js";
import { badResponse, sequenceItems } from "./der.js";
import { decodePkiStatusInfo, type PkiStatusInfo } from "./pki-status.js";

const CONTEXT = 3;

/** A certificate to revoke. */
export interface RevDetailsInput {
  /** DER Name of the issuing CA. */
  issuer: Uint8Array;
  /** Serial, hex without separators. */
  serialHex: string;
  reason: RevocationReason;
}

function serialBytes(serialHex: string): Uint8Array {
  const even = serialHex.length % 2 === 0 ? serialHex : `0${serialHex}`;
  const bytes = Buffer.from(even, "hex");
  // A positive INTEGER whose first bit is set needs a leading zero octet.
  return (bytes[0] ?? 0) >= 0x80 ? Uint8Array.of(0, ...bytes) : new Uint8Array(bytes);
}

/** Encode a RevReqContent (CertTemplate is IMPLICIT-tagged per RFC 4211; Name, a CHOICE, stays explicit). */
export function encodeRevReqContent(entries: readonly RevDetailsInput[]): asn1js.Sequence {
  return new asn1js.Sequence({
    value: entries.map((e) => {
      const issuer = asn1js.fromBER(new Uint8Array(e.issuer).buffer).result;
      const certTemplate = new asn1js.Sequence({
        value: [
          new asn1js.Primitive({
            idBlock: { tagClass: CONTEXT, tagNumber: 1 },
            valueHex: serialBytes(e.serialHex).buffer as ArrayBuffer,
          }),
          new asn1js.Constructed({ idBlock: { tagClass: CONTEXT, tagNumber: 3 }, value: [issuer] }),
        ],
      });
      const reasonCode = new pkijs.Extension({
        extnID: ExtensionOid.reasonCode,
        critical: false,
        extnValue: new asn1js.Enumerated({ value: CrlReasonCode[e.reason] }).toBER(false),
      });
      return new asn1js.Sequence({
        value: [certTemplate, new pkijs.Extensions({ extensions: [reasonCode] }).toSchema()],
      });
    }),
  });
}

/**
 * Decode the status list of a RevRepContent.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed or empty.
 */
export function decodeRevRepContent(block: asn1js.AsnType): PkiStatusInfo[] {
  const [status] = sequenceItems(block, "RevRepContent");
  const statuses = sequenceItems(status, "RevRepContent.status").map(decodePkiStatusInfo);
  if (statuses.length === 0) throw badResponse("RevRepContent has no status");
  return statuses;
}
