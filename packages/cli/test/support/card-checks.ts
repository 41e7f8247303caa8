/** Checks on an issued card that every end-to-end path (in memory, through pcscd) makes the same way. */
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { type CertificateRecord, type Device, type KeyAlgorithm, parseCertificate } from "@cardwright/core";
import { expect } from "vitest";

/**
 * Each slot signs a random message under `pin` (verified before each signature: 9C is
 * PIN-always), and the signature verifies with the public key of the certificate recorded for it.
 */
export async function expectSlotSignaturesVerify(
  device: Device,
  certificates: readonly CertificateRecord[],
  pin: string,
  slots: readonly (readonly [string, KeyAlgorithm])[] = [
    ["9a", "ECCP256"],
    ["9c", "RSA2048"],
  ],
): Promise<void> {
  const message = randomBytes(300);
  for (const [slot, alg] of slots) {
    await device.verifyPin(pin);
    const signature = await device.sign(slot, alg, "SHA-256", message);
    const record = certificates.find((c) => c.slot === slot);
    expect(record?.certificate, `certificate recorded for slot ${slot}`).toBeDefined();
    const spki = parseCertificate(Uint8Array.from(Buffer.from(record!.certificate!, "base64"))).spki;
    const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    expect(verify("sha256", message, key, Buffer.from(signature)), `signature of slot ${slot}`).toBe(true);
  }
}
