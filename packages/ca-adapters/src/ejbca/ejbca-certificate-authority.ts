/**
 * A `CertificateAuthority` over EJBCA's REST interface (EJBCA CE REST API v1), authenticated
 * with a TLS client certificate:
 *
 * - `POST /v1/certificate/pkcs10enroll` — enroll a PKCS#10 request under a certificate profile,
 *   end entity profile and CA; `201` issues, `202` means the request waits for approval;
 * - `POST /v1/certificate/{request_id}/finalize` — collect the certificate once approved;
 * - `PUT /v1/certificate/{issuer_dn}/{serial}/revoke?reason=…` and `GET …/revocationstatus`;
 * - `GET /v1/ca/{subject_dn}/certificate/download` — the CA chain, PEM.
 *
 * Each request becomes its own EJBCA end entity, named from our requestId; its enrollment code
 * (password) is derived from a configured secret with HMAC-SHA256, so it is never stored and
 * can be recomputed to finalize after approval.
 */
import { createHmac } from "node:crypto";
import {
  type CaResult,
  CardwrightError,
  type CertificateAuthority,
  type CertificateRequest,
  csrPublicKey,
  parseCertificate,
  type RenewalRequest,
  type RenewalSupport,
  type RevocationReason,
  spkiEquals,
} from "@cardwright/core";
import * as pkijs from "pkijs";
import { readSubmittedCertificationRequest } from "../embedded/certification-request.js";
import { assertRevocationReason } from "../embedded/revocation-reason.js";
import { normalizeSerialHex } from "../embedded/serial-number.js";
import type { HttpsOptions } from "../http/https-request.js";
import { fromPemAll, toPem } from "../pem.js";
import { assertRenewalOfIssued, signedBy } from "../renewal-checks.js";
import { SingleFlight } from "../single-flight.js";
import { type EjbcaLedger, type EjbcaLedgerEntry, MemoryEjbcaLedger } from "./ejbca-ledger.js";
import {
  approvalIdFromMessage,
  EJBCA_REVOCATION_REASON,
  type EjbcaAnswer,
  ejbcaCall,
  pathSegment,
  revocationReasonFromEjbca,
} from "./ejbca-rest.js";

/** Options for {@link EjbcaCertificateAuthority}. */
export interface EjbcaCertificateAuthorityOptions extends HttpsOptions {
  /** The id policies' certificate templates refer to. */
  id: string;
  /** `https://host:port` of EJBCA or its RA. */
  url: string;
  /** EJBCA's name of the issuing CA (`certificate_authority_name`). */
  certificateAuthorityName: string;
  /** The issuing CA's subject DN exactly as EJBCA shows it, for revocation and chain calls. */
  issuerDn: string;
  /** Certificate profile used when the template's `caProfile` is absent. */
  certificateProfileName: string;
  /** End entity profile for the end entities this adapter creates. */
  endEntityProfileName: string;
  /**
   * Secret the end entities' enrollment codes are derived from (HMAC-SHA256 over the username).
   * Keep it stable: finalizing an approved request needs the same code.
   */
  enrollmentSecret: string | Uint8Array;
  /** Prefix of end entity usernames (default `cardwright-`); the requestId follows. */
  usernamePrefix?: string;
  /** Where outcomes are kept for idempotency; in memory when omitted. */
  ledger?: EjbcaLedger;
}

/** A certificate's status as EJBCA reports it. */
export type EjbcaRevocationStatus = { revoked: false } | { revoked: true; reason: RevocationReason; revokedAt?: Date };

const APPROVAL_PREFIX = "approval-";

function config(option: string, message: string): CardwrightError {
  return new CardwrightError("CONFIG_INVALID", `EJBCA CA: ${message}`, { details: { option } });
}

function badResponse(what: string, answer: EjbcaAnswer, extra = ""): CardwrightError {
  return new CardwrightError(
    "CA_BAD_RESPONSE",
    `EJBCA ${what}: unexpected answer HTTP ${answer.status}${answer.message === undefined ? "" : ` (${answer.message})`}${extra}`,
    { details: { httpStatus: answer.status } },
  );
}

function refusedCredentials(what: string, answer: EjbcaAnswer): CardwrightError {
  return new CardwrightError(
    "CONFIG_INVALID",
    `EJBCA ${what}: access denied (HTTP ${answer.status}${answer.message === undefined ? "" : `, ${answer.message}`}); ` +
      "check that the TLS client certificate belongs to an EJBCA administrator role allowed to do this",
    { details: { httpStatus: answer.status } },
  );
}

/** Base64 DER from EJBCA; some versions base64-encode the base64 text again. */
function decodeCertificateField(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const once = Buffer.from(value, "base64");
  if (once[0] === 0x30) return new Uint8Array(once);
  const twice = Buffer.from(once.toString("ascii"), "base64");
  return twice[0] === 0x30 ? new Uint8Array(twice) : undefined;
}

/** Order CA certificates issuing-first: each next one is the issuer of the previous. */
function orderCaChain(certificates: Uint8Array[]): Uint8Array[] {
  const parsed = certificates.map((der) => ({ der, cert: pkijs.Certificate.fromBER(Uint8Array.from(der)) }));
  const isIssuerOfAnother = (candidate: (typeof parsed)[number]) =>
    parsed.some((p) => p !== candidate && p.cert.issuer.isEqual(candidate.cert.subject));
  const first = parsed.find((p) => !isIssuerOfAnother(p)) ?? parsed[0];
  if (first === undefined) return [];
  const ordered = [first];
  const rest = parsed.filter((p) => p !== first);
  for (let current = first; !current.cert.issuer.isEqual(current.cert.subject); ) {
    const index = rest.findIndex((p) => p.cert.subject.isEqual(current.cert.issuer));
    if (index < 0) break;
    const [next] = rest.splice(index, 1);
    if (next === undefined) break;
    ordered.push(next);
    current = next;
  }
  return [...ordered, ...rest].map((p) => p.der);
}

/**
 * The EJBCA `CertificateAuthority`. Approval profiles on the EJBCA side make submits answer
 * `pending`; {@link EjbcaCertificateAuthority.poll} finalizes once an administrator approved.
 */
export class EjbcaCertificateAuthority implements CertificateAuthority {
  /** The id policies' certificate templates refer to. */
  readonly id: string;
  /**
   * EJBCA enrolls a new CSR for the same key or a new one (a CA set to enforce unique public
   * keys refuses the same key; that refusal comes back as `rejected`).
   */
  readonly renewal: RenewalSupport = Object.freeze({ sameKey: true, rekey: true });
  readonly #options: Omit<EjbcaCertificateAuthorityOptions, "enrollmentSecret">;
  readonly #secret: Buffer;
  readonly #ledger: EjbcaLedger;
  readonly #flights = new SingleFlight<CaResult>();
  #chain: Promise<Uint8Array[]> | undefined;

  /** @throws CardwrightError `CONFIG_INVALID` for a missing option or a URL that is not https. */
  constructor(options: EjbcaCertificateAuthorityOptions) {
    for (const name of [
      "id",
      "certificateAuthorityName",
      "issuerDn",
      "certificateProfileName",
      "endEntityProfileName",
    ] as const) {
      if (typeof options[name] !== "string" || options[name].trim() === "")
        throw config(name, `${name} must be non-empty`);
    }
    if (!URL.canParse(options.url) || new URL(options.url).protocol !== "https:") {
      throw config("url", `url "${options.url}" must be an https URL (EJBCA's REST interface needs TLS client auth)`);
    }
    const secret =
      typeof options.enrollmentSecret === "string"
        ? Buffer.from(options.enrollmentSecret, "utf8")
        : Buffer.from(options.enrollmentSecret);
    if (secret.length < 16) throw config("enrollmentSecret", "enrollmentSecret must be at least 16 bytes");
    this.id = options.id;
    this.#secret = secret;
    const { enrollmentSecret: _secret, ...rest } = options;
    this.#options = rest;
    this.#ledger = options.ledger ?? new MemoryEjbcaLedger();
  }

  /**
   * Enroll a PKCS#10 request (`pkcs10enroll`, certificate profile from the template's
   * `caProfile` or the configured default). The CSR's self-signature is checked first.
   * Idempotent on `requestId` through the ledger.
   * @throws CardwrightError `CA_INVALID_REQUEST` for a CMC request, a CSR that is not correctly
   * self-signed, or a profile/CA EJBCA does not know; `CONFIG_INVALID` when EJBCA denies our
   * client certificate; `CA_UNAVAILABLE` for network failures, timeouts and 5xx;
   * `CA_BAD_RESPONSE` for garbage or a certificate for another key or from another CA.
   */
  submit(request: CertificateRequest): Promise<CaResult> {
    if (typeof request.requestId !== "string" || request.requestId === "") {
      return Promise.reject(new CardwrightError("CA_INVALID_REQUEST", "submit needs a non-empty requestId"));
    }
    return this.#flights.run(request.requestId, () => this.#submit(request));
  }

  /**
   * Renew: enroll the new CSR as a new end entity. EJBCA keeps no link to the previous
   * certificate; revoke it (`superseded`) once the new one is in use.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` when this CA did not sign
   * `previousCertificate`; `CA_INVALID_REQUEST` when its serial is not `previousSerialHex` or the
   * CSR's key contradicts `rekey`; otherwise as {@link submit}.
   */
  renew(request: RenewalRequest): Promise<CaResult> {
    if (typeof request.requestId !== "string" || request.requestId === "") {
      return Promise.reject(new CardwrightError("CA_INVALID_REQUEST", "renew needs a non-empty requestId"));
    }
    return this.#flights.run(request.requestId, async () => {
      const known = await this.#ledger.byRequestId(request.requestId);
      if (known !== undefined) return this.#answer(known);
      const [issuer] = await this.chain();
      await assertRenewalOfIssued(request, issuer, `issued by EJBCA CA "${this.#options.certificateAuthorityName}"`);
      return this.#submit(request);
    });
  }

  /**
   * The outcome of a request: from the ledger once decided, else by asking EJBCA to finalize
   * the approval request (`/v1/certificate/{request_id}/finalize`).
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` for an id this adapter never gave out or EJBCA
   * does not know; `CA_WRONG_STATE` when EJBCA finalized it already but the outcome was lost.
   */
  async poll(caRequestId: string): Promise<CaResult> {
    const entry = await this.#ledger.byCaRequestId(caRequestId);
    if (entry === undefined) {
      throw new CardwrightError(
        "CA_UNKNOWN_REQUEST",
        `the EJBCA CA "${this.id}" has no request ${caRequestId} in its ledger`,
        { details: { caRequestId } },
      );
    }
    return this.#answer(entry);
  }

  /**
   * Revoke (`PUT …/revoke?reason=…`). Revoking an already revoked certificate is accepted
   * (EJBCA answers 409 and keeps its first reason). `certificateHold` and `removeFromCRL` are
   * {@link suspend} and {@link unsuspend}.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` for a serial EJBCA does not know;
   * `CA_WRONG_STATE` when EJBCA holds the revocation for approval; `CA_REJECTED` when it refuses.
   */
  async revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    assertRevocationReason(reason);
    if (reason === "certificateHold") return this.suspend(serialHex);
    if (reason === "removeFromCRL") return this.unsuspend(serialHex);
    const answer = await this.#revokeCall(serialHex, reason);
    if (answer.status === 200 || answer.status === 409) return;
    throw this.#revocationFailure(serialHex, reason, answer);
  }

  /**
   * Put on hold (EJBCA reason CERTIFICATE_HOLD); a no-op when already on hold.
   * @throws CardwrightError `CA_WRONG_STATE` when the certificate is permanently revoked;
   * otherwise as {@link revoke}.
   */
  async suspend(serialHex: string): Promise<void> {
    const answer = await this.#revokeCall(serialHex, "certificateHold");
    if (answer.status === 200) return;
    if (answer.status === 409) {
      const status = await this.revocationStatus(serialHex);
      if (status.revoked && status.reason === "certificateHold") return;
      throw new CardwrightError(
        "CA_WRONG_STATE",
        `certificate ${normalizeSerialHex(serialHex)} is permanently revoked; a hold can no longer be placed`,
        { details: { serialHex: normalizeSerialHex(serialHex) } },
      );
    }
    throw this.#revocationFailure(serialHex, "certificateHold", answer);
  }

  /**
   * Lift a hold (EJBCA reason REMOVE_FROM_CRL); a no-op for a certificate not on hold.
   * @throws CardwrightError `CA_WRONG_STATE` when the certificate is permanently revoked;
   * otherwise as {@link revoke}.
   */
  async unsuspend(serialHex: string): Promise<void> {
    const answer = await this.#revokeCall(serialHex, "removeFromCRL");
    if (answer.status === 200) return;
    if (answer.status === 400 || answer.status === 409) {
      const status = await this.revocationStatus(serialHex);
      if (!status.revoked) return;
      if (status.reason !== "certificateHold") {
        throw new CardwrightError(
          "CA_WRONG_STATE",
          `certificate ${normalizeSerialHex(serialHex)} is permanently revoked (${status.reason}); it cannot be released`,
          { details: { serialHex: normalizeSerialHex(serialHex), reason: status.reason } },
        );
      }
    }
    throw this.#revocationFailure(serialHex, "removeFromCRL", answer);
  }

  /**
   * EJBCA's status of a certificate (`GET …/revocationstatus`).
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` for a serial EJBCA does not know.
   */
  async revocationStatus(serialHex: string): Promise<EjbcaRevocationStatus> {
    const serial = normalizeSerialHex(serialHex);
    const answer = await ejbcaCall(
      this.#options,
      "GET",
      `/v1/certificate/${pathSegment(this.#options.issuerDn)}/${pathSegment(serial.toUpperCase())}/revocationstatus`,
    );
    if (answer.status === 404) throw this.#unknownCertificate(serial, answer);
    if (answer.status === 401 || answer.status === 403) throw refusedCredentials("revocation status", answer);
    const json = answer.json as
      | { revoked?: unknown; revocation_reason?: unknown; revocation_date?: unknown }
      | undefined;
    if (answer.status !== 200 || typeof json?.revoked !== "boolean") throw badResponse("revocation status", answer);
    if (!json.revoked) return { revoked: false };
    const reason =
      typeof json.revocation_reason === "string" ? revocationReasonFromEjbca(json.revocation_reason) : undefined;
    if (reason === undefined)
      throw badResponse("revocation status", answer, ": revoked without a known revocation_reason");
    const revokedAt = typeof json.revocation_date === "string" ? new Date(json.revocation_date) : undefined;
    return {
      revoked: true,
      reason,
      ...(revokedAt === undefined || Number.isNaN(revokedAt.getTime()) ? {} : { revokedAt }),
    };
  }

  /**
   * The CA chain from `GET /v1/ca/{subject_dn}/certificate/download`, issuing CA first; cached.
   * @throws CardwrightError `CA_UNAVAILABLE`; `CA_BAD_RESPONSE` when the answer holds no
   * certificate; `CONFIG_INVALID` when EJBCA does not know `issuerDn` or denies access.
   */
  async chain(): Promise<Uint8Array[]> {
    this.#chain ??= this.#fetchChain().catch((err: unknown) => {
      this.#chain = undefined;
      throw err;
    });
    return (await this.#chain).map((der) => der.slice());
  }

  async #fetchChain(): Promise<Uint8Array[]> {
    const answer = await ejbcaCall(
      this.#options,
      "GET",
      `/v1/ca/${pathSegment(this.#options.issuerDn)}/certificate/download`,
    );
    if (answer.status === 404)
      throw config("issuerDn", `EJBCA has no CA "${this.#options.issuerDn}" (${answer.message ?? "404"})`);
    if (answer.status === 401 || answer.status === 403) throw refusedCredentials("CA certificate download", answer);
    if (answer.status !== 200) throw badResponse("CA certificate download", answer);
    let blocks: Uint8Array[];
    try {
      blocks = fromPemAll(Buffer.from(answer.body).toString("utf8"), "CERTIFICATE").map((b) => b.der);
      for (const der of blocks) parseCertificate(der);
    } catch (cause) {
      throw new CardwrightError("CA_BAD_RESPONSE", "EJBCA CA certificate download is not a PEM certificate chain", {
        cause,
      });
    }
    if (blocks.length === 0) throw badResponse("CA certificate download", answer, ": no certificate in it");
    return orderCaChain(blocks);
  }

  #username(requestId: string): string {
    return `${this.#options.usernamePrefix ?? "cardwright-"}${requestId}`;
  }

  /** The end entity's enrollment code: derived, never stored, never logged. */
  #password(username: string): string {
    return createHmac("sha256", this.#secret)
      .update(`ejbca-enrollment-code\0${username}`)
      .digest("base64url")
      .slice(0, 32);
  }

  async #submit(request: CertificateRequest): Promise<CaResult> {
    const known = await this.#ledger.byRequestId(request.requestId);
    if (known !== undefined) return this.#answer(known);
    const details = { requestId: request.requestId };
    if (request.cmc !== undefined) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        "EJBCA's pkcs10enroll takes a PKCS#10 request, not CMC (RFC 5272); submit the csr on its own",
        { details },
      );
    }
    await readSubmittedCertificationRequest(request.csr, details);
    const username = this.#username(request.requestId);
    const certificateProfileName = request.profile.caProfile ?? this.#options.certificateProfileName;
    const answer = await ejbcaCall(this.#options, "POST", "/v1/certificate/pkcs10enroll", {
      certificate_request: toPem(request.csr, "CERTIFICATE REQUEST"),
      certificate_profile_name: certificateProfileName,
      end_entity_profile_name: this.#options.endEntityProfileName,
      certificate_authority_name: this.#options.certificateAuthorityName,
      username,
      password: this.#password(username),
      include_chain: true,
    });
    const spki = csrPublicKey(request.csr);
    switch (answer.status) {
      case 200:
      case 201:
        return this.#issued(request.requestId, undefined, answer, spki, "pkcs10enroll");
      case 202: {
        const approvalId = approvalIdFromMessage(answer.message);
        if (approvalId === undefined) {
          throw badResponse(
            "pkcs10enroll",
            answer,
            ": waiting for approval, but the answer names no approval request id",
          );
        }
        const entry: EjbcaLedgerEntry = {
          requestId: request.requestId,
          status: "pending",
          caRequestId: `${APPROVAL_PREFIX}${approvalId}`,
          approvalId,
          username,
          spki,
        };
        await this.#ledger.record(entry);
        return { status: "pending", caRequestId: entry.caRequestId };
      }
      case 400:
      case 409:
      case 422:
        return this.#rejected(
          request.requestId,
          undefined,
          `EJBCA refused the enrollment: ${answer.message ?? `HTTP ${answer.status}`}`,
        );
      case 401:
      case 403:
        throw refusedCredentials("pkcs10enroll", answer);
      case 404:
        throw new CardwrightError(
          "CA_INVALID_REQUEST",
          `EJBCA does not know the CA, certificate profile "${certificateProfileName}" or end entity profile: ${answer.message ?? "404"}`,
          { details: { ...details, certificateProfileName } },
        );
      default:
        throw badResponse("pkcs10enroll", answer);
    }
  }

  async #finalize(entry: Extract<EjbcaLedgerEntry, { status: "pending" }>): Promise<CaResult> {
    const answer = await ejbcaCall(this.#options, "POST", `/v1/certificate/${entry.approvalId}/finalize`, {
      response_format: "DER",
      password: this.#password(entry.username),
    });
    const message = answer.message ?? "";
    switch (answer.status) {
      case 200:
      case 201:
        return this.#issued(entry.requestId, entry.caRequestId, answer, entry.spki, "finalize");
      case 202:
        return { status: "pending", caRequestId: entry.caRequestId };
      case 400:
        if (/could not find/i.test(message)) {
          throw new CardwrightError(
            "CA_UNKNOWN_REQUEST",
            `EJBCA has no approval request ${entry.approvalId}: ${message}`,
            {
              details: { caRequestId: entry.caRequestId, requestId: entry.requestId },
            },
          );
        }
        if (/already been finalized/i.test(message)) {
          throw new CardwrightError(
            "CA_WRONG_STATE",
            `EJBCA finalized approval request ${entry.approvalId} already but its certificate was not recorded; ` +
              `find it under end entity ${entry.username} in EJBCA`,
            { details: { caRequestId: entry.caRequestId, requestId: entry.requestId } },
          );
        }
        return this.#rejected(entry.requestId, entry.caRequestId, `EJBCA: ${message || "request refused"}`);
      case 401:
      case 403:
        throw refusedCredentials("finalize", answer);
      default:
        throw badResponse("finalize", answer);
    }
  }

  async #issued(
    requestId: string,
    caRequestId: string | undefined,
    answer: EjbcaAnswer,
    spki: Uint8Array | undefined,
    what: string,
  ): Promise<CaResult> {
    const json = answer.json as
      | { certificate?: unknown; certificate_chain?: unknown; response_format?: unknown }
      | undefined;
    if (json === undefined || (json.response_format !== undefined && json.response_format !== "DER")) {
      throw badResponse(what, answer, ": expected a JSON CertificateRestResponse in DER format");
    }
    const certificate = decodeCertificateField(json.certificate);
    if (certificate === undefined) throw badResponse(what, answer, ": certificate is not base64 DER");
    let serialHex: string;
    if (spki !== undefined) {
      const summary = parseCertificate(certificate);
      if (!spkiEquals(summary.spki, spki)) {
        throw new CardwrightError(
          "CA_BAD_RESPONSE",
          `EJBCA ${what}: the CA returned a certificate for a different public key than the request's; refusing it`,
          { details: { serialHex: summary.serialHex, requestId } },
        );
      }
      serialHex = summary.serialHex;
    } else {
      serialHex = parseCertificate(certificate).serialHex;
    }
    const chain = await this.chain();
    const [issuer] = chain;
    if (issuer === undefined || !(await signedBy(certificate, issuer))) {
      throw new CardwrightError(
        "CA_BAD_RESPONSE",
        `EJBCA ${what}: certificate ${serialHex} was not signed by CA "${this.#options.issuerDn}"`,
        { details: { serialHex, requestId } },
      );
    }
    await this.#ledger.record({
      requestId,
      status: "issued",
      caRequestId: caRequestId ?? serialHex,
      certificate,
      chain,
    });
    const recorded = await this.#ledger.byRequestId(requestId);
    return this.#answer(recorded as EjbcaLedgerEntry);
  }

  async #rejected(requestId: string, caRequestId: string | undefined, reason: string): Promise<CaResult> {
    await this.#ledger.record({
      requestId,
      status: "rejected",
      ...(caRequestId === undefined ? {} : { caRequestId }),
      reason,
    });
    return this.#answer((await this.#ledger.byRequestId(requestId)) as EjbcaLedgerEntry);
  }

  async #answer(entry: EjbcaLedgerEntry): Promise<CaResult> {
    switch (entry.status) {
      case "issued":
        return {
          status: "issued",
          caRequestId: entry.caRequestId,
          certificate: entry.certificate.slice(),
          chain: entry.chain.map((c) => c.slice()),
        };
      case "rejected":
        return {
          status: "rejected",
          ...(entry.caRequestId === undefined ? {} : { caRequestId: entry.caRequestId }),
          reason: entry.reason,
        };
      case "pending":
        return this.#finalize(entry);
    }
  }

  #revokeCall(serialHex: string, reason: RevocationReason): Promise<EjbcaAnswer> {
    const serial = normalizeSerialHex(serialHex).toUpperCase();
    return ejbcaCall(
      this.#options,
      "PUT",
      `/v1/certificate/${pathSegment(this.#options.issuerDn)}/${pathSegment(serial)}/revoke?reason=${EJBCA_REVOCATION_REASON[reason]}`,
    );
  }

  #unknownCertificate(serial: string, answer: EjbcaAnswer): CardwrightError {
    return new CardwrightError(
      "CA_UNKNOWN_CERTIFICATE",
      `EJBCA CA "${this.#options.issuerDn}" has no certificate with serial ${serial}${answer.message === undefined ? "" : ` (${answer.message})`}`,
      { details: { serialHex: serial } },
    );
  }

  #revocationFailure(serialHex: string, reason: RevocationReason, answer: EjbcaAnswer): CardwrightError {
    const serial = normalizeSerialHex(serialHex);
    if (answer.status === 404) return this.#unknownCertificate(serial, answer);
    if (answer.status === 401 || answer.status === 403) return refusedCredentials("revoke", answer);
    if (answer.status === 202) {
      return new CardwrightError(
        "CA_WRONG_STATE",
        `EJBCA holds the ${reason} of ${serial} for approval${answer.message === undefined ? "" : ` (${answer.message})`}; it takes effect once approved`,
        { details: { serialHex: serial, reason } },
      );
    }
    if (answer.status === 400 || answer.status === 422) {
      return new CardwrightError(
        "CA_REJECTED",
        `EJBCA refused the ${reason} of ${serial}: ${answer.message ?? "HTTP 400"}`,
        {
          details: { serialHex: serial, reason, httpStatus: answer.status },
        },
      );
    }
    return badResponse(`revoke (${reason})`, answer);
  }
}
