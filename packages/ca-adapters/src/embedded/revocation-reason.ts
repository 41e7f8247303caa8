/** CRLReason codes (RFC 5280 §5.3.1) by the names the `CertificateAuthority` port uses. */
import { CardwrightError, type RevocationReason } from "@cardwright/core";

/** RFC 5280 §5.3.1 `CRLReason ::= ENUMERATED`; value 7 is unused by the standard. */
export const CrlReasonCode: Readonly<Record<RevocationReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

/** True when `value` is a {@link RevocationReason} name. */
export function isRevocationReason(value: unknown): value is RevocationReason {
  return typeof value === "string" && Object.hasOwn(CrlReasonCode, value);
}

/**
 * Check that `reason` is a {@link RevocationReason} name before it reaches a CA; callers in
 * plain JavaScript can pass anything.
 * @throws CardwrightError `CA_INVALID_REQUEST` when it is not an RFC 5280 §5.3.1 reason.
 */
export function assertRevocationReason(reason: unknown): asserts reason is RevocationReason {
  if (!isRevocationReason(reason)) {
    throw new CardwrightError("CA_INVALID_REQUEST", `"${String(reason)}" is not an RFC 5280 revocation reason`, {
      details: { reason: String(reason) },
    });
  }
}
