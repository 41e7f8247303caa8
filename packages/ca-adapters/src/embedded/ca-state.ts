/**
 * The embedded CA's mutable state — requests by id, issued certificates by serial, the CRL
 * number — as a JSON document, the store contract, the in-memory store and the snapshot format
 * the on-disk store (file-state-store.ts) writes.
 */

import type { CertificateProfile, RevocationReason } from "@cardwright/core";
import { CardwrightError } from "@cardwright/core";
import type { CaKeyAlgorithm } from "./ca-key.js";
import { adoptState, applyChanges, CaStateDraft, type ReadonlyCaState } from "./state-draft.js";

/**
 * Format tag of the state snapshot. Version 2 has a change journal beside it, so an SDK that
 * knows only version 1 (the snapshot alone) must refuse it rather than miss changes; it does,
 * with `CONFIG_INVALID`, because it checks this tag.
 */
export const CA_STATE_FORMAT = "cardwright.embedded-ca/2";

/** The single-file format of earlier versions: read, and migrated to version 2 on the first change. */
export const LEGACY_CA_STATE_FORMAT = "cardwright.embedded-ca/1";

/** `automatic` issues on submit; `manual` holds every request for an operator. */
export type ApprovalMode = "automatic" | "manual";

/** Where a request stands. */
export type RequestStatus = "pending" | "issued" | "rejected";

/** One submitted request, by the CA's request id. */
export interface RequestRecord {
  caRequestId: string;
  /** The submitter's idempotency key. */
  requestId: string;
  status: RequestStatus;
  /** ISO 8601. */
  submittedAt: string;
  decidedAt?: string;
  templateId: string;
  /** Requested subject, RFC 4514, for operators. */
  subject: string;
  /** Base64 DER CSR and the profile, kept while the request waits for approval. */
  csr?: string;
  profile?: CertificateProfile;
  serialHex?: string;
  reason?: string;
  /** For a renewal: the serial of the certificate it renews. */
  renewsSerialHex?: string;
  /** For a request on behalf (CMC, RFC 5272): the enrollment agent's subject, RFC 4514. */
  enrollmentAgent?: string;
}

/** A revocation entry (RFC 5280 §5.3.1 reason, §5.1.2.6 date). */
export interface RevocationRecord {
  reason: RevocationReason;
  /** ISO 8601. */
  revokedAt: string;
}

/** One certificate this CA signed, by lowercase hex serial. */
export interface CertificateRecord {
  serialHex: string;
  caRequestId?: string;
  subject: string;
  /** Base64 DER. */
  der: string;
  /** ISO 8601. */
  notAfter: string;
  revocation?: RevocationRecord;
  /** Serial of the certificate this one renewed. */
  renews?: string;
  /** Serial of the certificate that renewed this one (the first renewal; RFC 5280 "superseded"). */
  supersededBy?: string;
}

/** The whole state document. */
export interface CaState {
  format: typeof CA_STATE_FORMAT;
  id: string;
  keyAlgorithm: CaKeyAlgorithm;
  approvalMode: ApprovalMode;
  retryAfterSeconds: number;
  crlUrl?: string;
  crlValidityHours: number;
  /** Number of the last CRL issued (RFC 5280 §5.2.3); 0 before the first. */
  crlNumber: number;
  requests: Record<string, RequestRecord>;
  /** requestId → caRequestId, the idempotency index. */
  requestIndex: Record<string, string>;
  certificates: Record<string, CertificateRecord>;
}

/** Read-modify-write access to a {@link CaState}; changes are all-or-nothing. */
export interface CaStateStore {
  /**
   * The current state, shared with the store: read it, never change it, and read again after an
   * `await` if you need what is current then.
   */
  read(): Promise<ReadonlyCaState>;
  /**
   * Apply `change` to a copy-on-write draft of the current state and persist what it changed;
   * a throw leaves the state untouched. Change records through their map (`state.requests[id]`),
   * the draft copies a record on its first read by key.
   */
  update<T>(change: (state: CaState) => Promise<T> | T): Promise<T>;
}

/** Serialise calls within this process (the file lock covers other processes). */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  /** Run `task` after every task queued before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** State held in memory only. */
export class MemoryCaStateStore implements CaStateStore {
  readonly #state: CaState;
  readonly #mutex = new Mutex();

  constructor(initial: CaState) {
    this.#state = adoptState(structuredClone(initial));
  }

  async read(): Promise<ReadonlyCaState> {
    return this.#state;
  }

  update<T>(change: (state: CaState) => Promise<T> | T): Promise<T> {
    return this.#mutex.run(async () => {
      const draft = new CaStateDraft(this.#state);
      const result = await change(draft.state);
      const changes = draft.changes();
      if (changes !== undefined) applyChanges(this.#state, changes);
      return result;
    });
  }
}

/** A parsed snapshot: the state, its generation (0 for the legacy format) and whether it is legacy. */
export interface CaSnapshot {
  state: CaState;
  generation: number;
  legacy: boolean;
}

/** The snapshot document of `state` at `generation`. */
export function serialiseCaSnapshot(state: ReadonlyCaState, generation: number): string {
  const { format: _format, ...rest } = state;
  return `${JSON.stringify({ format: CA_STATE_FORMAT, generation, ...rest }, null, 2)}\n`;
}

/**
 * Parse and shape-check a snapshot document, version 2 or the legacy version 1.
 * @throws CardwrightError `CONFIG_INVALID` when it is not JSON or not one of these formats.
 */
export function parseCaSnapshot(text: string, path: string): CaSnapshot {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CardwrightError("CONFIG_INVALID", `embedded CA state ${path} is not valid JSON`, {
      details: { path },
      cause,
    });
  }
  const document = json as (Omit<Partial<CaState>, "format"> & { format?: unknown; generation?: unknown }) | null;
  const legacy = document?.format === LEGACY_CA_STATE_FORMAT;
  if (
    document === null ||
    typeof document !== "object" ||
    (document.format !== CA_STATE_FORMAT && !legacy) ||
    (!legacy && (!Number.isSafeInteger(document.generation) || (document.generation as number) < 1)) ||
    typeof document.id !== "string" ||
    typeof document.crlNumber !== "number" ||
    !isMap(document.requests) ||
    !isMap(document.requestIndex) ||
    !isMap(document.certificates)
  ) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      `embedded CA state ${path} is not a "${CA_STATE_FORMAT}" document; was it written by another version?`,
      { details: { path, format: String((document as { format?: unknown } | null)?.format) } },
    );
  }
  const generation = legacy ? 0 : (document.generation as number);
  delete document.generation;
  document.format = CA_STATE_FORMAT;
  return { state: adoptState(document as unknown as CaState), generation, legacy };
}

function isMap(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
