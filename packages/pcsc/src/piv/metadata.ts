/**
 * YubiKey GET METADATA (INS F7, firmware 5.3+; Yubico PIV extensions): TLV 01 algorithm,
 * 02 policy (PIN policy, touch policy), 03 origin (1 generated, 2 imported), 04 public key
 * (the elements of a 7F49 template), 05 default-value flag, 06 retries (total, remaining).
 */
import { BadResponseError } from "../errors.js";
import { decodeMap } from "../tlv.js";
import {
  algorithmName,
  isPivKeyAlgorithm,
  type PinPolicy,
  type PivAlgorithmName,
  pinPolicyName,
  type TouchPolicy,
  touchPolicyName,
} from "./algorithms.js";
import { spkiFromPublicKeyElements } from "./public-key.js";

/** Metadata tags. */
export const MetadataTag = {
  algorithm: 0x01,
  policy: 0x02,
  origin: 0x03,
  publicKey: 0x04,
  defaultValue: 0x05,
  retries: 0x06,
} as const;

/** Where a key came from. */
export type KeyOrigin = "generated" | "imported";

/** Metadata of a key reference (a slot, the management key, the PIN or PUK). */
export interface KeyMetadata {
  algorithm: PivAlgorithmName;
  pinPolicy?: PinPolicy;
  touchPolicy?: TouchPolicy;
  origin?: KeyOrigin;
  /** DER SubjectPublicKeyInfo for RSA2048 / P-256 / P-384 keys. */
  publicKey?: Uint8Array;
  /** The raw public key elements (81/82 or 86), for every asymmetric algorithm. */
  publicKeyElements?: Uint8Array;
  /** True while the PIN, PUK or management key still has its factory value. */
  isDefault?: boolean;
  /** PIN/PUK retry counters. */
  retries?: { total: number; remaining: number };
}

function single(value: Uint8Array, what: string): number {
  if (value.length !== 1) throw new BadResponseError(`metadata ${what} of ${value.length} bytes, expected 1`);
  return value[0] as number;
}

/** Parse a GET METADATA response. @throws BadResponseError on a missing algorithm or unknown byte. */
export function parseMetadata(data: Uint8Array): KeyMetadata {
  const map = decodeMap(data);
  const alg = map.get(MetadataTag.algorithm);
  if (alg === undefined) throw new BadResponseError("metadata lacks the algorithm (tag 01)");
  const metadata: KeyMetadata = { algorithm: algorithmName(single(alg, "algorithm")) };
  const policy = map.get(MetadataTag.policy);
  if (policy !== undefined) {
    if (policy.length !== 2) throw new BadResponseError("metadata policy is not two bytes");
    metadata.pinPolicy = pinPolicyName(policy[0] as number);
    metadata.touchPolicy = touchPolicyName(policy[1] as number);
  }
  const origin = map.get(MetadataTag.origin);
  if (origin !== undefined) {
    const o = single(origin, "origin");
    if (o !== 1 && o !== 2) throw new BadResponseError(`unknown key origin ${o}`);
    metadata.origin = o === 1 ? "generated" : "imported";
  }
  const publicKey = map.get(MetadataTag.publicKey);
  if (publicKey !== undefined && publicKey.length > 0) {
    metadata.publicKeyElements = Uint8Array.from(publicKey);
    if (isPivKeyAlgorithm(metadata.algorithm)) {
      metadata.publicKey = spkiFromPublicKeyElements(metadata.algorithm, publicKey);
    }
  }
  const isDefault = map.get(MetadataTag.defaultValue);
  if (isDefault !== undefined) metadata.isDefault = single(isDefault, "default flag") !== 0;
  const retries = map.get(MetadataTag.retries);
  if (retries !== undefined) {
    if (retries.length !== 2) throw new BadResponseError("metadata retries is not two bytes");
    metadata.retries = { total: retries[0] as number, remaining: retries[1] as number };
  }
  return metadata;
}
