/**
 * Two-way tables between PIV wire bytes and names: key algorithms (SP 800-78-4 Table 6-2,
 * SP 800-73-4 Part 1 Table 5, Yubico AES/Ed25519 extensions), and Yubico's PIN and touch
 * policies. An unknown byte is a `BadResponseError` where it is decoded.
 */
import type { KeyAlgorithm, ManagementKeyAlgorithm } from "@cardwright/core";
import { BadResponseError, InvalidCommandError } from "../errors.js";
import { Alg } from "./constants.js";

/** Asymmetric key algorithms the PIV edge generates and signs with. */
export type PivKeyAlgorithm = Extract<KeyAlgorithm, "RSA2048" | "ECCP256" | "ECCP384">;

/** Every algorithm name a card may report in GET METADATA (`"PIN"` for PIN/PUK references). */
export type PivAlgorithmName =
  | ManagementKeyAlgorithm
  | "RSA1024"
  | "RSA2048"
  | "RSA3072"
  | "RSA4096"
  | "ECCP256"
  | "ECCP384"
  | "ED25519"
  | "X25519"
  | "PIN";

/** YubiKey metadata reports PIN and PUK with this pseudo-algorithm (Yubico PIV extensions, GET METADATA). */
const ALG_PIN = 0xff;

const ALGORITHM_BYTES: Readonly<Record<PivAlgorithmName, number>> = {
  TDES: Alg.tdes,
  AES128: Alg.aes128,
  AES192: Alg.aes192,
  AES256: Alg.aes256,
  RSA1024: Alg.rsa1024,
  RSA2048: Alg.rsa2048,
  RSA3072: Alg.rsa3072,
  RSA4096: Alg.rsa4096,
  ECCP256: Alg.eccP256,
  ECCP384: Alg.eccP384,
  ED25519: Alg.ed25519,
  X25519: Alg.x25519,
  PIN: ALG_PIN,
};

const ALGORITHM_NAMES: ReadonlyMap<number, PivAlgorithmName> = new Map(
  Object.entries(ALGORITHM_BYTES).map(([name, byte]) => [byte, name as PivAlgorithmName]),
);

/** Wire byte of an algorithm. */
export function algorithmByte(name: PivAlgorithmName): number {
  const byte = ALGORITHM_BYTES[name];
  if (byte === undefined) throw new InvalidCommandError(`unknown PIV algorithm ${String(name)}`);
  return byte;
}

/** Name of an algorithm byte. @throws BadResponseError for an unknown byte. */
export function algorithmName(byte: number): PivAlgorithmName {
  const name = ALGORITHM_NAMES.get(byte);
  if (name === undefined) throw new BadResponseError(`unknown algorithm byte 0x${byte.toString(16)}`);
  return name;
}

/** Management-key algorithm of a byte. @throws BadResponseError when the byte is not a symmetric algorithm. */
export function managementKeyAlgorithmOf(byte: number): ManagementKeyAlgorithm {
  const name = algorithmName(byte);
  if (name === "TDES" || name === "AES128" || name === "AES192" || name === "AES256") return name;
  throw new BadResponseError(`management key reported with non-symmetric algorithm ${name}`);
}

/** Yubico PIN policy of a key (Yubico PIV extensions, GENERATE tag AA). */
export type PinPolicy = "default" | "never" | "once" | "always" | "match-once" | "match-always";
/** Yubico touch policy of a key (tag AB). */
export type TouchPolicy = "default" | "never" | "always" | "cached";

const PIN_POLICY_BYTES: Readonly<Record<PinPolicy, number>> = {
  default: 0,
  never: 1,
  once: 2,
  always: 3,
  "match-once": 4,
  "match-always": 5,
};
const TOUCH_POLICY_BYTES: Readonly<Record<TouchPolicy, number>> = { default: 0, never: 1, always: 2, cached: 3 };

function invert<T extends string>(table: Readonly<Record<T, number>>): ReadonlyMap<number, T> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as T]));
}
const PIN_POLICY_NAMES = invert(PIN_POLICY_BYTES);
const TOUCH_POLICY_NAMES = invert(TOUCH_POLICY_BYTES);

/** Wire byte of a PIN policy. */
export function pinPolicyByte(policy: PinPolicy): number {
  const byte = PIN_POLICY_BYTES[policy];
  if (byte === undefined) throw new InvalidCommandError(`unknown PIN policy ${String(policy)}`);
  return byte;
}
/** Wire byte of a touch policy. */
export function touchPolicyByte(policy: TouchPolicy): number {
  const byte = TOUCH_POLICY_BYTES[policy];
  if (byte === undefined) throw new InvalidCommandError(`unknown touch policy ${String(policy)}`);
  return byte;
}
/** PIN policy of a byte. @throws BadResponseError for an unknown byte. */
export function pinPolicyName(byte: number): PinPolicy {
  const name = PIN_POLICY_NAMES.get(byte);
  if (name === undefined) throw new BadResponseError(`unknown PIN policy byte 0x${byte.toString(16)}`);
  return name;
}
/** Touch policy of a byte. @throws BadResponseError for an unknown byte. */
export function touchPolicyName(byte: number): TouchPolicy {
  const name = TOUCH_POLICY_NAMES.get(byte);
  if (name === undefined) throw new BadResponseError(`unknown touch policy byte 0x${byte.toString(16)}`);
  return name;
}

/** True for the asymmetric algorithms this edge can generate and sign with. */
export function isPivKeyAlgorithm(name: string): name is PivKeyAlgorithm {
  return name === "RSA2048" || name === "ECCP256" || name === "ECCP384";
}
