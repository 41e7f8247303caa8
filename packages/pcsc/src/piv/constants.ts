/**
 * PIV wire constants, grouped by role, each with the section of NIST SP 800-73-4 Part 2
 * (or Yubico's PIV extension documentation) it comes from. Byte ↔ name tables are two-way;
 * an unknown byte is a `APDU_MALFORMED_RESPONSE` at the point it is decoded.
 */

/** PIV application identifier, SP 800-73-4 Part 2 §2.2 (the PIX without the version suffix). */
export const PIV_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00);

/** Yubico's vendor instructions live on the PIV applet; the management (OTP/MGMT) AID is not needed here. */

/** Instruction bytes, SP 800-73-4 Part 2 §3 plus Yubico extensions. */
export const Ins = {
  select: 0xa4,
  getData: 0xcb,
  putData: 0xdb,
  verify: 0x20,
  changeReferenceData: 0x24,
  resetRetryCounter: 0x2c,
  generateAsymmetricKeyPair: 0x47,
  generalAuthenticate: 0x87,
  getResponse: 0xc0,
  // Yubico PIV extensions
  setManagementKey: 0xff,
  importKey: 0xfe,
  getVersion: 0xfd,
  reset: 0xfb,
  setPinRetries: 0xfa,
  attest: 0xf9,
  getSerial: 0xf8,
  getMetadata: 0xf7,
  moveKey: 0xf6,
} as const;

/** Key references, SP 800-73-4 Part 1 §5.1 Table 4 and Part 2 Table 4b (retired 82–95). */
export const KeyRef = {
  pin: 0x80,
  globalPin: 0x00,
  puk: 0x81,
  managementKey: 0x9b,
  authentication: 0x9a,
  signature: 0x9c,
  keyManagement: 0x9d,
  cardAuthentication: 0x9e,
  /** YubiKey attestation key. */
  attestation: 0xf9,
} as const;

/** Retired key management key references 82–95 (SP 800-73-4 Part 1 Table 4b). */
export const RETIRED_KEY_REFS: readonly number[] = Array.from({ length: 20 }, (_, i) => 0x82 + i);

/**
 * Data object tags (the 3-byte BER tags used in GET/PUT DATA's 0x5C tag list),
 * SP 800-73-4 Part 1 Table 3 and Appendix A.
 */
export const ObjectTag = {
  ccc: 0x5fc107,
  chuid: 0x5fc102,
  discovery: 0x7e,
  keyHistory: 0x5fc10c,
  facialImage: 0x5fc108,
  printedInformation: 0x5fc109,
  securityObject: 0x5fc106,
  cardholderFingerprints: 0x5fc103,
  certAuthentication: 0x5fc105, // 9A
  certSignature: 0x5fc10a, // 9C
  certKeyManagement: 0x5fc10b, // 9D
  certCardAuthentication: 0x5fc101, // 9E
  /** Retired certificate objects 5FC10D..5FC120 map to key references 82..95. */
  certRetiredFirst: 0x5fc10d,
  /** YubiKey attestation certificate object. */
  attestation: 0x5fff01,
} as const;

/** The certificate data object for a key reference, or `undefined` for keys without one. */
export function certificateObjectFor(keyRef: number): number | undefined {
  switch (keyRef) {
    case KeyRef.authentication:
      return ObjectTag.certAuthentication;
    case KeyRef.signature:
      return ObjectTag.certSignature;
    case KeyRef.keyManagement:
      return ObjectTag.certKeyManagement;
    case KeyRef.cardAuthentication:
      return ObjectTag.certCardAuthentication;
    case KeyRef.attestation:
      return ObjectTag.attestation;
    default:
      if (keyRef >= 0x82 && keyRef <= 0x95) return ObjectTag.certRetiredFirst + (keyRef - 0x82);
      return undefined;
  }
}

/** Tags inside data objects, SP 800-73-4 Part 1 Appendix A and Part 2 §3.3. */
export const Tag = {
  /** GET DATA / PUT DATA tag list. */
  tagList: 0x5c,
  /** Data object wrapper in GET DATA responses / PUT DATA commands. */
  data: 0x53,
  /** Certificate object: the DER certificate. */
  certificate: 0x70,
  /** Certificate object: CertInfo (bit 0 set = gzip-compressed). */
  certInfo: 0x71,
  /** Certificate object: MSCUID (optional). */
  mscuid: 0x72,
  /** Error detection code (always empty). */
  errorDetectionCode: 0xfe,
  /** Dynamic authentication template, GENERAL AUTHENTICATE (§3.2.4). */
  dynamicAuthTemplate: 0x7c,
  witness: 0x80,
  challenge: 0x81,
  response: 0x82,
  exponentiation: 0x85,
  /** Control reference template, GENERATE ASYMMETRIC KEY PAIR (§3.3.2). */
  controlReferenceTemplate: 0xac,
  algorithm: 0x80,
  pinPolicy: 0xaa,
  touchPolicy: 0xab,
  /** Public key template in the GENERATE response (§3.3.2, Table 10). */
  publicKeyTemplate: 0x7f49,
  rsaModulus: 0x81,
  rsaExponent: 0x82,
  ecPoint: 0x86,
  /** Application property template in the SELECT response (§3.1.1). */
  applicationPropertyTemplate: 0x61,
  applicationIdentifier: 0x4f,
} as const;

/** Private key component tags of Yubico IMPORT ASYMMETRIC KEY (INS FE; yubikit `piv.py` `put_key`). */
export const ImportKeyTag = {
  rsaPrime1: 0x01,
  rsaPrime2: 0x02,
  rsaExponent1: 0x03,
  rsaExponent2: 0x04,
  rsaCoefficient: 0x05,
  ecPrivateScalar: 0x06,
} as const;

/** Algorithm identifiers, SP 800-78-4 Table 6-2 and SP 800-73-4 Part 1 Table 5 (+ Yubico AES). */
export const Alg = {
  tdes: 0x03,
  rsa1024: 0x06,
  rsa2048: 0x07,
  rsa3072: 0x05,
  rsa4096: 0x16,
  aes128: 0x08,
  aes192: 0x0a,
  aes256: 0x0c,
  eccP256: 0x11,
  eccP384: 0x14,
  ed25519: 0xe0,
  x25519: 0xe1,
} as const;

/** Status words, ISO/IEC 7816-4 §5.6 and SP 800-73-4 Part 2 §3 per command. */
export const Sw = {
  ok: 0x9000,
  /** 61xx: more response bytes available (GET RESPONSE). */
  bytesRemainingPrefix: 0x61,
  /** 6Cxx: wrong Le, xx is the exact length. */
  wrongLePrefix: 0x6c,
  /** 63Cx: verification failed, x tries left. */
  verifyFailPrefix: 0x63c0,
  memoryFailure: 0x6581,
  wrongLength: 0x6700,
  /** 6883: a chained command (CLA bit 0x10) was not followed by its last block. */
  lastCommandOfChainExpected: 0x6883,
  securityStatusNotSatisfied: 0x6982,
  authMethodBlocked: 0x6983,
  conditionsNotSatisfied: 0x6985,
  commandNotAllowed: 0x6986,
  wrongData: 0x6a80,
  functionNotSupported: 0x6a81,
  fileNotFound: 0x6a82,
  notEnoughMemory: 0x6a84,
  incorrectP1P2: 0x6a86,
  referenceNotFound: 0x6a88,
  insNotSupported: 0x6d00,
  claNotSupported: 0x6e00,
  noPreciseDiagnosis: 0x6f00,
} as const;

/** YubiKey factory defaults (Yubico PIV documentation, "Default values"). */
export const YubiKeyDefaults = {
  pin: "123456",
  puk: "12345678",
  /** 010203040506070801020304050607080102030405060708 — 3DES before firmware 5.7, AES-192 from 5.7. */
  managementKey: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8),
  pinRetries: 3,
  pukRetries: 3,
} as const;

/** Names of the instructions, for traces and error details (ISO 7816-4 / SP 800-73-4 / Yubico names). */
const INSTRUCTION_NAMES: Readonly<Record<number, string>> = {
  [Ins.select]: "SELECT",
  [Ins.getData]: "GET DATA",
  [Ins.putData]: "PUT DATA",
  [Ins.verify]: "VERIFY",
  [Ins.changeReferenceData]: "CHANGE REFERENCE DATA",
  [Ins.resetRetryCounter]: "RESET RETRY COUNTER",
  [Ins.generateAsymmetricKeyPair]: "GENERATE ASYMMETRIC KEY PAIR",
  [Ins.generalAuthenticate]: "GENERAL AUTHENTICATE",
  [Ins.getResponse]: "GET RESPONSE",
  [Ins.setManagementKey]: "SET MANAGEMENT KEY",
  [Ins.importKey]: "IMPORT ASYMMETRIC KEY",
  [Ins.getVersion]: "GET VERSION",
  [Ins.reset]: "RESET",
  [Ins.setPinRetries]: "SET PIN RETRIES",
  [Ins.attest]: "ATTEST",
  [Ins.getSerial]: "GET SERIAL",
  [Ins.getMetadata]: "GET METADATA",
  [Ins.moveKey]: "MOVE KEY",
};

const unknownInstruction = (ins: number): string => `INS 0x${ins.toString(16).toUpperCase().padStart(2, "0")}`;

/** Every byte's name, built once: each APDU is named for its trace and errors. */
const BYTE_NAMES: readonly string[] = Array.from(
  { length: 256 },
  (_, ins) => INSTRUCTION_NAMES[ins] ?? unknownInstruction(ins),
);

/** The name of an instruction byte, e.g. `"VERIFY"`; unknown bytes read as `"INS 0xNN"`. */
export function instructionName(ins: number): string {
  return BYTE_NAMES[ins] ?? INSTRUCTION_NAMES[ins] ?? unknownInstruction(ins);
}
