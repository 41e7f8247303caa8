/**
 * The software store's errors: every one a {@link CardwrightError} with a `SOFTSTORE_*` (or
 * `DEVICE_CAPABILITY`) code, the file or directory involved, and what to do. None carries the
 * password.
 */
import { CardwrightError } from "@cardwright/core";

/**
 * The password does not open the store or file: the PFX MAC (RFC 7292 §4) or the store's
 * password check does not verify. A software store has no retry counter, so no tries are counted.
 */
export function wrongPassword(where: string, cause?: unknown): CardwrightError {
  return new CardwrightError(
    "SOFTSTORE_WRONG_PASSWORD",
    `the password does not open ${where} (or the file was altered); use the store's password`,
    { details: { file: where }, cause },
  );
}

/** A file of the store cannot be read as PKCS#12 or store metadata. */
export function corrupt(file: string, problem: string, cause?: unknown): CardwrightError {
  return new CardwrightError(
    "SOFTSTORE_CORRUPT",
    `${file} ${problem}; restore it from a backup or remove it from the store`,
    { details: { file }, cause },
  );
}

/** The slot holds no key (or no file at all) for an operation that needs one. */
export function slotEmpty(slot: string, directory: string, needs: string): CardwrightError {
  return new CardwrightError(
    "SOFTSTORE_SLOT_EMPTY",
    `slot ${slot} of the software store ${directory} has no private key, which ${needs} needs; generate a key pair in it first`,
    { details: { slot, directory } },
  );
}

/** The certificate does not certify the key in the slot. */
export function keyMismatch(slot: string, directory: string): CardwrightError {
  return new CardwrightError(
    "SOFTSTORE_KEY_MISMATCH",
    `the certificate does not certify the key in slot ${slot} of the software store ${directory}; write the certificate issued for that key`,
    { details: { slot, directory } },
  );
}

/** The store directory is missing, not a store, not writable, or already a store. */
export function unavailable(directory: string, reason: string, message: string, cause?: unknown): CardwrightError {
  return new CardwrightError("SOFTSTORE_UNAVAILABLE", `software store ${directory}: ${message}`, {
    details: { directory, reason },
    cause,
  });
}

/** The store cannot do what was asked; `capability` names the {@link DeviceCapabilities} field. */
export function missingCapability(capability: string, message: string): CardwrightError {
  return new CardwrightError("DEVICE_CAPABILITY", `a software certificate store ${message}`, {
    details: { capability },
  });
}
