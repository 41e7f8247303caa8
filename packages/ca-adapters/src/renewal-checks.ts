/**
 * Checks a CA adapter makes on a `RenewalRequest` before it signs again: the previous
 * certificate is the one the serial names (RFC 5280 §4.1.2.2), this CA signed it (RFC 5280
 * §6.1.3 (a)(1), signature verified with the issuer's key), and the CSR's key (RFC 2986 §4.1
 * `subjectPKInfo`) agrees with `rekey`. Messages start with `renewal:` so the operator can tell
 * them from submit errors; each adapter names itself in the one that differs.
 */

import type { RenewalRequest } from "@cardwright/core";
import { CardwrightError, type CertificateSummary, csrPublicKey, parseCertificate, spkiEquals } from "@cardwright/core";
import * as pkijs from "pkijs";
import { cryptoEngine } from "./embedded/crypto-engine.js";
import { normalizeSerialHex } from "./embedded/serial-number.js";

/** Structured details every renewal error carries (the request's idempotency key). */
export interface RenewalErrorDetails {
  requestId: string;
}

/**
 * True when `issuer`'s public key verifies `certificate`'s signature (RFC 5280 §6.1.3 (a)(1));
 * false for a wrong issuer or bytes that are not DER certificates.
 */
export async function signedBy(certificate: Uint8Array, issuer: Uint8Array): Promise<boolean> {
  try {
    const cert = pkijs.Certificate.fromBER(new Uint8Array(certificate));
    return await cert.verify(pkijs.Certificate.fromBER(new Uint8Array(issuer)), cryptoEngine());
  } catch {
    return false;
  }
}

/**
 * Check that `previous` carries the serial `previousSerialHex` names (RFC 5280 §4.1.2.2);
 * returns that serial, normalized.
 * @throws CardwrightError `CA_INVALID_REQUEST` when the serials differ.
 */
export function assertPreviousSerial(
  previous: CertificateSummary,
  previousSerialHex: string,
  details: RenewalErrorDetails,
): string {
  const serialHex = normalizeSerialHex(previousSerialHex);
  if (previous.serialHex !== serialHex) {
    throw new CardwrightError(
      "CA_INVALID_REQUEST",
      `renewal: previousSerialHex ${serialHex} is not the serial of previousCertificate (${previous.serialHex})`,
      { details: { ...details, serialHex } },
    );
  }
  return serialHex;
}

/**
 * Check that the CSR's key is the previous certificate's key exactly when `rekey` is false.
 * @throws CardwrightError `CA_INVALID_REQUEST` when the CSR's key contradicts `rekey`.
 */
export function assertRekeyMatchesCsr(
  csrSpki: Uint8Array,
  previousSpki: Uint8Array,
  rekey: boolean,
  serialHex: string,
  details: RenewalErrorDetails,
): void {
  if (spkiEquals(csrSpki, previousSpki) === rekey) {
    throw new CardwrightError(
      "CA_INVALID_REQUEST",
      rekey
        ? `renewal: rekey is set but the CSR carries the key of certificate ${serialHex}`
        : `renewal: rekey is not set but the CSR carries a key other than certificate ${serialHex}'s`,
      { details: { ...details, serialHex, rekey } },
    );
  }
}

/**
 * All renewal checks of a CA that keeps no link between certificates and signs the new CSR as
 * a fresh request: serial, issuer signature and rekey. Returns the previous serial, normalized.
 * @param issuer The issuing CA's certificate (DER), or undefined when the CA published none.
 * @param notIssuedBy The clause naming this CA in the unknown-certificate message, e.g.
 *   `signed by the cfssl CA "x"` (read as "certificate 01 was not …").
 * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` when `issuer` did not sign
 * `previousCertificate`; `CA_INVALID_REQUEST` when its serial is not `previousSerialHex` or the
 * CSR's key contradicts `rekey`.
 */
export async function assertRenewalOfIssued(
  request: RenewalRequest,
  issuer: Uint8Array | undefined,
  notIssuedBy: string,
): Promise<string> {
  const details = { requestId: request.requestId };
  const previous = parseCertificate(request.previousCertificate);
  const serialHex = assertPreviousSerial(previous, request.previousSerialHex, details);
  if (issuer === undefined || !(await signedBy(request.previousCertificate, issuer))) {
    throw new CardwrightError("CA_UNKNOWN_CERTIFICATE", `renewal: certificate ${serialHex} was not ${notIssuedBy}`, {
      details: { ...details, serialHex },
    });
  }
  assertRekeyMatchesCsr(csrPublicKey(request.csr), previous.spki, request.rekey, serialHex, details);
  return serialHex;
}
