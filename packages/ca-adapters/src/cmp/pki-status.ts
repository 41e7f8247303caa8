/** RFC 4210 §5.2.3 PKIStatusInfo: the status, its text and the PKIFailureInfo bits. */
import * as asn1js from "asn1js";
import { badResponse, encodeFreeText, freeText, integerValue, sequenceItems } from "./der.js";

/** RFC 4210 §5.2.3 PKIStatus. */
export const PkiStatus = {
  accepted: 0,
  grantedWithMods: 1,
  rejection: 2,
  waiting: 3,
  revocationWarning: 4,
  revocationNotification: 5,
  keyUpdateWarning: 6,
} as const;

/** RFC 4210 §5.2.3 PKIFailureInfo bit names, by bit number. */
export const FAILURE_INFO_BITS = [
  "badAlg",
  "badMessageCheck",
  "badRequest",
  "badTime",
  "badCertId",
  "badDataFormat",
  "wrongAuthority",
  "incorrectData",
  "missingTimeStamp",
  "badPOP",
  "certRevoked",
  "certConfirmed",
  "wrongIntegrity",
  "badRecipientNonce",
  "timeNotAvailable",
  "unacceptedPolicy",
  "unacceptedExtension",
  "addInfoNotAvailable",
  "badSenderNonce",
  "badCertTemplate",
  "signerNotTrusted",
  "transactionIdInUse",
  "unsupportedVersion",
  "notAuthorized",
  "systemUnavail",
  "systemFailure",
  "duplicateCertReq",
] as const;

/** A PKIFailureInfo bit name. */
export type FailureInfo = (typeof FAILURE_INFO_BITS)[number];

/** A decoded PKIStatusInfo. */
export interface PkiStatusInfo {
  status: number;
  statusString: string[];
  failInfo: FailureInfo[];
}

/** The failure bits set in a PKIFailureInfo BIT STRING (bit 0 is the first, most significant bit). */
function failureBits(block: asn1js.AsnType): FailureInfo[] {
  if (!(block instanceof asn1js.BitString)) throw badResponse("PKIStatusInfo.failInfo is not a BIT STRING");
  const bytes = block.valueBlock.valueHexView;
  const out: FailureInfo[] = [];
  FAILURE_INFO_BITS.forEach((name, bit) => {
    const byte = bytes[bit >> 3];
    if (byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0) out.push(name);
  });
  return out;
}

/**
 * Decode a PKIStatusInfo.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is malformed.
 */
export function decodePkiStatusInfo(block: asn1js.AsnType | undefined): PkiStatusInfo {
  const [status, ...rest] = sequenceItems(block, "PKIStatusInfo");
  const info: PkiStatusInfo = { status: integerValue(status, "PKIStatusInfo.status"), statusString: [], failInfo: [] };
  for (const item of rest) {
    if (item instanceof asn1js.Sequence) info.statusString = freeText(item, "PKIStatusInfo.statusString");
    else info.failInfo = failureBits(item);
  }
  return info;
}

/** Encode a PKIStatusInfo; `failInfo` bits become a DER BIT STRING without trailing zero bits. */
export function encodePkiStatusInfo(info: {
  status: number;
  statusString?: readonly string[];
  failInfo?: readonly FailureInfo[];
}): asn1js.Sequence {
  const value: asn1js.AsnType[] = [new asn1js.Integer({ value: info.status })];
  if (info.statusString !== undefined && info.statusString.length > 0) value.push(encodeFreeText(info.statusString));
  if (info.failInfo !== undefined && info.failInfo.length > 0) {
    const bits = info.failInfo.map((name) => FAILURE_INFO_BITS.indexOf(name));
    const highest = Math.max(...bits);
    const bytes = new Uint8Array((highest >> 3) + 1);
    for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
    value.push(new asn1js.BitString({ valueHex: bytes.buffer, unusedBits: 7 - (highest & 7) }));
  }
  return new asn1js.Sequence({ value });
}

/** A one-line human description: status name, failure bits and the CA's text. */
export function describeStatus(info: PkiStatusInfo): string {
  const name = Object.entries(PkiStatus).find(([, v]) => v === info.status)?.[0] ?? `status ${info.status}`;
  const bits = info.failInfo.length > 0 ? ` (failInfo: ${info.failInfo.join(", ")})` : "";
  const text = info.statusString.length > 0 ? `: ${info.statusString.join("; ")}` : "";
  return `${name}${bits}${text}`;
}
