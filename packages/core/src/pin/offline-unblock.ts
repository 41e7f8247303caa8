/**
 * Offline, helpdesk-assisted PIN unblock: a challenge–response code exchange for a card holder
 * with no connection. PIV cannot reset a PIN without the PUK (SP 800-73-4 Part 2 §3.2.3, RESET
 * RETRY COUNTER), so the response carries the card's PUK — the random one kept wrapped in the
 * vault — encrypted for this one challenge; the agent recovers it, unblocks the PIN with the new
 * PIN the holder chooses, and forgets it.
 *
 * The exchange:
 * 1. Agent (offline, no store): {@link createUnblockChallenge} reads the card's serial and makes a
 *    fresh 64-bit random nonce. The challenge code is nonce ‖ a 16-bit tag of the serial, 17
 *    characters; the agent keeps the nonce until the response comes back.
 * 2. Helpdesk (online, after the holder's security answers check out): {@link makeUnblockResponse}
 *    checks the serial tag against the card the helpdesk named, then encrypts the PUK with
 *    AES-256-GCM under a key and IV derived by HKDF-SHA-256 (RFC 5869) from nonce ‖ a fresh 32-bit
 *    salt, salted with SHA-256 of the serial; the challenge payload is the additional data and the
 *    tag is cut to 64 bits (NIST SP 800-38D §5.2.1.2, Appendix C). The response is salt ‖ packed
 *    PUK ‖ tag, 27 characters.
 * 3. Agent: {@link redeemUnblockResponse} checks the card is the challenge's, decrypts, and runs
 *    RESET RETRY COUNTER with the PUK and the new PIN.
 *
 * Threat model. What the exchange protects against:
 * - Typos: each code ends in a check character over GF(32) (every single substitution and adjacent
 *   swap is caught) and has a fixed length; a wrongly read response that slips past the check
 *   fails GCM authentication, so a typo never reaches the card (it would cost a PUK try).
 * - Tampering and forgery: changing any bit of a response fails authentication (64-bit tag: a
 *   forger succeeds with probability 2⁻⁶⁴ per try).
 * - Replay on another card or another challenge: the key depends on the nonce and the serial, and
 *   the challenge is authenticated data, so a response opens only the challenge it was made for
 *   on the card it was made for; the helpdesk refuses a challenge whose serial tag is not the
 *   named card's (a user reading the wrong card's code), and the agent refuses a card whose serial
 *   is not the challenge's.
 * - The helpdesk operator never sees the PUK: the helpdesk API returns only the response code, and
 *   neither code, the PUK nor the key appears in an audit event, log line or store row.
 *
 * What it does not protect against:
 * - Someone who hears or records both the challenge and the response (the operator, or anyone on
 *   the call) holds everything needed to compute the key: the scheme has no secret of its own,
 *   because a short code cannot carry a public-key exchange. The PUK is useful only with the card
 *   itself, and it is therefore treated as disclosed from the moment a response is issued: the
 *   card record gets `pukDisclosedAt`, and the next operation with the card in a reader (or
 *   `rotatePuk`) replaces it with a fresh random PUK.
 * - A helpdesk operator who abuses the permission: with the holder's answers they can make a
 *   response for any challenge of that card. That is what the `offline-unblock` permission grants;
 *   every response issued is audited with the actor.
 * - Someone who holds the card and passes the security-answer check: that is the holder the
 *   exchange is for. The answer check (slow hashes, attempt counting, lockout) is the gate.
 * - A nonce that is not fresh: the agent must make a new challenge per attempt (the function does).
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from "node:crypto";
import type { PinPolicy } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import { validatePin } from "../policy/pin-policy.js";
import type { Device } from "../ports/device.js";
import type { Random } from "../ports/runtime.js";
import { cryptoRandom } from "../runtime/crypto-random.js";
import { codeError, decodeCode, encodeCode } from "./unblock-code.js";

const NONCE_BYTES = 8;
const SERIAL_TAG_BYTES = 2;
const SALT_BYTES = 4;
const PACKED_PUK_BYTES = 4;
const TAG_BYTES = 8;
/** Bytes of a challenge payload: nonce ‖ serial tag. */
export const CHALLENGE_BYTES = NONCE_BYTES + SERIAL_TAG_BYTES;
/** Bytes of a response payload: salt ‖ encrypted packed PUK ‖ GCM tag. */
export const RESPONSE_BYTES = SALT_BYTES + PACKED_PUK_BYTES + TAG_BYTES;

const DOMAIN = "cardwright/offline-unblock/v1";

/** What the agent keeps between making a challenge and redeeming its response. Not secret on its own. */
export interface UnblockChallenge {
  /** The code the holder reads to the helpdesk, e.g. `"7K2M-9QXR-4HZT-0B1C-V"`. */
  code: string;
  /** Serial of the card the challenge was made on. */
  deviceSerial: string;
  /** The nonce, base64. */
  nonce: string;
}

/** A challenge code as the helpdesk side reads it. */
export interface ChallengeFacts {
  /** The nonce (8 bytes). */
  nonce: Uint8Array;
  /** Challenge payload: the GCM additional data. */
  payload: Uint8Array;
  /** A short, non-secret fingerprint of the challenge for audit events (16 hex digits). */
  fingerprint: string;
}

function serialTag(serial: string): Uint8Array {
  return createHash("sha256").update(`${DOMAIN}/serial\0${serial}`).digest().subarray(0, SERIAL_TAG_BYTES);
}

function keyAndIv(nonce: Uint8Array, salt: Uint8Array, serial: string): { key: Buffer; iv: Buffer } {
  const okm = Buffer.from(
    hkdfSync(
      "sha256",
      Buffer.concat([nonce, salt]),
      createHash("sha256").update(serial).digest(),
      Buffer.from(`${DOMAIN}/response`),
      44,
    ),
  );
  return { key: okm.subarray(0, 32), iv: okm.subarray(32, 44) };
}

/**
 * A PUK of 6 to 8 digits (SP 800-73-4 Part 2 §3.2.3 allows 6–8 bytes; the PUKs cardwright sets are
 * 8 digits) in 4 bytes: two bits of length, thirty of value.
 */
function packPuk(puk: string): Uint8Array {
  if (!/^[0-9]{6,8}$/.test(puk)) {
    throw new CardwrightError(
      "DEVICE_CAPABILITY",
      "offline unblock carries PUKs of 6 to 8 digits; this card's PUK is not one (rotate it to a random PUK first)",
      { details: { rule: "puk-format" } },
    );
  }
  const value = ((puk.length - 6) << 30) | Number(puk);
  const out = new Uint8Array(PACKED_PUK_BYTES);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}

function unpackPuk(packed: Uint8Array): string {
  const word = new DataView(packed.buffer, packed.byteOffset, packed.byteLength).getUint32(0);
  const length = (word >>> 30) + 6;
  const value = word & 0x3fffffff;
  if (length > 8 || value >= 10 ** length) throw codeError("response", "authentication", "does not open to a PUK");
  return value.toString().padStart(length, "0");
}

/**
 * Agent side, offline: make a challenge for the card in the reader. Make a new one for every
 * attempt; keep it until the helpdesk's response is redeemed.
 */
export function createUnblockChallenge(
  device: Pick<Device, "identity">,
  random: Random = cryptoRandom,
): UnblockChallenge {
  const nonce = random.bytes(NONCE_BYTES);
  if (nonce.length !== NONCE_BYTES) throw new RangeError("random source returned the wrong number of bytes");
  const payload = new Uint8Array(CHALLENGE_BYTES);
  payload.set(nonce, 0);
  payload.set(serialTag(device.identity.serial), NONCE_BYTES);
  return {
    code: encodeCode(payload),
    deviceSerial: device.identity.serial,
    nonce: Buffer.from(nonce).toString("base64"),
  };
}

/**
 * Helpdesk side: read a challenge code the holder read out, for the card with `deviceSerial`.
 * @throws CardwrightError `OFFLINE_CODE_INVALID` — `details.problem` `format`/`length`/`check` for a
 * mistyped code, `card` when the code was made on another card.
 */
export function readUnblockChallenge(code: string, deviceSerial: string): ChallengeFacts {
  const payload = decodeCode(code, CHALLENGE_BYTES, "challenge");
  const tag = payload.subarray(NONCE_BYTES);
  if (!Buffer.from(tag).equals(Buffer.from(serialTag(deviceSerial)))) {
    throw codeError(
      "challenge",
      "card",
      "was made on another card than the one named; check which card the holder has",
    );
  }
  return {
    nonce: payload.slice(0, NONCE_BYTES),
    payload,
    fingerprint: createHash("sha256").update(payload).digest("hex").slice(0, 16),
  };
}

/**
 * Helpdesk side: the response code that lets the agent holding the challenge recover `puk` on the
 * card with `deviceSerial`. `puk` is secret: the caller drops it after this call.
 * @throws CardwrightError `OFFLINE_CODE_INVALID` as {@link readUnblockChallenge}; `DEVICE_CAPABILITY`
 * when the PUK is not 6–8 digits.
 */
export function makeUnblockResponse(
  challengeCode: string,
  deviceSerial: string,
  puk: string,
  random: Random = cryptoRandom,
): string {
  const challenge = readUnblockChallenge(challengeCode, deviceSerial);
  const salt = random.bytes(SALT_BYTES);
  const { key, iv } = keyAndIv(challenge.nonce, salt, deviceSerial);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(challenge.payload);
  const packed = packPuk(puk);
  const ciphertext = Buffer.concat([cipher.update(packed), cipher.final()]);
  packed.fill(0);
  return encodeCode(Buffer.concat([salt, ciphertext, cipher.getAuthTag()]));
}

/** Recover the PUK a response carries for `challenge` (agent side; exported for tests). */
export function openUnblockResponse(challenge: UnblockChallenge, responseCode: string): string {
  const response = decodeCode(responseCode, RESPONSE_BYTES, "response");
  const nonce = Buffer.from(challenge.nonce, "base64");
  const payload = new Uint8Array(CHALLENGE_BYTES);
  payload.set(nonce, 0);
  payload.set(serialTag(challenge.deviceSerial), NONCE_BYTES);
  const salt = response.subarray(0, SALT_BYTES);
  const ciphertext = response.subarray(SALT_BYTES, SALT_BYTES + PACKED_PUK_BYTES);
  const tag = response.subarray(SALT_BYTES + PACKED_PUK_BYTES);
  const { key, iv } = keyAndIv(nonce, salt, challenge.deviceSerial);
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(payload);
  decipher.setAuthTag(tag);
  let packed: Buffer;
  try {
    packed = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw codeError(
      "response",
      "authentication",
      "was not made for this challenge on this card (or was mistyped); ask the helpdesk to read it again",
    );
  }
  const puk = unpackPuk(packed);
  packed.fill(0);
  return puk;
}

/** Options of {@link redeemUnblockResponse}. */
export interface RedeemUnblockOptions {
  /** The card the challenge was made on, in a reader. */
  device: Device;
  challenge: UnblockChallenge;
  /** The response code the helpdesk read out. */
  responseCode: string;
  /** The PIN the holder chooses. Secret: never stored. */
  newPin: string;
  /** The card's PIN policy, when the agent has it: the new PIN is checked before the card is touched. */
  pinPolicy?: PinPolicy;
}

/**
 * Agent side, offline: redeem the helpdesk's response on the card — recover the PUK and set the
 * holder's new PIN with it (RESET RETRY COUNTER, SP 800-73-4 Part 2 §3.2.3). The card is touched
 * only once the response has authenticated.
 * @throws CardwrightError `DEVICE_CAPABILITY` (the device cannot unblock), `DEVICE_MISMATCH` (not
 * the challenge's card), `OFFLINE_CODE_INVALID` (mistyped, tampered with, or another challenge's
 * response), `POLICY_RULE` (new PIN against `pinPolicy`); device errors (`PIV_WRONG_PIN` with
 * `details.retriesLeft` when the card's PUK was rotated since the response was made).
 */
export async function redeemUnblockResponse(options: RedeemUnblockOptions): Promise<void> {
  const { device, challenge } = options;
  if (!device.capabilities.pinUnblock) {
    throw new CardwrightError("DEVICE_CAPABILITY", `device ${device.identity.serial} cannot unblock its PIN`, {
      details: { deviceSerial: device.identity.serial, capability: "pinUnblock" },
    });
  }
  if (device.identity.serial !== challenge.deviceSerial) {
    throw new CardwrightError(
      "DEVICE_MISMATCH",
      `the reader holds serial ${device.identity.serial}, not the card the challenge was made on (${challenge.deviceSerial})`,
      { details: { deviceSerial: device.identity.serial, expectedSerial: challenge.deviceSerial } },
    );
  }
  if (options.pinPolicy !== undefined) validatePin(options.newPin, options.pinPolicy);
  const puk = openUnblockResponse(challenge, options.responseCode);
  await device.unblockPin(puk, options.newPin);
}
