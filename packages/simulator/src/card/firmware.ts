/**
 * YubiKey firmware versions and the PIV features they gate (Yubico PIV documentation and
 * yubikit `piv.py` feature checks): metadata from 5.3, AES management keys from 5.4, and the
 * factory management key switching from TDES to AES-192 in 5.7.
 */

/** A firmware version, major.minor.patch. */
export interface FirmwareVersion {
  major: number;
  minor: number;
  patch: number;
}

/**
 * Parse "5.7.1".
 * @throws RangeError when the text is not three dot-separated numbers below 256.
 */
export function parseFirmware(text: string): FirmwareVersion {
  const parts = text.split(".").map((p) => Number(p));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`firmware version must look like 5.7.1, got "${text}"`);
  }
  const [major, minor, patch] = parts as [number, number, number];
  return { major, minor, patch };
}

/** Whether `fw` is at least `major.minor`. */
export function atLeast(fw: FirmwareVersion, major: number, minor: number): boolean {
  return fw.major > major || (fw.major === major && fw.minor >= minor);
}

/** Feature gates, each with the firmware that introduced it. */
export const Features = {
  /** GET METADATA (INS F7), YubiKey 5.3. */
  metadata: (fw: FirmwareVersion) => atLeast(fw, 5, 3),
  /** AES management keys, YubiKey 5.4. */
  aesManagementKey: (fw: FirmwareVersion) => atLeast(fw, 5, 4),
  /** AES-192 factory management key, YubiKey 5.7 (TDES before). */
  aesDefaultManagementKey: (fw: FirmwareVersion) => atLeast(fw, 5, 7),
  /** RSA 3072/4096 keys, YubiKey 5.7. */
  largeRsa: (fw: FirmwareVersion) => atLeast(fw, 5, 7),
  /** Attestation (INS F9), YubiKey 4.3. */
  attestation: (fw: FirmwareVersion) => atLeast(fw, 4, 3),
} as const;
