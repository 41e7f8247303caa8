/**
 * GENERAL AUTHENTICATE (SP 800-73-4 Part 2 §3.2.4) with the dynamic authentication template 7C.
 * Key 9B: card-administration authentication — mutual (Appendix A.2: the card sends an
 * enciphered witness 80, the host returns it deciphered with its own challenge 81, the card
 * answers the enciphered challenge 82) or external (Appendix A.1: challenge 81 out, its
 * encipherment 82 back). Slot keys: 81 → raw RSA or ECDSA over the digest, 85 → ECDH (§A.3–A.5).
 */
import { randomBytes } from "node:crypto";
import { decodeAll, Sw, tlv } from "@cardwright/pcsc";
import { bytesEqual } from "../crypto/ecdsa-digest.js";
import { decryptBlocks, encryptBlocks, managementKeyCipher } from "../crypto/management-key-cipher.js";
import { ecdhSharedSecret, ecSignDigest, keySpecFor, rsaRawPrivate } from "../crypto/slot-keys.js";
import type { CardContext } from "./card-state.js";
import type { CommandApdu } from "./command-apdu.js";
import { enforcePinPolicy, enforceTouchPolicy, isAsymmetricSlot } from "./key-slots.js";
import { CardStatus } from "./status.js";

const MANAGEMENT_KEY = 0x9b;
const Witness = 0x80;
const Challenge = 0x81;
const Response = 0x82;
const Exponentiation = 0x85;

function parseTemplate(data: Uint8Array): Map<number, Uint8Array> {
  try {
    const [outer, ...rest] = decodeAll(data);
    if (outer === undefined || outer.tag !== 0x7c || rest.length > 0) throw new Error("not 7C");
    const map = new Map<number, Uint8Array>();
    for (const t of decodeAll(outer.value)) map.set(t.tag, t.value);
    return map;
  } catch {
    throw new CardStatus(Sw.wrongData, "expected a dynamic authentication template (7C)");
  }
}

async function authenticateManagementKey(ctx: CardContext, cmd: CommandApdu, t: Map<number, Uint8Array>) {
  const { state } = ctx;
  const v = state.volatile;
  const pending = v.pendingManagementAuth;
  v.pendingManagementAuth = undefined;
  const mk = state.managementKey;
  if (cmd.p1 !== mk.algorithm) throw new CardStatus(Sw.wrongData, "algorithm does not match the management key");
  const cipher = managementKeyCipher(mk.algorithm);
  if (cipher === undefined) throw new CardStatus(Sw.noPreciseDiagnosis, "management key algorithm is unknown");
  const witness = t.get(Witness);
  const challenge = t.get(Challenge);
  const response = t.get(Response);

  // Step 1 of mutual authentication: host asks for a witness.
  if (witness?.length === 0 && challenge === undefined && response === undefined) {
    v.managementAuthenticated = false;
    const plain = new Uint8Array(randomBytes(cipher.blockLength));
    v.pendingManagementAuth = { kind: "mutual", algorithm: mk.algorithm, expected: plain };
    return tlv(0x7c, tlv(Witness, encryptBlocks(cipher, mk.key, plain)));
  }
  // Step 2 of mutual authentication: deciphered witness and the host's challenge.
  if (witness !== undefined && witness.length > 0 && challenge !== undefined && challenge.length > 0) {
    if (pending?.kind !== "mutual" || pending.algorithm !== mk.algorithm || !bytesEqual(witness, pending.expected)) {
      throw new CardStatus(Sw.securityStatusNotSatisfied, "management key authentication failed");
    }
    if (challenge.length !== cipher.blockLength) throw new CardStatus(Sw.wrongData, "challenge must be one block");
    await enforceTouchPolicy(ctx, MANAGEMENT_KEY, mk.touchPolicy);
    v.managementAuthenticated = true;
    return tlv(0x7c, tlv(Response, encryptBlocks(cipher, mk.key, challenge)));
  }
  // Step 1 of external authentication: host asks for a challenge.
  if (challenge?.length === 0 && witness === undefined && response === undefined) {
    v.managementAuthenticated = false;
    const plain = new Uint8Array(randomBytes(cipher.blockLength));
    v.pendingManagementAuth = { kind: "external", algorithm: mk.algorithm, expected: plain };
    return tlv(0x7c, tlv(Challenge, plain));
  }
  // Step 2 of external authentication: the enciphered challenge.
  if (response !== undefined && response.length > 0 && witness === undefined && challenge === undefined) {
    if (pending?.kind !== "external" || pending.algorithm !== mk.algorithm || response.length !== cipher.blockLength) {
      throw new CardStatus(Sw.securityStatusNotSatisfied, "management key authentication failed");
    }
    const plain = decryptBlocks(cipher, mk.key, response);
    if (!bytesEqual(plain, pending.expected)) {
      throw new CardStatus(Sw.securityStatusNotSatisfied, "management key authentication failed");
    }
    await enforceTouchPolicy(ctx, MANAGEMENT_KEY, mk.touchPolicy);
    v.managementAuthenticated = true;
    return new Uint8Array(0);
  }
  throw new CardStatus(Sw.wrongData, "unexpected dynamic authentication template for key 9B");
}

async function privateKeyOperation(ctx: CardContext, cmd: CommandApdu, t: Map<number, Uint8Array>) {
  const key = ctx.state.keys.get(cmd.p2);
  if (key === undefined) throw new CardStatus(Sw.wrongData, "no key in this slot");
  if (cmd.p1 !== key.algorithm) throw new CardStatus(Sw.wrongData, "algorithm does not match the slot's key");
  const spec = keySpecFor(key.algorithm);
  if (spec === undefined) throw new CardStatus(Sw.noPreciseDiagnosis, "slot holds an unknown key type");
  const response = t.get(Response);
  const challenge = t.get(Challenge);
  const exponentiation = t.get(Exponentiation);
  if (response === undefined || response.length !== 0) {
    throw new CardStatus(Sw.wrongData, "template must request a response (82 00)");
  }
  if ((challenge === undefined) === (exponentiation === undefined)) {
    throw new CardStatus(Sw.wrongData, "template needs exactly one of 81 or 85");
  }
  enforcePinPolicy(ctx, key);
  await enforceTouchPolicy(ctx, cmd.p2, key.touchPolicy);
  let result: Uint8Array;
  try {
    if (spec.kind === "rsa") {
      if (challenge === undefined) throw new RangeError("RSA keys take tag 81");
      result = rsaRawPrivate(key.privateKey, challenge, spec.bits);
    } else if (challenge !== undefined) {
      if (challenge.length === 0 || challenge.length > spec.curve.size) {
        throw new RangeError("digest must be 1 to field-size bytes");
      }
      result = ecSignDigest(key.privateKey, spec.curve, challenge);
    } else {
      result = ecdhSharedSecret(key.privateKey, spec.curve, exponentiation as Uint8Array);
    }
  } catch (err) {
    if (err instanceof RangeError) throw new CardStatus(Sw.wrongData, err.message);
    throw err;
  }
  await ctx.delay(ctx.latency.signatureMs?.[spec.name] ?? 0);
  return tlv(0x7c, tlv(Response, result));
}

/**
 * GENERAL AUTHENTICATE: P1 algorithm, P2 key reference.
 * @throws CardStatus 6982 on failed authentication or missing PIN, 6A80 on a bad template,
 * algorithm mismatch or empty slot, 6A86 for an unusable key reference.
 */
export async function generalAuthenticate(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  const template = parseTemplate(cmd.data);
  if (cmd.p2 === MANAGEMENT_KEY) return authenticateManagementKey(ctx, cmd, template);
  // The attestation key (F9) signs attestations only, never on the host's behalf.
  if (!isAsymmetricSlot(cmd.p2)) throw new CardStatus(Sw.incorrectP1P2, "not a usable key reference");
  return privateKeyOperation(ctx, cmd, template);
}
