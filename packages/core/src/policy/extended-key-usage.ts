/** Extended key usage names (RFC 5280 §4.2.1.12 and vendor arcs) to dotted OIDs. */
import { CardwrightError } from "../errors.js";

/**
 * EKU names a policy or certificate profile may use instead of dotted OIDs: the one table of
 * purpose names in cardwright (the embedded CA re-exports it as `ExtendedKeyUsageOid`).
 */
export const EKU_OIDS = {
  /** RFC 5280 §4.2.1.12 id-kp-serverAuth. */
  serverAuth: "1.3.6.1.5.5.7.3.1",
  /** RFC 5280 §4.2.1.12 id-kp-clientAuth. */
  clientAuth: "1.3.6.1.5.5.7.3.2",
  /** RFC 5280 §4.2.1.12 id-kp-codeSigning. */
  codeSigning: "1.3.6.1.5.5.7.3.3",
  /** RFC 5280 §4.2.1.12 id-kp-emailProtection. */
  emailProtection: "1.3.6.1.5.5.7.3.4",
  /** RFC 5280 §4.2.1.12 id-kp-timeStamping. */
  timeStamping: "1.3.6.1.5.5.7.3.8",
  /** RFC 5280 §4.2.1.12 id-kp-OCSPSigning. */
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  /** RFC 9336 id-kp-documentSigning. */
  documentSigning: "1.3.6.1.5.5.7.3.36",
  /** Microsoft Document Signing (szOID_KP_DOCUMENT_SIGNING), what Office and Acrobat look for. */
  msDocumentSigning: "1.3.6.1.4.1.311.10.3.12",
  /** Microsoft Smart Card Logon (szOID_KP_SMARTCARD_LOGON). */
  smartcardLogon: "1.3.6.1.4.1.311.20.2.2",
  /** RFC 5280 §4.2.1.12 anyExtendedKeyUsage. */
  anyExtendedKeyUsage: "2.5.29.37.0",
} as const;

/** A name from {@link EKU_OIDS}. */
export type ExtendedKeyUsageName = keyof typeof EKU_OIDS;

const NAME_BY_OID = new Map<string, ExtendedKeyUsageName>(
  Object.entries(EKU_OIDS).map(([name, oid]) => [oid, name as ExtendedKeyUsageName]),
);

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
  if (Object.hasOwn(EKU_OIDS, nameOrOid)) return EKU_OIDS[nameOrOid as ExtendedKeyUsageName];
  if (isDottedOid(nameOrOid)) return nameOrOid;
  throw new CardwrightError(
    "POLICY_INVALID",
    `unknown extended key usage "${nameOrOid}": use a dotted OID or one of ${Object.keys(EKU_OIDS).join(", ")}`,
    {
      details: { rule: "extendedKeyUsage", eku: nameOrOid },
    },
  );
}

/** The {@link EKU_OIDS} name of an EKU OID, or `undefined` when the table does not know it. */
export function ekuName(oid: string): ExtendedKeyUsageName | undefined {
  return NAME_BY_OID.get(oid);
}
