/** Extended key usage names (RFC 5280 §4.2.1.12 and vendor arcs) to dotted OIDs. */
import { CardwrightError } from "../errors.js";

/** EKU names a policy may use instead of dotted OIDs. */
export const EKU_OIDS = {
  /** RFC 5280 §4.2.1.12 id-kp-serverAuth. */
  serverAuth: "1.3.6.1.5.5.7.3.1",
  /** RFC 5280 §4.2.1.12 id-kp-clientAuth. */
  clientAuth: "1.3.6.1.5.5.7.3.2",
  /** RFC 5280 §4.2.1.12 id-kp-codeSigning. */
  codeSigning: "1.3.6.1.5.5.7.3.3",
  /** RFC 5280 §4.2.1.12 id-kp-emailProtection. */
  emailProtection: "1.3.6.1.5.5.7.3.4",
  /** RFC 9336 id-kp-documentSigning. */
  documentSigning: "1.3.6.1.5.5.7.3.36",
  /** Microsoft Smart Card Logon (szOID_KP_SMARTCARD_LOGON). */
  smartcardLogon: "1.3.6.1.4.1.311.20.2.2",
} as const;

const DOTTED_OID = /^[0-2](\.(0|[1-9]\d*))+$/;

/** True when `value` is a dotted OID such as `1.3.6.1.5.5.7.3.2`. */
export function isDottedOid(value: string): boolean {
  return DOTTED_OID.test(value);
}

/**
 * The OID for an EKU name from {@link EKU_OIDS}; dotted OIDs pass through.
 * @throws CardwrightError `POLICY_INVALID` (rule `extendedKeyUsage`) for an unknown name.
 */
export function ekuOid(nameOrOid: string): string {
  if (Object.hasOwn(EKU_OIDS, nameOrOid)) return EKU_OIDS[nameOrOid as keyof typeof EKU_OIDS];
  if (isDottedOid(nameOrOid)) return nameOrOid;
  throw new CardwrightError(
    "POLICY_INVALID",
    `unknown extended key usage "${nameOrOid}": use a known name or a dotted OID`,
    {
      details: { rule: "extendedKeyUsage", eku: nameOrOid },
    },
  );
}
