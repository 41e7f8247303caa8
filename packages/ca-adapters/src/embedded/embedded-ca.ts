/**
 * An embedded certification authority: a root or issuing CA living in the host process, its
 * key and state in memory or in a directory that several processes can share. It answers the
 * `CertificateAuthority` port (issue on submit, or hold for an operator), keeps revocation
 * status and signs CRLs (RFC 5280). Good for demos, tests and small deployments that need a
 * real CA without running one.
 */
import {
  type CaResult,
  CardwrightError,
  type CertificateAuthority,
  type CertificateProfile,
  type CertificateRequest,
  type Clock,
  nameToString,
  parseCertificate,
  parseName,
  type Random,
  type RenewalRequest,
  type RenewalSupport,
  type RevocationReason,
} from "@cardwright/core";
import type * as pkijs from "pkijs";
import { toPem } from "../pem.js";
import { assertPreviousSerial, assertRekeyMatchesCsr } from "../renewal-checks.js";
import { type CaIdentity, loadCaIdentity, publicKeyInfoOf, signCaCertificate } from "./ca-certificate.js";
import { caPaths, prepareCaDirectory, readCaMaterial, writeCaMaterial } from "./ca-directory.js";
import { type CaKeyAlgorithm, exportPkcs8, generateCaKeyPair, isCaKeyAlgorithm, signatureHash } from "./ca-key.js";
import {
  type ApprovalMode,
  CA_STATE_FORMAT,
  type CaState,
  type CaStateStore,
  type CertificateRecord as IssuedCertificateRecord,
  MemoryCaStateStore,
  type RequestRecord,
} from "./ca-state.js";
import { keyIdentifier } from "./certificate-extensions.js";
import { signCrl } from "./certificate-signer.js";
import { type CertificationRequestInfo, readCertificationRequest } from "./certification-request.js";
import { signEndEntityCertificate } from "./end-entity-certificate.js";
import { checkOnBehalfRequest } from "./enrollment-agent-check.js";
import { FileCaStateStore } from "./file-state-store.js";
import { assertValidProfile, issuanceRuleViolation } from "./issuance-rules.js";
import { assertRevocationReason, CrlReasonCode } from "./revocation-reason.js";
import { normalizeSerialHex, randomSerialNumber, serialToHex } from "./serial-number.js";
import type { DeepReadonly, ReadonlyCaState } from "./state-draft.js";
import { validityWindow } from "./validity.js";

/** Runtime services; defaults are the system clock and the platform CSPRNG. */
export interface EmbeddedCaRuntime {
  clock?: Clock;
  random?: Random;
  /**
   * DER certificates of the CAs that issue enrollment-agent certificates. A CMC request on behalf
   * (RFC 5272) is issued only when its agent certificate chains to one of them and carries the
   * Certificate Request Agent EKU (1.3.6.1.4.1.311.20.2.1); with none configured, every request
   * on behalf is rejected.
   */
  enrollmentAgentIssuers?: readonly Uint8Array[];
}

/** Options for {@link EmbeddedCa.create}. */
export interface EmbeddedCaCreateOptions extends EmbeddedCaRuntime {
  /** The id policies' certificate templates refer to. */
  id: string;
  /** RFC 4514 subject, e.g. `"CN=Example Root CA,O=Example"`. */
  subject: string;
  keyAlgorithm: CaKeyAlgorithm;
  /** Lifetime of the CA certificate. */
  validityDays: number;
  /** Keep key and state here (created 0700 if missing); in memory when omitted. */
  directory?: string;
  /** `automatic` (default) issues on submit; `manual` holds requests for {@link EmbeddedCa.approve}. */
  approvalMode?: ApprovalMode;
  /** CRL URL written to issued certificates' cRLDistributionPoints. */
  crlUrl?: string;
  /** nextUpdate − thisUpdate of each CRL (default 24). */
  crlValidityHours?: number;
  /** Hint returned with `pending` results (default 60). */
  retryAfterSeconds?: number;
}

/** Options for {@link EmbeddedCa.createIssuing}. */
export interface EmbeddedCaIssuingOptions extends EmbeddedCaCreateOptions {
  /** The CA that signs this one (usually a root); it records the certificate it issues. */
  parent: EmbeddedCa;
}

/** Options for {@link EmbeddedCa.open}. */
export interface EmbeddedCaOpenOptions extends EmbeddedCaRuntime {
  /** A directory a previous {@link EmbeddedCa.create} wrote. */
  directory: string;
  /** Override the stored approval mode for this instance only. */
  approvalMode?: ApprovalMode;
}

/** A request waiting for an operator. */
export interface PendingRequest {
  caRequestId: string;
  requestId: string;
  templateId: string;
  /** Requested subject, RFC 4514. */
  subject: string;
  /** ISO 8601. */
  submittedAt: string;
}

/** Revocation status of one issued certificate. */
export interface IssuedCertificateStatus {
  serialHex: string;
  subject: string;
  certificate: Uint8Array;
  notAfter: Date;
  revocation?: { reason: RevocationReason; revokedAt: Date };
  /** Serial of the certificate this one renewed. */
  renews?: string;
  /** Serial of the certificate that renewed this one: it is superseded (RFC 5280 §5.3.1). */
  supersededBy?: string;
}

/** The certificate a renewal renews, as checked against the CA's records. */
interface RenewalTarget {
  serialHex: string;
  spki: Uint8Array;
  rekey: boolean;
}

const systemClock: Clock = { now: () => new Date() };
const systemRandom: Random = {
  bytes: (length) => globalThis.crypto.getRandomValues(new Uint8Array(length)),
  uuid: () => globalThis.crypto.randomUUID(),
};

const base64 = (der: Uint8Array) => Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

function invalidOption(option: string, message: string): CardwrightError {
  return new CardwrightError("CONFIG_INVALID", `embedded CA: ${message}`, { details: { option } });
}

function checkCreateOptions(options: EmbeddedCaCreateOptions): void {
  if (typeof options.id !== "string" || options.id.trim() === "") throw invalidOption("id", "id must be non-empty");
  if (!isCaKeyAlgorithm(options.keyAlgorithm)) {
    throw invalidOption(
      "keyAlgorithm",
      `keyAlgorithm must be ECCP256, ECCP384, RSA2048 or RSA3072, got ${String(options.keyAlgorithm)}`,
    );
  }
  if (!Number.isInteger(options.validityDays) || options.validityDays <= 0) {
    throw invalidOption("validityDays", `validityDays must be a positive whole number, got ${options.validityDays}`);
  }
  for (const [name, value] of [
    ["crlValidityHours", options.crlValidityHours],
    ["retryAfterSeconds", options.retryAfterSeconds],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw invalidOption(name, `${name} must be a positive whole number, got ${value}`);
    }
  }
  if (options.approvalMode !== undefined && options.approvalMode !== "automatic" && options.approvalMode !== "manual") {
    throw invalidOption(
      "approvalMode",
      `approvalMode must be "automatic" or "manual", got ${String(options.approvalMode)}`,
    );
  }
  if (options.crlUrl !== undefined && !URL.canParse(options.crlUrl)) {
    throw invalidOption("crlUrl", `crlUrl "${options.crlUrl}" is not an absolute URL`);
  }
}

function initialState(options: EmbeddedCaCreateOptions): CaState {
  return {
    format: CA_STATE_FORMAT,
    id: options.id,
    keyAlgorithm: options.keyAlgorithm,
    approvalMode: options.approvalMode ?? "automatic",
    retryAfterSeconds: options.retryAfterSeconds ?? 60,
    ...(options.crlUrl === undefined ? {} : { crlUrl: options.crlUrl }),
    crlValidityHours: options.crlValidityHours ?? 24,
    crlNumber: 0,
    requests: {},
    requestIndex: {},
    certificates: {},
  };
}

/** Record a decision; the CSR and profile kept for the operator are no longer needed. */
function decide(
  record: RequestRecord,
  at: Date,
  outcome: { status: "issued"; serialHex: string } | { status: "rejected"; reason: string },
): void {
  Object.assign(record, outcome, { decidedAt: at.toISOString() });
  delete record.csr;
  delete record.profile;
}

function assertRequestId(request: CertificateRequest, operation: string): void {
  if (typeof request.requestId !== "string" || request.requestId === "") {
    throw new CardwrightError("CA_INVALID_REQUEST", `${operation} needs a non-empty requestId (the idempotency key)`);
  }
}

function unknownRequest(caRequestId: string): CardwrightError {
  return new CardwrightError("CA_UNKNOWN_REQUEST", `the embedded CA has no request ${caRequestId}`, {
    details: { caRequestId },
  });
}

/**
 * An embedded root or issuing CA implementing the `CertificateAuthority` port.
 *
 * Every submit is idempotent on `requestId`, also across processes sharing the directory.
 */
export class EmbeddedCa implements CertificateAuthority {
  /** The id policies' certificate templates refer to. */
  readonly id: string;
  /** The embedded CA renews for the same key and for a new one. */
  readonly renewal: RenewalSupport = Object.freeze({ sameKey: true, rekey: true });
  readonly #identity: CaIdentity;
  readonly #store: CaStateStore;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #approvalModeOverride: ApprovalMode | undefined;
  readonly #enrollmentAgentIssuers: readonly Uint8Array[];

  private constructor(
    id: string,
    identity: CaIdentity,
    store: CaStateStore,
    runtime: EmbeddedCaRuntime,
    approvalModeOverride?: ApprovalMode,
  ) {
    this.id = id;
    this.#identity = identity;
    this.#store = store;
    this.#clock = runtime.clock ?? systemClock;
    this.#random = runtime.random ?? systemRandom;
    this.#approvalModeOverride = approvalModeOverride;
    this.#enrollmentAgentIssuers = (runtime.enrollmentAgentIssuers ?? []).map((der) => der.slice());
  }

  /**
   * Create a self-signed root CA (RFC 5280 §4.2.1.9 basicConstraints cA, §4.2.1.3 keyCertSign
   * and cRLSign), persisting it in `options.directory` when given.
   * @throws CardwrightError `CONFIG_INVALID` for bad options or a directory that already holds a CA.
   */
  static async create(options: EmbeddedCaCreateOptions): Promise<EmbeddedCa> {
    checkCreateOptions(options);
    const subject = parseName(options.subject);
    const clock = options.clock ?? systemClock;
    const random = options.random ?? systemRandom;
    if (options.directory !== undefined) await prepareCaDirectory(options.directory);
    const keys = await generateCaKeyPair(options.keyAlgorithm);
    const publicKeyInfo = await publicKeyInfoOf(keys.publicKey);
    const selfSigner = {
      privateKey: keys.privateKey,
      hash: signatureHash(options.keyAlgorithm),
      name: subject,
      keyIdentifier: await keyIdentifier(publicKeyInfo),
    };
    const der = await signCaCertificate(selfSigner, {
      serialNumber: randomSerialNumber(random),
      subject,
      publicKeyInfo,
      validity: validityWindow(clock.now(), options.validityDays),
    });
    return EmbeddedCa.#finishCreate(options, keys.privateKey, [der]);
  }

  /**
   * Create an issuing CA whose certificate `options.parent` signs (basicConstraints cA with
   * pathLenConstraint 0); its {@link chain} is `[issuing, …parent chain]`.
   * @throws CardwrightError `CONFIG_INVALID` for bad options, `CA_REJECTED` when the parent has expired.
   */
  static async createIssuing(options: EmbeddedCaIssuingOptions): Promise<EmbeddedCa> {
    checkCreateOptions(options);
    const subject = parseName(options.subject);
    if (options.directory !== undefined) await prepareCaDirectory(options.directory);
    const keys = await generateCaKeyPair(options.keyAlgorithm);
    const publicKeyInfo = await publicKeyInfoOf(keys.publicKey);
    const der = await options.parent.#signSubordinate(subject, publicKeyInfo, options.validityDays);
    return EmbeddedCa.#finishCreate(options, keys.privateKey, [der, ...options.parent.#identity.chain]);
  }

  static async #finishCreate(
    options: EmbeddedCaCreateOptions,
    privateKey: CryptoKey,
    chain: Uint8Array[],
  ): Promise<EmbeddedCa> {
    const pkcs8 = await exportPkcs8(privateKey);
    const identity = await loadCaIdentity(options.keyAlgorithm, pkcs8, chain);
    const state = initialState(options);
    let store: CaStateStore;
    if (options.directory === undefined) {
      store = new MemoryCaStateStore(state);
    } else {
      await writeCaMaterial(options.directory, { privateKey: pkcs8, chain });
      const paths = caPaths(options.directory);
      const fileStore = new FileCaStateStore(paths.state, paths.lock, { journalPath: paths.journal });
      // The state file goes last: its presence is what marks the directory as holding a CA.
      await fileStore.initialise(state);
      store = fileStore;
    }
    pkcs8.fill(0);
    return new EmbeddedCa(options.id, identity, store, options);
  }

  /**
   * Open a CA a previous {@link create} or {@link createIssuing} wrote to `options.directory`.
   * @throws CardwrightError `CONFIG_INVALID` when the directory holds no CA, or its key does not
   * match its certificate.
   */
  static async open(options: EmbeddedCaOpenOptions): Promise<EmbeddedCa> {
    const paths = caPaths(options.directory);
    const store = new FileCaStateStore(paths.state, paths.lock, { journalPath: paths.journal });
    const material = await readCaMaterial(options.directory);
    const state = await store.read();
    const identity = await loadCaIdentity(state.keyAlgorithm, material.privateKey, material.chain);
    material.privateKey.fill(0);
    return new EmbeddedCa(state.id, identity, store, options, options.approvalMode);
  }

  /** This CA's certificate, DER. */
  get certificate(): Uint8Array {
    return (this.#identity.chain[0] as Uint8Array).slice();
  }

  /** This CA's subject, RFC 4514. */
  get subject(): string {
    return this.#identity.subject;
  }

  /** End of this CA's validity; issued certificates never outlive it. */
  get notAfter(): Date {
    return new Date(this.#identity.notAfter);
  }

  /** This CA's certificate, PEM. */
  certificatePem(): string {
    return toPem(this.#identity.chain[0] as Uint8Array, "CERTIFICATE");
  }

  /** The CA chain, this CA first, root last, DER. */
  async chain(): Promise<Uint8Array[]> {
    return this.#identity.chain.map((der) => der.slice());
  }

  /**
   * Submit a PKCS#10 request (RFC 2986). The self-signature is verified (proof of possession);
   * a request breaking an issuance rule is answered `rejected`; otherwise the certificate is
   * issued now, or held `pending` in manual approval mode. A `requestId` seen before returns
   * its first outcome without issuing again.
   * @throws CardwrightError `CA_INVALID_REQUEST` for bytes that are not a correctly self-signed
   * request, a malformed profile, or a CMC request on behalf (RFC 5272) that is malformed, whose
   * agent signature does not verify, or whose PKCS#10 is not `csr`. An agent the CA does not trust
   * (see {@link EmbeddedCaRuntime.enrollmentAgentIssuers}) is answered `rejected`.
   */
  async submit(request: CertificateRequest): Promise<CaResult> {
    assertRequestId(request, "submit");
    const known = (await this.#store.read()).requestIndex[request.requestId];
    if (known !== undefined) return this.poll(known);
    return this.#accept(request, undefined);
  }

  /**
   * Renew a certificate this CA issued: a new certificate for the CSR (same key or a new one,
   * as `request.rekey` says), issued or held like {@link submit}. The previous certificate is
   * recorded as superseded by the new one ({@link IssuedCertificateStatus.supersededBy}); it is
   * not revoked, because the holder keeps using it until the new one is on the card. A revoked
   * or held certificate is not renewed (`rejected`). Idempotent on `requestId`.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` when this CA did not issue
   * `previousCertificate`; `CA_INVALID_REQUEST` when the previous certificate and serial
   * disagree, it is a CA certificate, the CSR's key contradicts `rekey`, or as {@link submit}.
   */
  async renew(request: RenewalRequest): Promise<CaResult> {
    assertRequestId(request, "renew");
    const state = await this.#store.read();
    const known = state.requestIndex[request.requestId];
    if (known !== undefined) return this.poll(known);
    const details = { requestId: request.requestId };
    let previous: ReturnType<typeof parseCertificate>;
    try {
      previous = parseCertificate(request.previousCertificate);
    } catch (cause) {
      throw new CardwrightError("CA_INVALID_REQUEST", "renewal: previousCertificate is not a DER X.509 certificate", {
        details,
        cause,
      });
    }
    const serialHex = assertPreviousSerial(previous, request.previousSerialHex, details);
    const record = this.#issuedRecord(state.certificates, serialHex);
    if (record.der !== base64(request.previousCertificate)) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        `renewal: previousCertificate is not the certificate the embedded CA "${this.id}" issued with serial ${serialHex}`,
        { details: { ...details, serialHex } },
      );
    }
    if (record.caRequestId === undefined) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        `renewal: ${serialHex} is a CA certificate; create a new issuing CA instead of renewing it as an end entity`,
        { details: { ...details, serialHex } },
      );
    }
    return this.#accept(request, { serialHex, spki: previous.spki, rekey: request.rekey === true });
  }

  async #accept(request: CertificateRequest, renewal: RenewalTarget | undefined): Promise<CaResult> {
    const details = { requestId: request.requestId };
    // A request on behalf: the agent's signature must verify before anything is recorded; an
    // agent the CA does not trust is an issuance-rule violation, answered `rejected` below.
    const onBehalf =
      request.cmc === undefined
        ? undefined
        : await checkOnBehalfRequest(
            request.cmc,
            request.csr,
            this.#enrollmentAgentIssuers,
            this.#clock.now(),
            request.requestId,
          );
    let info: CertificationRequestInfo;
    try {
      assertValidProfile(request.profile);
      info = await readCertificationRequest(request.csr);
    } catch (err) {
      if (err instanceof CardwrightError) {
        throw new CardwrightError(err.code, err.message, { details: { ...err.details, ...details }, cause: err.cause });
      }
      throw err;
    }
    if (renewal !== undefined) {
      const csrSpki = new Uint8Array(info.publicKeyInfo.toSchema().toBER(false));
      assertRekeyMatchesCsr(csrSpki, renewal.spki, renewal.rekey, renewal.serialHex, details);
    }
    const result = await this.#store.update(async (state) => {
      // Another process may have taken this requestId since the read above.
      const raced = state.requestIndex[request.requestId];
      if (raced !== undefined) return raced;
      const now = this.#clock.now();
      const record: RequestRecord = {
        caRequestId: this.#random.uuid(),
        requestId: request.requestId,
        status: "pending",
        submittedAt: now.toISOString(),
        templateId: request.profile.templateId,
        subject: nameToString(info.subject),
        ...(renewal === undefined ? {} : { renewsSerialHex: renewal.serialHex }),
        ...(onBehalf === undefined ? {} : { enrollmentAgent: onBehalf.agentSubject }),
      };
      state.requests[record.caRequestId] = record;
      state.requestIndex[record.requestId] = record.caRequestId;
      const violation =
        onBehalf?.violation ??
        issuanceRuleViolation(info, request.profile) ??
        (renewal === undefined ? undefined : this.#renewalViolation(state, renewal.serialHex));
      if (violation !== undefined) {
        decide(record, now, { status: "rejected", reason: violation });
      } else if ((this.#approvalModeOverride ?? state.approvalMode) === "manual") {
        record.csr = base64(request.csr);
        record.profile = structuredClone(request.profile);
      } else {
        await this.#issue(state, record, info, request.profile);
      }
      return record.caRequestId;
    });
    return this.poll(result);
  }

  /**
   * The current outcome of a request.
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` for an id this CA never gave out.
   */
  async poll(caRequestId: string): Promise<CaResult> {
    const state = await this.#store.read();
    const record = state.requests[caRequestId];
    if (record === undefined) throw unknownRequest(caRequestId);
    return this.#outcome(state, record);
  }

  /** Requests waiting for {@link approve} or {@link reject}, oldest first. */
  async listPending(): Promise<PendingRequest[]> {
    const state = await this.#store.read();
    return Object.values(state.requests)
      .filter((r) => r.status === "pending")
      .sort((a, b) => a.submittedAt.localeCompare(b.submittedAt))
      .map(({ caRequestId, requestId, templateId, subject, submittedAt }) => ({
        caRequestId,
        requestId,
        templateId,
        subject,
        submittedAt,
      }));
  }

  /**
   * Operator approval: issue the certificate for a pending request. Approving an issued
   * request again returns the same certificate.
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` for an unknown id, `CA_WRONG_STATE` when the
   * request was rejected.
   */
  async approve(caRequestId: string): Promise<CaResult> {
    await this.#store.update(async (state) => {
      const record = state.requests[caRequestId];
      if (record === undefined) throw unknownRequest(caRequestId);
      if (record.status === "issued") return;
      if (record.status === "rejected") {
        throw new CardwrightError("CA_WRONG_STATE", `request ${caRequestId} was rejected and cannot be approved`, {
          details: { caRequestId, requestId: record.requestId, status: record.status },
        });
      }
      if (record.csr === undefined || record.profile === undefined) {
        throw new CardwrightError("CONFIG_INVALID", `pending request ${caRequestId} lost its CSR in the CA state`, {
          details: { caRequestId },
        });
      }
      const info = await readCertificationRequest(fromBase64(record.csr));
      await this.#issue(state, record, info, record.profile);
    });
    return this.poll(caRequestId);
  }

  /**
   * Operator refusal of a pending request. Rejecting a rejected request again is a no-op.
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` for an unknown id, `CA_WRONG_STATE` when a
   * certificate was already issued (revoke it instead).
   */
  async reject(caRequestId: string, reason: string): Promise<CaResult> {
    await this.#store.update((state) => {
      const record = state.requests[caRequestId];
      if (record === undefined) throw unknownRequest(caRequestId);
      if (record.status === "rejected") return;
      if (record.status === "issued") {
        throw new CardwrightError(
          "CA_WRONG_STATE",
          `request ${caRequestId} was already issued (serial ${record.serialHex}); revoke the certificate instead`,
          { details: { caRequestId, requestId: record.requestId, status: record.status } },
        );
      }
      decide(record, this.#clock.now(), {
        status: "rejected",
        reason: reason.trim() === "" ? "rejected by the CA operator" : reason,
      });
    });
    return this.poll(caRequestId);
  }

  /**
   * Revoke a certificate this CA issued (RFC 5280 §5.3.1 reason). Revoking again keeps the
   * first revocation; a certificate on hold becomes permanently revoked. `certificateHold` is
   * {@link suspend} and `removeFromCRL` is {@link unsuspend}.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` for a serial this CA did not issue.
   */
  async revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    assertRevocationReason(reason);
    if (reason === "certificateHold") return this.suspend(serialHex);
    if (reason === "removeFromCRL") return this.unsuspend(serialHex);
    await this.#store.update((state) => {
      const record = this.#issuedRecord(state.certificates, serialHex);
      if (record.revocation !== undefined && record.revocation.reason !== "certificateHold") return;
      record.revocation = { reason, revokedAt: this.#clock.now().toISOString() };
    });
  }

  /**
   * Put a certificate on hold (RFC 5280 §5.3.1 certificateHold); a no-op when already held.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` for an unknown serial, `CA_WRONG_STATE`
   * when the certificate is permanently revoked.
   */
  async suspend(serialHex: string): Promise<void> {
    await this.#store.update((state) => {
      const record = this.#issuedRecord(state.certificates, serialHex);
      if (record.revocation?.reason === "certificateHold") return;
      if (record.revocation !== undefined) throw this.#permanentlyRevoked(record.serialHex, record.revocation.reason);
      record.revocation = { reason: "certificateHold", revokedAt: this.#clock.now().toISOString() };
    });
  }

  /**
   * Lift a hold: the entry leaves the next CRL (the effect RFC 5280 §5.3.1 removeFromCRL has
   * on a delta CRL). A no-op for a certificate not on hold.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` for an unknown serial, `CA_WRONG_STATE`
   * when the certificate is permanently revoked.
   */
  async unsuspend(serialHex: string): Promise<void> {
    await this.#store.update((state) => {
      const record = this.#issuedRecord(state.certificates, serialHex);
      if (record.revocation === undefined) return;
      if (record.revocation.reason !== "certificateHold") {
        throw this.#permanentlyRevoked(record.serialHex, record.revocation.reason);
      }
      delete record.revocation;
    });
  }

  /**
   * The status of a certificate this CA issued.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` for an unknown serial.
   */
  async certificateStatus(serialHex: string): Promise<IssuedCertificateStatus> {
    return issuedStatus(this.#issuedRecord((await this.#store.read()).certificates, serialHex));
  }

  /** Every certificate this CA issued, with its revocation status (an operator's inventory). */
  async listIssued(): Promise<IssuedCertificateStatus[]> {
    return Object.values((await this.#store.read()).certificates).map(issuedStatus);
  }

  /**
   * Sign a new complete CRL v2 (RFC 5280 §5) listing every revoked or held certificate with
   * its reason code; each call takes the next cRLNumber.
   */
  async crl(): Promise<Uint8Array> {
    return this.#store.update(async (state) => {
      const thisUpdate = this.#clock.now();
      state.crlNumber += 1;
      const entries = Object.values(state.certificates).flatMap((record) => {
        if (record.revocation === undefined) return [];
        const code = CrlReasonCode[record.revocation.reason];
        return [
          {
            serialNumber: new Uint8Array(Buffer.from(record.serialHex, "hex")),
            revocationDate: new Date(record.revocation.revokedAt),
            ...(code === CrlReasonCode.unspecified ? {} : { reasonCode: code }),
          },
        ];
      });
      return signCrl(this.#identity.signer, {
        crlNumber: state.crlNumber,
        thisUpdate,
        nextUpdate: new Date(thisUpdate.getTime() + state.crlValidityHours * 3_600_000),
        entries,
      });
    });
  }

  async #issue(
    state: CaState,
    record: RequestRecord,
    info: CertificationRequestInfo,
    profile: CertificateProfile,
  ): Promise<void> {
    const now = this.#clock.now();
    if (now.getTime() >= this.#identity.notAfter.getTime()) {
      decide(record, now, {
        status: "rejected",
        reason: `the CA certificate expired on ${this.#identity.notAfter.toISOString()}`,
      });
      return;
    }
    const renewalViolation =
      record.renewsSerialHex === undefined ? undefined : this.#renewalViolation(state, record.renewsSerialHex);
    if (renewalViolation !== undefined) {
      decide(record, now, { status: "rejected", reason: renewalViolation });
      return;
    }
    const serialNumber = this.#uniqueSerial(state);
    const validity = validityWindow(now, profile.validityDays, this.#identity.notAfter);
    const der = await signEndEntityCertificate(this.#identity.signer, {
      request: info,
      profile,
      serialNumber,
      validity,
      ...(state.crlUrl === undefined ? {} : { crlUrl: state.crlUrl }),
    });
    const serialHex = serialToHex(serialNumber);
    state.certificates[serialHex] = {
      serialHex,
      caRequestId: record.caRequestId,
      subject: record.subject,
      der: base64(der),
      notAfter: validity.notAfter.toISOString(),
      ...(record.renewsSerialHex === undefined ? {} : { renews: record.renewsSerialHex }),
    };
    if (record.renewsSerialHex !== undefined) {
      const previous = state.certificates[record.renewsSerialHex];
      if (previous !== undefined) previous.supersededBy ??= serialHex;
    }
    decide(record, now, { status: "issued", serialHex });
  }

  /** Why the certificate `serialHex` may not be renewed now, or `undefined`. */
  #renewalViolation(state: ReadonlyCaState, serialHex: string): string | undefined {
    const revocation = state.certificates[serialHex]?.revocation;
    if (revocation === undefined) return undefined;
    return revocation.reason === "certificateHold"
      ? `certificate ${serialHex} is on hold; lift the hold before renewing it`
      : `certificate ${serialHex} is revoked (${revocation.reason}) and cannot be renewed; submit a new request`;
  }

  /** Sign a subordinate CA certificate and record it, so this CA can revoke it. */
  async #signSubordinate(
    subject: pkijs.RelativeDistinguishedNames,
    publicKeyInfo: pkijs.PublicKeyInfo,
    validityDays: number,
  ): Promise<Uint8Array> {
    return this.#store.update(async (state) => {
      const now = this.#clock.now();
      if (now.getTime() >= this.#identity.notAfter.getTime()) {
        throw new CardwrightError("CA_REJECTED", `parent CA "${this.id}" has expired and cannot sign an issuing CA`, {
          details: { caId: this.id },
        });
      }
      const serialNumber = this.#uniqueSerial(state);
      const validity = validityWindow(now, validityDays, this.#identity.notAfter);
      const der = await signCaCertificate(this.#identity.signer, {
        serialNumber,
        subject,
        publicKeyInfo,
        validity,
        pathLenConstraint: 0,
        ...(state.crlUrl === undefined ? {} : { crlUrl: state.crlUrl }),
      });
      const serialHex = serialToHex(serialNumber);
      state.certificates[serialHex] = {
        serialHex,
        subject: nameToString(subject),
        der: base64(der),
        notAfter: validity.notAfter.toISOString(),
      };
      return der;
    });
  }

  #uniqueSerial(state: ReadonlyCaState): Uint8Array {
    for (;;) {
      const serial = randomSerialNumber(this.#random);
      if (state.certificates[serialToHex(serial)] === undefined) return serial;
    }
  }

  #issuedRecord<R>(certificates: { readonly [serialHex: string]: R }, serialHex: string): R {
    const normalized = normalizeSerialHex(serialHex);
    const record = certificates[normalized];
    if (record === undefined) {
      throw new CardwrightError(
        "CA_UNKNOWN_CERTIFICATE",
        `the embedded CA "${this.id}" did not issue a certificate with serial ${normalized}`,
        { details: { serialHex: normalized, caId: this.id } },
      );
    }
    return record;
  }

  #permanentlyRevoked(serialHex: string, reason: RevocationReason): CardwrightError {
    return new CardwrightError(
      "CA_WRONG_STATE",
      `certificate ${serialHex} is permanently revoked (${reason}); a hold can no longer be placed or lifted`,
      { details: { serialHex, reason } },
    );
  }

  #outcome(state: ReadonlyCaState, record: DeepReadonly<RequestRecord>): CaResult {
    switch (record.status) {
      case "issued": {
        const certificate = record.serialHex === undefined ? undefined : state.certificates[record.serialHex];
        if (certificate === undefined) {
          throw new CardwrightError(
            "CONFIG_INVALID",
            `issued request ${record.caRequestId} has no certificate in the CA state`,
            {
              details: { caRequestId: record.caRequestId, requestId: record.requestId },
            },
          );
        }
        return {
          status: "issued",
          caRequestId: record.caRequestId,
          certificate: fromBase64(certificate.der),
          chain: this.#identity.chain.map((der) => der.slice()),
        };
      }
      case "pending":
        return { status: "pending", caRequestId: record.caRequestId, retryAfterSeconds: state.retryAfterSeconds };
      case "rejected":
        return { status: "rejected", caRequestId: record.caRequestId, reason: record.reason ?? "rejected" };
    }
  }
}

function issuedStatus(record: DeepReadonly<IssuedCertificateRecord>): IssuedCertificateStatus {
  return {
    serialHex: record.serialHex,
    subject: record.subject,
    certificate: fromBase64(record.der),
    notAfter: new Date(record.notAfter),
    ...(record.renews === undefined ? {} : { renews: record.renews }),
    ...(record.supersededBy === undefined ? {} : { supersededBy: record.supersededBy }),
    ...(record.revocation === undefined
      ? {}
      : { revocation: { reason: record.revocation.reason, revokedAt: new Date(record.revocation.revokedAt) } }),
  };
}
