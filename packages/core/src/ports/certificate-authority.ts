/**
 * The `CertificateAuthority` port. Adapters (embedded CA, CMP, EST, ACME, AD CS, EJBCA) answer
 * a PKCS#10 request with `issued`, `pending` (held for approval) or `rejected`. Every submit
 * carries our own `requestId`, and adapters are idempotent on it: a workflow resumed after a
 * crash re-submits with the same id and must never get a second certificate.
 */

/** RFC 5280 §5.3.1 CRLReason, by name. */
export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold"
  | "removeFromCRL"
  | "privilegeWithdrawn"
  | "aACompromise";

/** RFC 5280 key usage bits, by name. */
export type KeyUsage =
  | "digitalSignature"
  | "nonRepudiation"
  | "keyEncipherment"
  | "dataEncipherment"
  | "keyAgreement"
  | "keyCertSign"
  | "cRLSign";

/** The certificate profile a policy's template asks the CA for. */
export interface CertificateProfile {
  /** Template id in the policy. */
  templateId: string;
  /** CA-side template/profile name (AD CS template, EJBCA profile...), when the CA uses one. */
  caProfile?: string;
  keyUsage: readonly KeyUsage[];
  /** EKU OIDs, dotted (e.g. "1.3.6.1.5.5.7.3.2" clientAuth). */
  extendedKeyUsage: readonly string[];
  validityDays: number;
}

/** A certification request. The CSR carries subject and SAN (extensionRequest). */
export interface CertificateRequest {
  /** Our idempotency key; the same id always yields the same outcome. */
  requestId: string;
  /** DER PKCS#10 CertificationRequest (RFC 2986), signed by the device. */
  csr: Uint8Array;
  profile: CertificateProfile;
  /** DER CMC Full PKI Request (RFC 5272) when issuing on behalf; the CA uses it instead of `csr`. */
  cmc?: Uint8Array;
}

/**
 * A renewal: a new CSR for a certificate the CA issued before. `rekey` tells whether the CSR
 * carries a new key (CMP kur, EST simplereenroll with a new key) or the same one.
 */
export interface RenewalRequest extends CertificateRequest {
  /** The certificate being renewed, DER. */
  previousCertificate: Uint8Array;
  /** Its serial, hex without separators. */
  previousSerialHex: string;
  /** The CSR's key differs from the previous certificate's key. */
  rekey: boolean;
  /**
   * Signs with the previous certificate's private key, which stays on the device. CAs that make
   * the holder prove possession of the old key use it (CMP kur signature protection,
   * RFC 9483 §4.1.3); others ignore it.
   */
  signWithPreviousKey?: (data: Uint8Array, hash: "SHA-256" | "SHA-384" | "SHA-512") => Promise<Uint8Array>;
}

/** Which renewals a CA accepts. */
export interface RenewalSupport {
  /** A new certificate for the same key. */
  sameKey: boolean;
  /** A new certificate for a new key. */
  rekey: boolean;
}

/** The CA's answer to a request. */
export type CaResult =
  | { status: "issued"; caRequestId: string; certificate: Uint8Array; chain: Uint8Array[] }
  | { status: "pending"; caRequestId: string; retryAfterSeconds?: number }
  | { status: "rejected"; caRequestId?: string; reason: string };

/**
 * A certificate authority.
 * @throws CardwrightError `CA_UNAVAILABLE` when the CA cannot be reached, `CA_BAD_RESPONSE`
 * when it answers garbage, `CA_UNKNOWN_REQUEST` for an unknown request id.
 */
export interface CertificateAuthority {
  /** Id the policy's templates refer to. */
  readonly id: string;
  /** Submit a request; idempotent on `request.requestId`. */
  submit(request: CertificateRequest): Promise<CaResult>;
  /** Ask again about a pending request. */
  poll(caRequestId: string): Promise<CaResult>;
  /** Which renewals {@link CertificateAuthority.renew} accepts. */
  readonly renewal: RenewalSupport;
  /**
   * Renew a certificate; idempotent on `request.requestId` like submit.
   * @throws CardwrightError `CA_UNSUPPORTED` when the CA does not accept this kind of renewal
   * (see {@link CertificateAuthority.renewal}).
   */
  renew(request: RenewalRequest): Promise<CaResult>;
  /** Revoke a certificate by serial (hex, no separators). */
  revoke(serialHex: string, reason: RevocationReason): Promise<void>;
  /** Put a certificate on hold (RFC 5280 certificateHold). */
  suspend(serialHex: string): Promise<void>;
  /** Release a hold. */
  unsuspend(serialHex: string): Promise<void>;
  /** CA chain, issuing CA first, DER. */
  chain(): Promise<Uint8Array[]>;
}
