/**
 * Card Holder Unique Identifier (CHUID), SP 800-73-4 Part 1 §3.1.2 and Appendix A Table 9:
 * FASC-N (0x30), optional Organizational Identifier (0x32) and DUNS (0x33), GUID (0x34, 16 bytes),
 * Expiration Date (0x35, "YYYYMMDD"), optional Cardholder UUID (0x36), Issuer Asymmetric
 * Signature (0x3E, empty for an unsigned CHUID) and the empty Error Detection Code (0xFE).
 */
import { BadResponseError, InvalidCommandError } from "../errors.js";
import { secureRandomBytes } from "../random.js";
import { concat, decodeAll, tlv } from "../tlv.js";
import { encodeFascn, type Fascn, NON_FEDERAL_FASCN } from "./fascn.js";

/** CHUID tags, SP 800-73-4 Part 1 Appendix A Table 9. */
export const ChuidTag = {
  fascn: 0x30,
  organizationalIdentifier: 0x32,
  duns: 0x33,
  guid: 0x34,
  expirationDate: 0x35,
  cardholderUuid: 0x36,
  issuerSignature: 0x3e,
  errorDetectionCode: 0xfe,
} as const;

/** A decoded CHUID. */
export interface Chuid {
  /** 25-byte FASC-N (see `fascn.ts`). */
  fascn: Uint8Array;
  organizationalIdentifier?: Uint8Array;
  duns?: Uint8Array;
  /** 16-byte GUID (RFC 4122). */
  guid: Uint8Array;
  /** Expiration date, `YYYYMMDD`. */
  expiration: string;
  cardholderUuid?: Uint8Array;
  /** CMS SignedData of the issuer; empty for an unsigned CHUID. */
  signature: Uint8Array;
}

/** Options of {@link buildChuid}. */
export interface BuildChuidOptions {
  /** FASC-N fields; defaults to {@link NON_FEDERAL_FASCN}. */
  fascn?: Fascn;
  /** Use this GUID instead of a fresh random one (16 bytes). */
  guid?: Uint8Array;
  /** Expiration date; defaults to ten years after `now`. */
  expiration?: Date;
  /** The current time (injectable for tests); defaults to the system clock. */
  now?: Date;
  /** Random source; defaults to the platform CSPRNG. */
  random?: (length: number) => Uint8Array;
}

const UTF8 = new TextEncoder();

/** `YYYYMMDD` of a date, in UTC. */
export function formatCardDate(date: Date): string {
  const year = date.getUTCFullYear();
  // Years outside 0000–9999 (and invalid dates, which throw) take the ISO path; encodeChuid refuses them.
  if (!(year >= 0 && year <= 9999)) return date.toISOString().slice(0, 10).replaceAll("-", "");
  const month = date.getUTCMonth() + 1;
  const day = date.getUTCDate();
  return `${String(year).padStart(4, "0")}${month < 10 ? "0" : ""}${month}${day < 10 ? "0" : ""}${day}`;
}

/**
 * A fresh GUID: 16 random bytes with the RFC 4122 §4.4 version (4) and variant bits, so
 * relying parties that parse it as a UUID accept it.
 */
export function randomGuid(random: (length: number) => Uint8Array = secureRandomBytes): Uint8Array {
  const guid = Uint8Array.from(random(16));
  if (guid.length !== 16) throw new InvalidCommandError("random source returned the wrong number of bytes");
  guid[6] = ((guid[6] as number) & 0x0f) | 0x40;
  guid[8] = ((guid[8] as number) & 0x3f) | 0x80;
  return guid;
}

/** An unsigned CHUID with a fresh random GUID (or the one given). */
export function buildChuid(options: BuildChuidOptions = {}): Chuid {
  const now = options.now ?? new Date();
  const expiration =
    options.expiration ?? new Date(Date.UTC(now.getUTCFullYear() + 10, now.getUTCMonth(), now.getUTCDate()));
  const guid = options.guid ?? randomGuid(options.random);
  if (guid.length !== 16) throw new InvalidCommandError(`CHUID GUID must be 16 bytes, got ${guid.length}`);
  return {
    fascn: encodeFascn(options.fascn ?? NON_FEDERAL_FASCN),
    guid: Uint8Array.from(guid),
    expiration: formatCardDate(expiration),
    signature: new Uint8Array(0),
  };
}

/** Encode a CHUID to the contents of its data object (without the 0x53 wrapper). */
export function encodeChuid(chuid: Chuid): Uint8Array {
  if (chuid.fascn.length !== 25) throw new InvalidCommandError("CHUID FASC-N must be 25 bytes");
  if (chuid.guid.length !== 16) throw new InvalidCommandError("CHUID GUID must be 16 bytes");
  if (!/^[0-9]{8}$/.test(chuid.expiration)) throw new InvalidCommandError("CHUID expiration must be YYYYMMDD");
  const parts = [tlv(ChuidTag.fascn, chuid.fascn)];
  if (chuid.organizationalIdentifier)
    parts.push(tlv(ChuidTag.organizationalIdentifier, chuid.organizationalIdentifier));
  if (chuid.duns) parts.push(tlv(ChuidTag.duns, chuid.duns));
  parts.push(tlv(ChuidTag.guid, chuid.guid), tlv(ChuidTag.expirationDate, UTF8.encode(chuid.expiration)));
  if (chuid.cardholderUuid) parts.push(tlv(ChuidTag.cardholderUuid, chuid.cardholderUuid));
  parts.push(tlv(ChuidTag.issuerSignature, chuid.signature), tlv(ChuidTag.errorDetectionCode));
  return concat(...parts);
}

/** Decode a CHUID. @throws BadResponseError when a mandatory element is missing or malformed. */
export function decodeChuid(bytes: Uint8Array): Chuid {
  const map = new Map<number, Uint8Array>();
  for (const t of decodeAll(bytes)) if (!map.has(t.tag)) map.set(t.tag, Uint8Array.from(t.value));
  const fascn = map.get(ChuidTag.fascn);
  const guid = map.get(ChuidTag.guid);
  const expiration = map.get(ChuidTag.expirationDate);
  if (fascn === undefined || guid === undefined || expiration === undefined) {
    throw new BadResponseError("CHUID lacks its FASC-N, GUID or expiration date");
  }
  if (guid.length !== 16) throw new BadResponseError(`CHUID GUID of ${guid.length} bytes, expected 16`);
  const expirationText = new TextDecoder().decode(expiration);
  if (!/^[0-9]{8}$/.test(expirationText)) throw new BadResponseError("CHUID expiration date is not YYYYMMDD");
  const chuid: Chuid = {
    fascn,
    guid,
    expiration: expirationText,
    signature: map.get(ChuidTag.issuerSignature) ?? new Uint8Array(0),
  };
  const org = map.get(ChuidTag.organizationalIdentifier);
  if (org) chuid.organizationalIdentifier = org;
  const duns = map.get(ChuidTag.duns);
  if (duns) chuid.duns = duns;
  const uuid = map.get(ChuidTag.cardholderUuid);
  if (uuid) chuid.cardholderUuid = uuid;
  return chuid;
}
