/**
 * The PKCS#11 constants cardwright uses, grouped by role, with the section of PKCS#11 Base
 * Specification v2.40 (and Current Mechanisms v2.40) each group comes from. Values are the
 * `CK_ULONG`s of `pkcs11t.h`.
 */

/** User types for C_Login (Base §3.4, `CK_USER_TYPE`). */
export const UserType = { so: 0, user: 1 } as const;

/** Session flags for C_OpenSession (Base §3.6, `CK_SESSION_INFO`). */
export const SessionFlag = { rwSession: 0x2, serialSession: 0x4 } as const;

/** Flags of C_WaitForSlotEvent (Base §5.5). */
export const CKF_DONT_BLOCK = 0x1;

/** Token information flags (Base §3.2, Table 8: `CK_TOKEN_INFO.flags`). */
export const TokenFlag = {
  loginRequired: 0x4,
  userPinInitialized: 0x8,
  protectedAuthenticationPath: 0x100,
  tokenInitialized: 0x400,
  userPinCountLow: 0x10000,
  userPinFinalTry: 0x20000,
  userPinLocked: 0x40000,
  userPinToBeChanged: 0x80000,
  soPinCountLow: 0x100000,
  soPinFinalTry: 0x200000,
  soPinLocked: 0x400000,
} as const;

/** Object classes (Base §4.1, `CK_OBJECT_CLASS`). */
export const ObjectClass = { certificate: 0x1, publicKey: 0x2, privateKey: 0x3 } as const;

/** Key types (Base §4.8, `CK_KEY_TYPE`). */
export const KeyType = { rsa: 0x0, ec: 0x3 } as const;

/** Certificate types (Base §4.6, `CK_CERTIFICATE_TYPE`). */
export const CertificateType = { x509: 0x0 } as const;

/** Attribute types (Base §4, `CK_ATTRIBUTE_TYPE`). */
export const Attr = {
  class: 0x0,
  token: 0x1,
  private: 0x2,
  label: 0x3,
  value: 0x11,
  certificateType: 0x80,
  issuer: 0x81,
  serialNumber: 0x82,
  keyType: 0x100,
  subject: 0x101,
  id: 0x102,
  sensitive: 0x103,
  decrypt: 0x105,
  sign: 0x108,
  verify: 0x10a,
  modulus: 0x120,
  modulusBits: 0x121,
  publicExponent: 0x122,
  extractable: 0x162,
  ecParams: 0x180,
  ecPoint: 0x181,
} as const;

/** Mechanisms (Current Mechanisms §2.1 RSA, §2.3 ECDSA). */
export const Mech = {
  rsaPkcsKeyPairGen: 0x0,
  rsaPkcs: 0x1,
  sha256RsaPkcs: 0x40,
  sha384RsaPkcs: 0x41,
  sha512RsaPkcs: 0x42,
  ecKeyPairGen: 0x1040,
  ecdsa: 0x1041,
} as const;

/** Largest token label (Base §3.2: `CK_TOKEN_INFO.label` is 32 bytes, blank padded). */
export const TOKEN_LABEL_BYTES = 32;
