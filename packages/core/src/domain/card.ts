/** The card record and its certificates, as the store keeps them. */
import type { DeviceType, SlotId } from "../ports/device.js";
import type { WrappedSecret } from "../ports/secret-vault.js";

/** Card lifecycle states (DESIGN.md). Transitions happen only through workflows. */
export type CardState =
  | "registered"
  | "bound"
  | "issuing"
  | "pending"
  | "active"
  | "suspended"
  | "updating"
  | "revoked"
  | "retired"
  /** Reported damaged: its certificates are to be revoked (replacement comes with issue 7's later slices). */
  | "damaged"
  /** Reported lost or stolen: its certificates are to be revoked; a found card can only be retired. */
  | "lost";

/** Certificate statuses (DESIGN.md). */
export type CertificateStatus =
  | "requested"
  | "pending"
  | "approved"
  | "valid"
  | "written"
  /** On hold at the CA (RFC 5280 §5.3.1 certificateHold): the card is suspended; resume releases it. */
  | "suspended"
  | "revoked"
  | "expired"
  | "removed";

/** Fields every stored record has for optimistic concurrency. */
export interface Versioned {
  /** Starts at 1; every successful update increments it. */
  version: number;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  updatedAt: string;
}

/** A card (or token) known to cardwright. */
export interface CardRecord extends Versioned {
  id: string;
  deviceSerial: string;
  deviceType: DeviceType;
  deviceModel?: string;
  userId?: string;
  policyId?: string;
  policyVersion?: number;
  state: CardState;
  /** CHUID GUID written at issue (hex). */
  chuidGuid?: string;
  /** Administrator credential of this card (management key / SO PIN), wrapped. */
  adminCredential?: WrappedSecret;
  /** Algorithm of the wrapped management key, when it is one. */
  adminCredentialAlgorithm?: string;
  /** PUK, wrapped, when policy sets a random one. */
  puk?: WrappedSecret;
  /**
   * ISO 8601: when the PUK left the vault (an offline unblock response lets the card holder recover
   * it). A disclosed PUK is replaced by a fresh random one at the next operation with the card in a
   * reader (or `rotatePuk`), which clears this field.
   */
  pukDisclosedAt?: string;
  /**
   * The PUK before a rotation in progress, wrapped: kept until the card has the new one, so a crash
   * between saving the new PUK and setting it on the card loses neither.
   */
  pukPrevious?: WrappedSecret;
  /** Id of the operation in progress or pending on this card. */
  pendingOperationId?: string;
  /** The card that replaced this one (set by a replace operation). */
  replacedBy?: string;
  /** Set on a temporary card issued while the permanent card `replacesCardId` is away. */
  temporary?: TemporaryCardInfo;
}

/** What makes a card temporary: the card it stands in for and when its certificates end. */
export interface TemporaryCardInfo {
  /** The permanent card (held while away) this card stands in for. */
  replacesCardId: string;
  /** ISO 8601: the latest notAfter of the temporary card's certificates. */
  expiresAt: string;
  /** ISO 8601: when the permanent card came back and this card was retired. */
  returnedAt?: string;
}

/** A certificate in the inventory. */
export interface CertificateRecord extends Versioned {
  id: string;
  cardId: string;
  userId?: string;
  templateId?: string;
  slot: SlotId;
  status: CertificateStatus;
  /** Our request id, when cardwright requested it. */
  requestId?: string;
  caId?: string;
  /** Serial number, lowercase hex without separators. */
  serialHex?: string;
  subject?: string;
  issuer?: string;
  /** ISO 8601. */
  notBefore?: string;
  notAfter?: string;
  /** DER, base64. */
  certificate?: string;
  /** Found on a card, not issued by cardwright. */
  thirdParty?: boolean;
  /**
   * The private key, PKCS#8 DER wrapped by the `SecretVault`, for templates whose keys are archived
   * (`archiveKey`, encryption certificates): generated off-card, imported, and recoverable to a
   * replacement card.
   */
  archivedKey?: WrappedSecret;
  /**
   * Id of the certificate record (on the card replaced) this one was recovered from: the same
   * certificate and archived key, imported to this card by a replacement's key recovery.
   */
  recoveredFrom?: string;
  /**
   * The values of the template's `trackedAttributes` the certificate was issued with (directory
   * attributes, never secrets), so an update can tell when one changed and renew it.
   */
  trackedAttributes?: Readonly<Record<string, string>>;
}

/** A certification request as tracked by cardwright. */
export interface RequestRecord extends Versioned {
  /** Our request id (idempotency key at the CA). */
  id: string;
  cardId: string;
  operationId: string;
  templateId: string;
  caId: string;
  caRequestId?: string;
  status: "created" | "submitted" | "pending" | "issued" | "rejected";
  /** DER PKCS#10, base64. */
  csr?: string;
  /** DER certificate once issued, base64. */
  certificate?: string;
  rejectionReason?: string;
  /**
   * The key's attestation chain (leaf first, DER base64) as verified before the request went to the
   * CA, when the template requires attestation.
   */
  attestation?: string[];
  /**
   * The request's key, PKCS#8 DER wrapped by the `SecretVault`, for templates whose keys are
   * archived: saved here before the key is imported to the card, and carried to the certificate
   * record ({@link CertificateRecord.archivedKey}) when the certificate is issued.
   */
  archivedKey?: WrappedSecret;
}

/** Kinds of lifecycle operations. */
export type OperationKind = "issue" | "update" | "pin" | "revoke" | "replace" | "retire" | "suspend" | "resume";

/** A persisted workflow. */
export interface OperationRecord extends Versioned {
  id: string;
  kind: OperationKind;
  cardId: string;
  userId?: string;
  /** Machine id and version the snapshot belongs to; a mismatch is refused. */
  machineId: string;
  machineVersion: string;
  status: "running" | "pending" | "completed" | "failed";
  /** `actor.getPersistedSnapshot()` as JSON. Never contains secrets. */
  snapshot: unknown;
  /**
   * The machine's input as JSON, secret-free, so the operation can be restarted when its process
   * stopped before the first snapshot was saved. Absent on records written before it existed.
   */
  input?: unknown;
  /** Who started it. */
  actor: string;
}
