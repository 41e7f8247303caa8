/**
 * Host-side signature formatting. PIV cards compute raw private-key operations (SP 800-73-4
 * Part 2 §3.2.4): for RSA the host sends the full encoded message EM; for ECDSA the host sends
 * the hash. This module builds those inputs.
 */
import { createHash } from "node:crypto";
import type { HashAlgorithm } from "@cardwright/core";
import { InvalidCommandError } from "../errors.js";
import { concat } from "../tlv.js";

/**
 * DER DigestInfo prefixes, RFC 8017 §9.2 Note 1 (the AlgorithmIdentifier with NULL parameters
 * and the OCTET STRING header); the digest follows.
 */
const DIGEST_INFO_PREFIX: Readonly<Record<HashAlgorithm, string>> = {
  "SHA-256": "3031300d060960864801650304020105000420",
  "SHA-384": "3041300d060960864801650304020205000430",
  "SHA-512": "3051300d060960864801650304020305000440",
};

const NODE_HASH: Readonly<Record<HashAlgorithm, string>> = {
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

/** Hash `data` with `hash`. */
export function digest(hash: HashAlgorithm, data: Uint8Array): Uint8Array {
  const name = NODE_HASH[hash];
  if (name === undefined) throw new InvalidCommandError(`unsupported hash ${String(hash)}`);
  return Uint8Array.from(createHash(name).update(data).digest());
}

/**
 * EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2): `00 01 FF…FF 00 || DigestInfo`, `emLen` bytes long.
 * @throws InvalidCommandError when the modulus is too short for the digest (RFC 8017 "intended
 * encoded message length too short").
 */
export function emsaPkcs1v15(hash: HashAlgorithm, messageDigest: Uint8Array, emLen: number): Uint8Array {
  const prefix = DIGEST_INFO_PREFIX[hash];
  if (prefix === undefined) throw new InvalidCommandError(`unsupported hash ${String(hash)}`);
  const t = concat(Buffer.from(prefix, "hex"), messageDigest);
  if (emLen < t.length + 11) throw new InvalidCommandError("RSA modulus too short for this digest");
  const em = new Uint8Array(emLen).fill(0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[emLen - t.length - 1] = 0x00;
  em.set(t, emLen - t.length);
  return em;
}

/**
 * The ECDSA input for a curve of `fieldSize` bytes: the leftmost `fieldSize` bytes of a longer
 * hash (FIPS 186-5 §6.4.1 uses the leftmost bits), or a shorter hash left-padded with zeros
 * (the same integer) — what yubico-piv-tool sends.
 */
export function ecdsaInput(messageDigest: Uint8Array, fieldSize: number): Uint8Array {
  if (messageDigest.length >= fieldSize) return messageDigest.slice(0, fieldSize);
  const out = new Uint8Array(fieldSize);
  out.set(messageDigest, fieldSize - messageDigest.length);
  return out;
}
