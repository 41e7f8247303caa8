/**
 * Yubico's PIV extensions (Yubico, "PIV extensions" / yubikit `piv.py`): GET VERSION (FD),
 * GET SERIAL (F8), GET METADATA (F7, firmware 5.3), SET MANAGEMENT KEY (FF), SET PIN RETRIES
 * (FA), RESET (FB), IMPORT ASYMMETRIC KEY (FE) and ATTEST (F9).
 */

import { createPublicKey } from "node:crypto";
import { concat, decodeAll, Sw, tlv } from "@cardwright/pcsc";
import { attestSlot } from "../attestation/piv-attestation.js";
import { managementKeyCipher } from "../crypto/management-key-cipher.js";
import { ecKeyFromScalar, keySpecFor, publicKeyObjects, rsaKeyFromCrt, type SlotKey } from "../crypto/slot-keys.js";
import {
  ATTESTATION_OBJECT,
  ATTESTATION_SLOT,
  type CardContext,
  DISCOVERY_OBJECT,
  factoryManagementKey,
} from "./card-state.js";
import type { CommandApdu } from "./command-apdu.js";
import { Features } from "./firmware.js";
import { requireKeySpec } from "./generate-key-pair.js";
import { isAsymmetricSlot, PinPolicy, resolvePolicies, TouchPolicy } from "./key-slots.js";
import { CardStatus } from "./status.js";

const NONE = new Uint8Array(0);

function requireManagementAuth(ctx: CardContext, what: string): void {
  if (!ctx.state.volatile.managementAuthenticated) {
    throw new CardStatus(Sw.securityStatusNotSatisfied, `${what} needs management key authentication`);
  }
}

/** GET VERSION: three bytes major, minor, patch. */
export async function getVersion(ctx: CardContext): Promise<Uint8Array> {
  const fw = ctx.state.config.firmware;
  return Uint8Array.of(fw.major, fw.minor, fw.patch);
}

/** GET SERIAL: the serial as a 4-byte big-endian number. */
export async function getSerial(ctx: CardContext): Promise<Uint8Array> {
  const s = ctx.state.config.serial;
  return Uint8Array.of((s >>> 24) & 0xff, (s >>> 16) & 0xff, (s >>> 8) & 0xff, s & 0xff);
}

/**
 * GET METADATA for P2 = 80/81 (01 FF, 05 default, 06 retries), 9B (01 alg, 02 policy, 05 default)
 * or a key slot (01 alg, 02 policy, 03 origin 1 generated / 2 imported, 04 public key).
 * @throws CardStatus 6D00 before firmware 5.3, 6A88 for an empty slot.
 */
export async function getMetadata(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  const { state } = ctx;
  if (!Features.metadata(state.config.firmware))
    throw new CardStatus(Sw.insNotSupported, "metadata needs firmware 5.3");
  if (cmd.p1 !== 0x00) throw new CardStatus(Sw.incorrectP1P2, "GET METADATA needs P1 00");
  if (cmd.p2 === 0x80 || cmd.p2 === 0x81) {
    const ref = cmd.p2 === 0x80 ? state.pin : state.puk;
    return concat(
      tlv(0x01, Uint8Array.of(0xff)),
      tlv(0x05, Uint8Array.of(ref.isDefault ? 1 : 0)),
      tlv(0x06, Uint8Array.of(ref.retriesTotal, ref.retriesLeft)),
    );
  }
  if (cmd.p2 === 0x9b) {
    const mk = state.managementKey;
    const factory = factoryManagementKey(state.config.firmware);
    const isDefault = mk.algorithm === factory.algorithm && Buffer.from(mk.key).equals(Buffer.from(factory.key));
    return concat(
      tlv(0x01, Uint8Array.of(mk.algorithm)),
      tlv(0x02, Uint8Array.of(PinPolicy.never, mk.touchPolicy)),
      tlv(0x05, Uint8Array.of(isDefault ? 1 : 0)),
    );
  }
  const key = state.keys.get(cmd.p2);
  if (key === undefined) throw new CardStatus(Sw.referenceNotFound, "slot is empty");
  const spec = keySpecFor(key.algorithm);
  if (spec === undefined) throw new CardStatus(Sw.noPreciseDiagnosis, "slot holds an unknown key type");
  return concat(
    tlv(0x01, Uint8Array.of(key.algorithm)),
    tlv(0x02, Uint8Array.of(key.pinPolicy, key.touchPolicy)),
    tlv(0x03, Uint8Array.of(key.origin === "generated" ? 1 : 2)),
    tlv(0x04, publicKeyObjects(key.publicKey, spec)),
  );
}

/**
 * SET MANAGEMENT KEY: P1 FF, P2 FF (no touch) or FE (touch); data `alg ‖ 9B ‖ len ‖ key`.
 * @throws CardStatus 6982 without authentication, 6A80 bad algorithm or length (AES before 5.4).
 */
export async function setManagementKey(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (cmd.p1 !== 0xff || (cmd.p2 !== 0xff && cmd.p2 !== 0xfe)) {
    throw new CardStatus(Sw.incorrectP1P2, "SET MANAGEMENT KEY needs P1 FF, P2 FF or FE");
  }
  requireManagementAuth(ctx, "changing the management key");
  const [algorithm, ref, length] = cmd.data;
  const key = cmd.data.subarray(3);
  const cipher = algorithm === undefined ? undefined : managementKeyCipher(algorithm);
  if (cipher === undefined || ref !== 0x9b || length !== key.length || key.length !== cipher.keyLength) {
    throw new CardStatus(Sw.wrongData, "expected algorithm, 9B, key length and key");
  }
  if (cipher.algorithm !== 0x03 && !Features.aesManagementKey(ctx.state.config.firmware)) {
    throw new CardStatus(Sw.wrongData, "AES management keys need firmware 5.4");
  }
  ctx.state.managementKey = {
    algorithm: cipher.algorithm,
    key: Uint8Array.from(key),
    touchPolicy: cmd.p2 === 0xfe ? TouchPolicy.always : TouchPolicy.never,
  };
  return NONE;
}

/**
 * SET PIN RETRIES: P1 PIN tries, P2 PUK tries. Needs the management key and a verified PIN, and —
 * as on a real YubiKey — puts the PIN and PUK back to their factory values.
 * @throws CardStatus 6982 without both authentications, 6A86 for zero tries.
 */
export async function setPinRetries(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  requireManagementAuth(ctx, "setting PIN retries");
  if (!ctx.state.volatile.pinVerified)
    throw new CardStatus(Sw.securityStatusNotSatisfied, "setting PIN retries needs the PIN");
  if (cmd.p1 === 0 || cmd.p2 === 0) throw new CardStatus(Sw.incorrectP1P2, "retry counts must be 1 to 255");
  ctx.state.pin.restoreFactory(cmd.p1);
  ctx.state.puk.restoreFactory(cmd.p2);
  ctx.state.volatile.pinVerified = false;
  ctx.state.volatile.pinAlwaysGrant = false;
  return NONE;
}

/**
 * RESET the PIV application to factory state; allowed only when PIN and PUK are both blocked.
 * Keeps the attestation key and certificate.
 * @throws CardStatus 6985 while the PIN or the PUK still has tries.
 */
export async function resetApplication(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) throw new CardStatus(Sw.incorrectP1P2, "RESET needs P1P2 0000");
  const { state } = ctx;
  if (!state.pin.blocked || !state.puk.blocked) {
    throw new CardStatus(Sw.conditionsNotSatisfied, "reset needs both PIN and PUK blocked");
  }
  for (const slot of [...state.keys.keys()]) if (slot !== ATTESTATION_SLOT) state.keys.delete(slot);
  state.objects.clearExcept([ATTESTATION_OBJECT, DISCOVERY_OBJECT]);
  state.pin.restoreFactory(state.config.defaultPinRetries);
  state.puk.restoreFactory(state.config.defaultPukRetries);
  state.managementKey = factoryManagementKey(state.config.firmware);
  state.volatile.clear();
  return NONE;
}

/**
 * IMPORT ASYMMETRIC KEY: P1 algorithm, P2 slot; RSA as CRT components 01–05, EC as scalar 06,
 * optional AA/AB policies. Imported keys are marked so ATTEST refuses them.
 * @throws CardStatus 6982 without management authentication, 6A80 malformed or inconsistent key.
 */
export async function importAsymmetricKey(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (!isAsymmetricSlot(cmd.p2) && cmd.p2 !== ATTESTATION_SLOT)
    throw new CardStatus(Sw.incorrectP1P2, "not a key slot");
  requireManagementAuth(ctx, "importing a key");
  const spec = requireKeySpec(ctx, cmd.p1);
  const parts = new Map<number, Uint8Array>();
  try {
    for (const t of decodeAll(cmd.data)) parts.set(t.tag, t.value);
  } catch {
    throw new CardStatus(Sw.wrongData, "key components are not TLV");
  }
  const one = (tag: number) => {
    const v = parts.get(tag);
    if (v !== undefined && v.length !== 1) throw new CardStatus(Sw.wrongData, "policy must be one byte");
    return v?.[0];
  };
  const { pinPolicy, touchPolicy } = resolvePolicies(cmd.p2, one(0xaa), one(0xab));
  const need = (tag: number) => {
    const v = parts.get(tag);
    if (v === undefined) throw new CardStatus(Sw.wrongData, `key component ${tag} missing`);
    return v;
  };
  let privateKey: SlotKey["privateKey"];
  try {
    privateKey =
      spec.kind === "rsa"
        ? rsaKeyFromCrt(spec.bits, { p: need(1), q: need(2), dp: need(3), dq: need(4), qi: need(5) })
        : ecKeyFromScalar(spec.curve, need(6));
  } catch (err) {
    if (err instanceof CardStatus) throw err;
    throw new CardStatus(Sw.wrongData, "key components are inconsistent");
  }
  ctx.state.keys.set(cmd.p2, {
    algorithm: cmd.p1,
    privateKey,
    publicKey: createPublicKey(privateKey),
    pinPolicy,
    touchPolicy,
    origin: "imported",
  });
  return NONE;
}

/**
 * ATTEST: P1 slot. Returns the DER attestation certificate of a key generated on the card.
 * @throws CardStatus 6A88 empty slot, 6A80 imported key, 6A86 bad slot.
 */
export async function attest(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  const { state } = ctx;
  if (!isAsymmetricSlot(cmd.p1) || cmd.p2 !== 0x00) throw new CardStatus(Sw.incorrectP1P2, "not an attestable slot");
  const key = state.keys.get(cmd.p1);
  if (key === undefined) throw new CardStatus(Sw.referenceNotFound, "slot is empty");
  if (key.origin !== "generated") throw new CardStatus(Sw.wrongData, "imported keys cannot be attested");
  const f9 = state.keys.get(ATTESTATION_SLOT);
  const f9Object = state.objects.get(ATTESTATION_OBJECT);
  const f9Cert = f9Object === undefined ? undefined : decodeAll(f9Object).find((t) => t.tag === 0x70)?.value;
  if (f9 === undefined || f9Cert === undefined) {
    throw new CardStatus(Sw.conditionsNotSatisfied, "card has no attestation key or certificate");
  }
  const der = await attestSlot({
    slot: cmd.p1,
    publicKey: key.publicKey,
    pinPolicy: key.pinPolicy,
    touchPolicy: key.touchPolicy,
    firmware: state.config.firmware,
    serial: state.config.serial,
    attestationKey: f9.privateKey,
    attestationCertificate: f9Cert,
  });
  await ctx.delay(ctx.latency.signatureMs?.[keySpecFor(f9.algorithm)?.name ?? "ECCP256"] ?? 0);
  return der;
}
