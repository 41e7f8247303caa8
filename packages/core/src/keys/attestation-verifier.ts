/**
 * Verifies a PIV slot attestation (Yubico, "PIV attestation"): ATTEST (INS F9) returns a
 * certificate for the slot's key, signed by the device's attestation key (slot F9), whose
 * certificate is signed by Yubico's PIV attestation root. A verified chain proves the key was
 * generated on that device and never left it — an imported key cannot be attested.
 *
 * Checked, in order: the chain parses; the leaf names the slot ("YubiKey PIV Attestation 9d");
 * the leaf certifies the key the device returned at generation; every certificate is within its
 * validity; each is signed by the next (RFC 5280 §6.1.3 (a)(1)) and the last by a configured
 * root; the device serial in Yubico's extension 1.3.6.1.4.1.41482.3.7 is the device's.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CardwrightError } from "../errors.js";
import { spkiEquals } from "../pki/certificate.js";
import type { SlotId } from "../ports/device.js";

/** Yubico's PIV attestation extensions (arc 1.3.6.1.4.1.41482.3). */
export const YUBICO_ATTESTATION_OID = {
  /** Firmware version, three raw bytes major.minor.patch. */
  firmware: "1.3.6.1.4.1.41482.3.3",
  /** Device serial, DER INTEGER. */
  serial: "1.3.6.1.4.1.41482.3.7",
  /** PIN policy and touch policy, two raw bytes. */
  policy: "1.3.6.1.4.1.41482.3.8",
  /** Form factor, one raw byte. */
  formFactor: "1.3.6.1.4.1.41482.3.9",
} as const;

/** The check of {@link verifyPivAttestation} that failed, as `details.check` of `ATTESTATION_FAILED`. */
export type AttestationCheck = "chain" | "slot" | "publicKey" | "validity" | "signature" | "root" | "serial";

/** What a verified chain must show. */
export interface PivAttestationExpectations {
  /** DER trust anchors (e.g. Yubico's PIV attestation root CA). */
  roots: readonly Uint8Array[];
  /** DER SubjectPublicKeyInfo the device returned when it generated the key. */
  publicKey: Uint8Array;
  slot: SlotId;
  /** Time the validity periods are checked at. */
  now: Date;
  /** The device's serial (decimal); checked against extension .7 when both are present. */
  serial?: string;
}

/** Facts of a verified attestation. */
export interface PivAttestation {
  slot: SlotId;
  /** Device serial from extension .7. */
  serial?: number;
  /** Firmware from extension .3, "major.minor.patch". */
  firmware?: string;
  /** Yubico PIN policy byte (1 never, 2 once, 3 always...) from extension .8. */
  pinPolicy?: number;
  /** Yubico touch policy byte (1 never, 2 always, 3 cached) from extension .8. */
  touchPolicy?: number;
  /** The chain as verified, leaf first (DER). */
  chain: Uint8Array[];
  /** The configured root the chain ends at (DER). */
  root: Uint8Array;
}

const CN = "2.5.4.3";
const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";
/** keyCertSign is bit 5 of KeyUsage (RFC 5280 §4.2.1.3): 0x04 in the first byte. */
const KEY_CERT_SIGN = 0x04;

function failed(check: AttestationCheck, message: string, details: Record<string, string | number> = {}): never {
  throw new CardwrightError("ATTESTATION_FAILED", `key attestation failed: ${message}`, {
    details: { check, ...details },
  });
}

function parse(der: Uint8Array, what: string): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(der.slice());
  } catch {
    return failed("chain", `the ${what} is not a DER X.509 certificate`);
  }
}

function commonName(cert: pkijs.Certificate): string | undefined {
  const tv = cert.subject.typesAndValues.find((t) => t.type === CN);
  const block = tv?.value as unknown as { valueBlock?: { value?: unknown } } | undefined;
  return typeof block?.valueBlock?.value === "string" ? block.valueBlock.value : undefined;
}

function extensionValue(cert: pkijs.Certificate, oid: string): Uint8Array | undefined {
  const ext = cert.extensions?.find((e) => e.extnID === oid);
  return ext === undefined ? undefined : new Uint8Array(ext.extnValue.getValue());
}

function spkiOf(cert: pkijs.Certificate): Uint8Array {
  return new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER(false));
}

/** May `cert` issue certificates? Absent extensions allow it (Yubico's older F9 certificates carry none). */
function canIssue(cert: pkijs.Certificate): boolean {
  const bc = cert.extensions?.find((e) => e.extnID === BASIC_CONSTRAINTS);
  if (bc !== undefined && !(bc.parsedValue as pkijs.BasicConstraints | undefined)?.cA) return false;
  const ku = extensionValue(cert, KEY_USAGE);
  if (ku !== undefined) {
    const bits = asn1js.fromBER(ku.slice().buffer).result as asn1js.BitString;
    const first = new Uint8Array(bits.valueBlock.valueHexView)[0] ?? 0;
    if ((first & KEY_CERT_SIGN) === 0) return false;
  }
  return true;
}

function checkValidity(cert: pkijs.Certificate, now: Date, position: string): void {
  const notBefore = cert.notBefore.value;
  const notAfter = cert.notAfter.value;
  if (now < notBefore || now > notAfter) {
    failed(
      "validity",
      `the ${position} certificate is valid from ${notBefore.toISOString()} to ${notAfter.toISOString()}`,
      {
        position,
        notBefore: notBefore.toISOString(),
        notAfter: notAfter.toISOString(),
      },
    );
  }
}

async function signedBy(cert: pkijs.Certificate, issuer: pkijs.Certificate): Promise<boolean> {
  if (!cert.issuer.isEqual(issuer.subject) || !canIssue(issuer)) return false;
  try {
    return await cert.verify(issuer);
  } catch {
    return false;
  }
}

/**
 * Verify a PIV slot attestation chain (leaf first, as `Device.attest` returns it) against
 * configured roots. A chain given without the device's F9 certificate verifies only when a root
 * signed the leaf directly.
 * @throws CardwrightError `ATTESTATION_FAILED` with `details.check` naming the failed check.
 */
export async function verifyPivAttestation(
  chain: readonly Uint8Array[],
  expected: PivAttestationExpectations,
): Promise<PivAttestation> {
  const slot = expected.slot.toLowerCase();
  const leafDer = chain[0];
  if (leafDer === undefined) failed("chain", "the device returned no attestation certificate", { slot });
  if (expected.roots.length === 0) failed("root", "no attestation root is configured", { slot });
  const certs = chain.map((der, i) => parse(der, i === 0 ? "attestation" : `chain[${i}]`));
  const roots = expected.roots.map((der) => ({ der, cert: parse(der, "configured root") }));
  const leaf = certs[0] as pkijs.Certificate;

  const name = commonName(leaf);
  if (name?.toLowerCase() !== `yubikey piv attestation ${slot}`) {
    failed("slot", `the attestation names "${name ?? "no common name"}", not slot ${slot}`, { slot });
  }
  if (!spkiEquals(spkiOf(leaf), expected.publicKey)) {
    failed("publicKey", `the attestation certifies another key than the one generated in slot ${slot}`, { slot });
  }
  for (const [i, cert] of certs.entries()) checkValidity(cert, expected.now, i === 0 ? "leaf" : `chain[${i}]`);

  for (let i = 0; i + 1 < certs.length; i++) {
    if (!(await signedBy(certs[i] as pkijs.Certificate, certs[i + 1] as pkijs.Certificate))) {
      failed("signature", `chain[${i}] is not signed by chain[${i + 1}]`, { slot, position: i });
    }
  }
  const last = certs[certs.length - 1] as pkijs.Certificate;
  const lastDer = chain[chain.length - 1] as Uint8Array;
  let root: Uint8Array | undefined;
  for (const candidate of roots) {
    const isRoot = Buffer.from(candidate.der).equals(Buffer.from(lastDer));
    if (isRoot || (await signedBy(last, candidate.cert))) {
      checkValidity(candidate.cert, expected.now, "root");
      root = candidate.der;
      break;
    }
  }
  if (root === undefined) failed("root", "the attestation chain does not end at a configured root", { slot });

  const facts: PivAttestation = { slot, chain: chain.map((c) => c.slice()), root: root.slice() };
  const serial = extensionValue(leaf, YUBICO_ATTESTATION_OID.serial);
  if (serial !== undefined) {
    const integer = asn1js.fromBER(serial.slice().buffer).result;
    if (!(integer instanceof asn1js.Integer)) failed("serial", "the serial extension is not an INTEGER", { slot });
    facts.serial = Number(integer.toBigInt());
  }
  if (expected.serial !== undefined && /^\d+$/.test(expected.serial) && facts.serial !== Number(expected.serial)) {
    failed("serial", `the attestation is for device ${facts.serial ?? "unknown"}, not ${expected.serial}`, {
      slot,
      deviceSerial: expected.serial,
    });
  }
  const firmware = extensionValue(leaf, YUBICO_ATTESTATION_OID.firmware);
  if (firmware?.length === 3) facts.firmware = Array.from(firmware).join(".");
  const policy = extensionValue(leaf, YUBICO_ATTESTATION_OID.policy);
  if (policy?.length === 2) {
    facts.pinPolicy = policy[0] as number;
    facts.touchPolicy = policy[1] as number;
  }
  return facts;
}
