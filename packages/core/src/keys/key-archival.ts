/**
 * Key archival for key-management (encryption) certificates: the key pair is generated off the
 * card with WebCrypto, its PKCS #8 form (RFC 5958) wrapped by the {@link SecretVault}, the wrapped
 * copy saved, and only then imported to the card — so a key on a card is always recoverable, and
 * a lost card's encrypted mail or files can be decrypted with a replacement card holding the same
 * key (the key recovery of SP 800-57 Part 1 §8.3.2 / §9.3.2). The clear PKCS #8 is zeroed as
 * soon as it has been wrapped and imported.
 *
 * Only key-management keys are archived: a copy of a signing key outside the card would let its
 * holder sign as the user, which breaks non-repudiation (SP 800-57 Part 1 §8.3.1 forbids
 * archiving private signature keys).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { CardwrightError } from "../errors.js";
import { spkiEquals } from "../pki/certificate.js";
import type { Device, DevicePublicKey, KeyAlgorithm, SlotId } from "../ports/device.js";
import type { SecretVault, WrappedSecret } from "../ports/secret-vault.js";

/** A key pair generated off the device. `pkcs8` is secret: zero it with {@link zeroKey} after use. */
export interface OffCardKeyPair {
  algorithm: KeyAlgorithm;
  /** DER PKCS #8 PrivateKeyInfo (RFC 5958). */
  pkcs8: Uint8Array;
  /** DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
  spki: Uint8Array;
}

const RSA_BITS: Partial<Record<KeyAlgorithm, number>> = { RSA2048: 2048, RSA3072: 3072 };
const EC_CURVES: Partial<Record<KeyAlgorithm, string>> = { ECCP256: "P-256", ECCP384: "P-384" };
const NODE_CURVES: Partial<Record<KeyAlgorithm, string>> = { ECCP256: "prime256v1", ECCP384: "secp384r1" };

/**
 * Generate a key pair of `algorithm` with WebCrypto. RSA keys use e = 65537 (RFC 8017; the only
 * exponent YubiKeys import); EC keys are on the named NIST curve. The algorithm named in the
 * WebCrypto call does not reach the PKCS #8: RSA keys carry rsaEncryption and EC keys
 * id-ecPublicKey, so the card may use them for decryption or key agreement.
 * @throws CardwrightError `CONFIG_INVALID` for an algorithm cardwright does not know.
 */
export async function generateOffCardKeyPair(algorithm: KeyAlgorithm): Promise<OffCardKeyPair> {
  const subtle = globalThis.crypto.subtle;
  const bits = RSA_BITS[algorithm];
  const curve = EC_CURVES[algorithm];
  let pair: CryptoKeyPair;
  if (bits !== undefined) {
    pair = await subtle.generateKey(
      { name: "RSA-OAEP", modulusLength: bits, publicExponent: Uint8Array.of(1, 0, 1), hash: "SHA-256" },
      true,
      ["encrypt", "decrypt"],
    );
  } else if (curve !== undefined) {
    pair = await subtle.generateKey({ name: "ECDH", namedCurve: curve }, true, ["deriveBits"]);
  } else {
    throw new CardwrightError("CONFIG_INVALID", `cannot generate ${algorithm} keys off the card`, {
      details: { keyAlgorithm: algorithm },
    });
  }
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
  const spki = new Uint8Array(await subtle.exportKey("spki", pair.publicKey));
  return { algorithm, pkcs8, spki };
}

/** Overwrite a clear private key with zeros. */
export function zeroKey(key: Uint8Array): void {
  key.fill(0);
}

/**
 * The vault context an archived key is wrapped under: bound to the card it was issued for and the
 * request (= certificate record id), so a wrapped key cannot be unwrapped as another's.
 */
export function archivedKeyContext(cardId: string, requestId: string): string {
  return `cardwright:card:${cardId}:request:${requestId}:archived-key`;
}

/** Wrap a PKCS #8 key for archival under {@link archivedKeyContext}. */
export function wrapArchivedKey(
  vault: SecretVault,
  pkcs8: Uint8Array,
  at: { cardId: string; requestId: string },
): Promise<WrappedSecret> {
  return vault.wrap(pkcs8, archivedKeyContext(at.cardId, at.requestId));
}

/**
 * Unwrap an archived key (for re-import on a resumed issue, or key recovery to a replacement
 * card). The caller owns the clear PKCS #8 and must {@link zeroKey} it.
 * @throws CardwrightError `VAULT_UNWRAP_FAILED` when the wrapped key is not this card's and request's.
 */
export function unwrapArchivedKey(
  vault: SecretVault,
  wrapped: WrappedSecret,
  at: { cardId: string; requestId: string },
): Promise<Uint8Array> {
  return vault.unwrap(wrapped, archivedKeyContext(at.cardId, at.requestId));
}

/**
 * Import `pkcs8` into `slot` and check the device now holds its public half. Zeroes `pkcs8`
 * whatever happens. Requires admin authentication on the device.
 * @throws CardwrightError `DEVICE_CAPABILITY` when the device cannot import keys; the device's
 * own error when it refuses; `DEVICE_CAPABILITY` when it reports a different key than imported.
 */
export async function importKeyToDevice(device: Device, slot: SlotId, key: OffCardKeyPair): Promise<DevicePublicKey> {
  try {
    if (device.capabilities.keyImport !== true || device.importKeyPair === undefined) {
      throw new CardwrightError(
        "DEVICE_CAPABILITY",
        "the device cannot import private keys, which key archival needs",
        {
          details: { capability: "keyImport", slot, deviceSerial: device.identity.serial },
        },
      );
    }
    const publicKey = await device.importKeyPair(slot, key.algorithm, key.pkcs8);
    if (publicKey.algorithm !== key.algorithm || !spkiEquals(publicKey.spki, key.spki)) {
      throw new CardwrightError(
        "DEVICE_CAPABILITY",
        `the device reports another key in slot ${slot} than was imported`,
        {
          details: { slot, keyAlgorithm: key.algorithm, deviceSerial: device.identity.serial },
        },
      );
    }
    return publicKey;
  } finally {
    zeroKey(key.pkcs8);
  }
}

/**
 * The public half of an archived PKCS #8 key, for re-importing or checking a recovered key.
 * @throws CardwrightError `VAULT_UNWRAP_FAILED` when the bytes are not a PKCS #8 key of `algorithm`.
 */
export function publicKeyOfPkcs8(algorithm: KeyAlgorithm, pkcs8: Uint8Array): Uint8Array {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  } catch {
    throw notKeyOf(algorithm);
  }
  const details = key.asymmetricKeyDetails ?? {};
  const matches =
    RSA_BITS[algorithm] !== undefined
      ? key.asymmetricKeyType === "rsa" && details.modulusLength === RSA_BITS[algorithm]
      : key.asymmetricKeyType === "ec" && details.namedCurve === NODE_CURVES[algorithm];
  if (!matches) throw notKeyOf(algorithm);
  return new Uint8Array(createPublicKey(key).export({ format: "der", type: "spki" }));
}

function notKeyOf(algorithm: KeyAlgorithm): CardwrightError {
  return new CardwrightError("VAULT_UNWRAP_FAILED", `the archived key is not an ${algorithm} PKCS #8 key`, {
    details: { keyAlgorithm: algorithm },
  });
}
