/**
 * Card Capability Container (CCC), SP 800-73-4 Part 1 §3.1.1 and Appendix A Table 8, inherited
 * from GSC-IS 2.1. PIV keeps it for compatibility; what matters to relying parties is the card
 * identifier (0xF0): GSC-RID `A000000116`, manufacturer id, card type, and 14 bytes that make
 * the card unique. The remaining elements carry the values the Yubico tools write.
 */
import { BadResponseError, InvalidCommandError } from "../errors.js";
import { secureRandomBytes } from "../random.js";
import { concat, decodeAll, tlv } from "../tlv.js";

/** CCC tags, SP 800-73-4 Part 1 Appendix A Table 8. */
export const CccTag = {
  cardIdentifier: 0xf0,
  capabilityContainerVersion: 0xf1,
  capabilityGrammarVersion: 0xf2,
  applicationsCardUrl: 0xf3,
  pkcs15: 0xf4,
  registeredDataModel: 0xf5,
  accessControlRuleTable: 0xf6,
  cardApdus: 0xf7,
  redirectionTag: 0xfa,
  capabilityTuples: 0xfb,
  statusTuples: 0xfc,
  nextCcc: 0xfd,
  errorDetectionCode: 0xfe,
} as const;

/** GSC registered application provider identifier, the first five bytes of the card identifier. */
export const GSC_RID = Uint8Array.of(0xa0, 0x00, 0x00, 0x01, 0x16);
/** Manufacturer id byte "not registered" as used by PIV issuers outside GSC-IS. */
const MANUFACTURER_ID = 0xff;
/** GSC-IS card type 02: Java Card. */
const CARD_TYPE_JAVA = 0x02;

/** A decoded CCC. */
export interface Ccc {
  /** Card identifier, 21 bytes: GSC-RID, manufacturer id, card type, 14 unique bytes. */
  cardIdentifier: Uint8Array;
  capabilityContainerVersion: number;
  capabilityGrammarVersion: number;
  /** PKCS#15 version (0 = none). */
  pkcs15: number;
  registeredDataModel: number;
}

/** A CCC with a fresh random card identifier. */
export function buildCcc(random: (length: number) => Uint8Array = secureRandomBytes): Ccc {
  const unique = random(14);
  if (unique.length !== 14) throw new InvalidCommandError("random source returned the wrong number of bytes");
  const cardIdentifier = new Uint8Array(21);
  cardIdentifier.set(GSC_RID, 0);
  cardIdentifier[5] = MANUFACTURER_ID;
  cardIdentifier[6] = CARD_TYPE_JAVA;
  cardIdentifier.set(unique, 7);
  return {
    cardIdentifier,
    capabilityContainerVersion: 0x21,
    capabilityGrammarVersion: 0x21,
    pkcs15: 0x00,
    registeredDataModel: 0x10,
  };
}

/** Encode a CCC (without the 0x53 wrapper); elements the PIV card does not use are present and empty. */
export function encodeCcc(ccc: Ccc): Uint8Array {
  if (ccc.cardIdentifier.length !== 21) throw new InvalidCommandError("CCC card identifier must be 21 bytes");
  const byte = (v: number) => Uint8Array.of(v);
  return concat(
    tlv(CccTag.cardIdentifier, ccc.cardIdentifier),
    tlv(CccTag.capabilityContainerVersion, byte(ccc.capabilityContainerVersion)),
    tlv(CccTag.capabilityGrammarVersion, byte(ccc.capabilityGrammarVersion)),
    tlv(CccTag.applicationsCardUrl),
    tlv(CccTag.pkcs15, byte(ccc.pkcs15)),
    tlv(CccTag.registeredDataModel, byte(ccc.registeredDataModel)),
    tlv(CccTag.accessControlRuleTable),
    tlv(CccTag.cardApdus),
    tlv(CccTag.redirectionTag),
    tlv(CccTag.capabilityTuples),
    tlv(CccTag.statusTuples),
    tlv(CccTag.nextCcc),
    tlv(CccTag.errorDetectionCode),
  );
}

/** Decode a CCC. @throws BadResponseError when the card identifier or a version is missing. */
export function decodeCcc(bytes: Uint8Array): Ccc {
  const map = new Map<number, Uint8Array>();
  for (const t of decodeAll(bytes)) if (!map.has(t.tag)) map.set(t.tag, Uint8Array.from(t.value));
  const cardIdentifier = map.get(CccTag.cardIdentifier);
  if (cardIdentifier === undefined || cardIdentifier.length === 0) {
    throw new BadResponseError("CCC lacks its card identifier");
  }
  const one = (tag: number, name: string): number => {
    const v = map.get(tag);
    if (v === undefined || v.length !== 1) throw new BadResponseError(`CCC ${name} missing or not one byte`);
    return v[0] as number;
  };
  return {
    cardIdentifier,
    capabilityContainerVersion: one(CccTag.capabilityContainerVersion, "container version"),
    capabilityGrammarVersion: one(CccTag.capabilityGrammarVersion, "grammar version"),
    pkcs15: map.get(CccTag.pkcs15)?.[0] ?? 0,
    registeredDataModel: map.get(CccTag.registeredDataModel)?.[0] ?? 0,
  };
}
