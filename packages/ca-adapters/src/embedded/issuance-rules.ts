/**
 * The embedded CA's issuance rules: which well-formed requests it signs. A violation is a
 * policy refusal (`rejected` with the returned reason), not an error — callers tell garbage
 * (`CA_INVALID_REQUEST`, thrown) from refusals (a `rejected` result).
 */
import { CardwrightError, type CertificateProfile, KEY_USAGE_BITS } from "@cardwright/core";
import { ExtendedKeyUsageOid, isDottedOid, PublicKeyOid } from "../oids.js";
import type { CertificationRequestInfo } from "./certification-request.js";

/** RSA modulus sizes accepted (SP 800-78-4 §3 allows 2048 and 3072 on PIV; 4096 for software keys). */
export const ACCEPTED_RSA_BITS: readonly number[] = [2048, 3072, 4096];
/** Named curves accepted (SP 800-78-4 Table 3-1: P-256 and P-384). */
export const ACCEPTED_CURVES: Readonly<Record<string, string>> = {
  [PublicKeyOid.secp256r1]: "P-256",
  [PublicKeyOid.secp384r1]: "P-384",
};

/**
 * Check a profile is usable at all: a malformed profile is a caller bug, not a refusal.
 * @throws CardwrightError `CA_INVALID_REQUEST` naming the bad field.
 */
export function assertValidProfile(profile: CertificateProfile): void {
  const bad = (field: string, message: string) =>
    new CardwrightError("CA_INVALID_REQUEST", `certificate profile "${profile.templateId}": ${message}`, {
      details: { templateId: profile.templateId, field },
    });
  if (!Number.isInteger(profile.validityDays) || profile.validityDays <= 0) {
    throw bad("validityDays", `validityDays must be a positive whole number, got ${profile.validityDays}`);
  }
  for (const usage of profile.keyUsage) {
    if (!Object.hasOwn(KEY_USAGE_BITS, usage)) throw bad("keyUsage", `unknown key usage "${usage}"`);
  }
  for (const oid of profile.extendedKeyUsage) {
    if (!isDottedOid(oid) && !Object.hasOwn(ExtendedKeyUsageOid, oid)) {
      throw bad("extendedKeyUsage", `"${oid}" is neither a dotted OID nor a known purpose name`);
    }
  }
}

/**
 * The first rule a request breaks under `profile`, as a reason for a `rejected` result, or
 * `undefined` when it may be issued.
 */
export function issuanceRuleViolation(
  request: CertificationRequestInfo,
  profile: CertificateProfile,
): string | undefined {
  const key = request.publicKey;
  if (key.kind === "other") return `unsupported public key algorithm ${key.algorithmOid}; use RSA or EC P-256/P-384`;
  if (key.kind === "RSA" && !ACCEPTED_RSA_BITS.includes(key.modulusBits)) {
    return `RSA-${key.modulusBits} keys are not accepted; use RSA ${ACCEPTED_RSA_BITS.join("/")}`;
  }
  if (key.kind === "EC" && ACCEPTED_CURVES[key.curveOid] === undefined) {
    return `EC curve ${key.curveOid} is not accepted; use P-256 or P-384`;
  }
  if (request.subject.typesAndValues.length === 0) return "the request has an empty subject";
  if (profile.keyUsage.length === 0) return `profile "${profile.templateId}" grants no key usage`;
  if (profile.keyUsage.includes("keyCertSign") || profile.keyUsage.includes("cRLSign")) {
    return "end-entity certificates cannot carry keyCertSign or cRLSign";
  }
  if (
    key.kind === "EC" &&
    (profile.keyUsage.includes("keyEncipherment") || profile.keyUsage.includes("dataEncipherment"))
  ) {
    return "an EC key cannot be used for keyEncipherment or dataEncipherment (RFC 5480 §3)";
  }
  if (key.kind === "RSA" && profile.keyUsage.includes("keyAgreement")) {
    return "an RSA key cannot be used for keyAgreement (RFC 4055 §1.2)";
  }
  return undefined;
}
