/**
 * The embedded CA's mutable state — requests by id, issued certificates by serial, the CRL
 * number — as a JSON document, and the two places it lives: memory, or a JSON file in the CA
 * directory replaced atomically under a lock file so several processes can share it.
 */

import { readFile } from "node:fs/promises";
import type { CertificateProfile, RevocationReason } from "@cardwright/core";
import { CardwrightError } from "@cardwright/core";
import { writeFileAtomic } from "./atomic-file.js";
import type { CaKeyAlgorithm } from "./ca-key.js";
import { withDirectoryLock } from "./directory-lock.js";

/** Format tag of the state document; a different tag is refused rather than guessed at. */
export const CA_STATE_FORMAT = "cardwright.embedded-ca/1";

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
  read(): Promise<CaState>;
  /** Apply `change` to the current state and persist it; a throw leaves the state untouched. */
  update<T>(change: (state: CaState) => Promise<T> | T): Promise<T>;
}

/** Serialise calls within this process (the file lock covers other processes). */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** State held in memory only. */
export class MemoryCaStateStore implements CaStateStore {
  #state: CaState;
  readonly #mutex = new Mutex();

  constructor(initial: CaState) {
    this.#state = structuredClone(initial);
  }

  async read(): Promise<CaState> {
    return structuredClone(this.#state);
  }

  update<T>(change: (state: CaState) => Promise<T> | T): Promise<T> {
    return this.#mutex.run(async () => {
      const draft = structuredClone(this.#state);
      const result = await change(draft);
      this.#state = draft;
      return result;
    });
  }
}

/** State in a JSON file, re-read under the lock on every change so other processes' writes are seen. */
export class FileCaStateStore implements CaStateStore {
  readonly #mutex = new Mutex();

  constructor(
    readonly path: string,
    readonly lockPath: string,
  ) {}

  /** Create the file; used once, when a CA is created. */
  async initialise(state: CaState): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  async read(): Promise<CaState> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (cause) {
      throw new CardwrightError("CA_UNAVAILABLE", `cannot read the embedded CA state ${this.path}`, {
        details: { path: this.path },
        cause,
      });
    }
    return parseCaState(text, this.path);
  }

  update<T>(change: (state: CaState) => Promise<T> | T): Promise<T> {
    return this.#mutex.run(() =>
      withDirectoryLock(this.lockPath, async () => {
        const state = await this.read();
        const result = await change(state);
        await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
        return result;
      }),
    );
  }
}

/**
 * Parse and shape-check a state document.
 * @throws CardwrightError `CONFIG_INVALID` when it is not JSON or not this format.
 */
export function parseCaState(text: string, path: string): CaState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CardwrightError("CONFIG_INVALID", `embedded CA state ${path} is not valid JSON`, {
      details: { path },
      cause,
    });
  }
  const state = json as Partial<CaState> | null;
  if (
    state === null ||
    typeof state !== "object" ||
    state.format !== CA_STATE_FORMAT ||
    typeof state.id !== "string" ||
    typeof state.crlNumber !== "number" ||
    typeof state.requests !== "object" ||
    typeof state.requestIndex !== "object" ||
    typeof state.certificates !== "object"
  ) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      `embedded CA state ${path} is not a "${CA_STATE_FORMAT}" document; was it written by another version?`,
      { details: { path, format: String((state as { format?: unknown } | null)?.format) } },
    );
  }
  return state as CaState;
}
