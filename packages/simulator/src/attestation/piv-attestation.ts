/**
 * The slot attestation certificate a YubiKey returns for ATTEST (INS F9), as Yubico documents
 * it ("PIV attestation"): subject "YubiKey PIV Attestation <slot>", issued by the card's F9
 * certificate and signed with the F9 key, validity copied from the F9 certificate, and
 * Yubico's extensions under 1.3.6.1.4.1.41482.3: .3 firmware (3 raw bytes), .7 serial
 * (DER INTEGER), .8 PIN and touch policy (2 raw bytes), .9 form factor (1 raw byte).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import type { FirmwareVersion } from "../card/firmware.js";
import { der, type ExtensionSpec, issueCertificate, parseCertificate } from "./x509-builder.js";

/** Yubico's attestation extension OIDs. */
export const YubicoAttestationOid = {
  firmware: "1.3.6.1.4.1.41482.3.3",
  serial: "1.3.6.1.4.1.41482.3.7",
  policy: "1.3.6.1.4.1.41482.3.8",
  formFactor: "1.3.6.1.4.1.41482.3.9",
} as const;

/** Facts about the attested key and card. */
export interface SlotAttestationInput {
  slot: number;
  publicKey: KeyObject;
  pinPolicy: number;
  touchPolicy: number;
  firmware: FirmwareVersion;
  serial: number;
  /** The card's F9 key and DER certificate. */
  attestationKey: KeyObject;
  attestationCertificate: Uint8Array;
}

/** Yubico form factor byte: 0x01 USB-A keychain. */
const FORM_FACTOR_USB_A_KEYCHAIN = 0x01;

/** Issue the attestation certificate of one slot's key. */
export async function attestSlot(input: SlotAttestationInput): Promise<Uint8Array> {
  const issuerCert = parseCertificate(input.attestationCertificate);
  const fw = input.firmware;
  const extensions: ExtensionSpec[] = [
    { oid: YubicoAttestationOid.firmware, value: Uint8Array.of(fw.major, fw.minor, fw.patch) },
    { oid: YubicoAttestationOid.serial, value: der(asn1js.Integer.fromBigInt(BigInt(input.serial))) },
    { oid: YubicoAttestationOid.policy, value: Uint8Array.of(input.pinPolicy, input.touchPolicy) },
    { oid: YubicoAttestationOid.formFactor, value: Uint8Array.of(FORM_FACTOR_USB_A_KEYCHAIN) },
  ];
  return issueCertificate({
    subjectCommonName: `YubiKey PIV Attestation ${input.slot.toString(16).padStart(2, "0")}`,
    issuer: issuerCert.subject,
    subjectPublicKeyInfo: new Uint8Array(input.publicKey.export({ format: "der", type: "spki" })),
    issuerPublicKeyInfo: new Uint8Array(createPublicKey(input.attestationKey).export({ format: "der", type: "spki" })),
    signingKey: input.attestationKey,
    notBefore: issuerCert.notBefore.value,
    notAfter: issuerCert.notAfter.value,
    extensions,
  });
}
