/**
 * Device capabilities of a PKCS#11 token, from its mechanism list (C_GetMechanismList and
 * C_GetMechanismInfo, Base v2.40 §5.5): which key pairs it generates on-token, in which sizes.
 */
import type { DeviceCapabilities, KeyAlgorithm, SlotId } from "@cardwright/core";
import { Mech } from "./constants.js";

/** `CK_MECHANISM_INFO` as pkcs11js returns it. */
export interface MechanismInfo {
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

/** CKF_GENERATE_KEY_PAIR and CKF_SIGN (Base §3.5, Table 14). */
const CKF_GENERATE_KEY_PAIR = 0x10000;
const CKF_SIGN = 0x800;

/** The CKA_IDs offered as slots when none are configured: 01–04, as OpenSC names PIV 9A, 9C, 9D, 9E. */
export const DEFAULT_PKCS11_SLOTS: readonly SlotId[] = ["01", "02", "03", "04"];

const within = (info: MechanismInfo, bits: number) =>
  info.minKeySize <= bits && (info.maxKeySize === 0 || info.maxKeySize >= bits);

/**
 * Key algorithms the token can generate and sign with: RSA needs CKM_RSA_PKCS_KEY_PAIR_GEN and
 * CKM_RSA_PKCS (or CKM_SHA256_RSA_PKCS); EC needs CKM_EC_KEY_PAIR_GEN and CKM_ECDSA, each with a
 * key-size range (in bits) covering the size. A mechanism whose flags deny key-pair generation
 * or signing does not count.
 */
export function keyAlgorithmsOf(mechanisms: ReadonlyMap<number, MechanismInfo>): KeyAlgorithm[] {
  const algorithms: KeyAlgorithm[] = [];
  const gen = (m: number) => {
    const info = mechanisms.get(m);
    return info !== undefined && (info.flags & CKF_GENERATE_KEY_PAIR) !== 0 ? info : undefined;
  };
  const sign = (m: number) => {
    const info = mechanisms.get(m);
    return info !== undefined && (info.flags & CKF_SIGN) !== 0 ? info : undefined;
  };
  const rsaGen = gen(Mech.rsaPkcsKeyPairGen);
  const rsaSign = sign(Mech.rsaPkcs) ?? sign(Mech.sha256RsaPkcs);
  if (rsaGen !== undefined && rsaSign !== undefined) {
    if (within(rsaGen, 2048) && within(rsaSign, 2048)) algorithms.push("RSA2048");
    if (within(rsaGen, 3072) && within(rsaSign, 3072)) algorithms.push("RSA3072");
  }
  const ecGen = gen(Mech.ecKeyPairGen);
  const ecSign = sign(Mech.ecdsa);
  if (ecGen !== undefined && ecSign !== undefined) {
    if (within(ecGen, 256) && within(ecSign, 256)) algorithms.push("ECCP256");
    if (within(ecGen, 384) && within(ecSign, 384)) algorithms.push("ECCP384");
  }
  return algorithms;
}

/**
 * Key algorithms the token can sign with (keys it holds but may not generate, e.g. OpenSC on a PIV
 * card): CKM_RSA_PKCS or CKM_SHA256_RSA_PKCS, CKM_ECDSA, each covering the size.
 */
export function signAlgorithmsOf(mechanisms: ReadonlyMap<number, MechanismInfo>): KeyAlgorithm[] {
  const algorithms: KeyAlgorithm[] = [];
  const sign = (m: number) => {
    const info = mechanisms.get(m);
    return info !== undefined && (info.flags & CKF_SIGN) !== 0 ? info : undefined;
  };
  const rsa = sign(Mech.rsaPkcs) ?? sign(Mech.sha256RsaPkcs);
  if (rsa !== undefined && within(rsa, 2048)) algorithms.push("RSA2048");
  if (rsa !== undefined && within(rsa, 3072)) algorithms.push("RSA3072");
  const ec = sign(Mech.ecdsa);
  if (ec !== undefined && within(ec, 256)) algorithms.push("ECCP256");
  if (ec !== undefined && within(ec, 384)) algorithms.push("ECCP384");
  return algorithms;
}

/** What shapes the capabilities beyond the mechanism list. */
export interface CapabilityOptions {
  slots?: readonly SlotId[];
  /** The token can be re-initialised with C_InitToken. */
  reset: boolean;
  pinRetries?: number;
}

/** The capabilities of a token with `mechanisms`. */
export function capabilitiesOf(
  mechanisms: ReadonlyMap<number, MechanismInfo>,
  options: CapabilityOptions,
): DeviceCapabilities {
  const capabilities: DeviceCapabilities = {
    keyAlgorithms: keyAlgorithmsOf(mechanisms),
    slots: options.slots ?? DEFAULT_PKCS11_SLOTS,
    pinChange: true,
    // The SO sets a new user PIN with C_InitPIN, which is how a PKCS#11 token is unblocked.
    pinUnblock: true,
    // The SO PIN unblocks; there is no PUK of its own (changePuk refuses).
    pukChange: false,
    reset: options.reset,
    adminCredentialChange: true,
    attestation: false,
    cardIdentifiers: false,
  };
  if (options.pinRetries !== undefined) capabilities.pinRetries = options.pinRetries;
  return capabilities;
}
