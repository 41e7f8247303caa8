/**
 * A `CertificateAuthority` over CloudFlare's cfssl (`cfssl serve`) JSON API:
 * `POST /api/v1/cfssl/sign` (or `/authsign` with HMAC-SHA256 when the profile has an
 * `auth_key`), `/info` for the signer's certificate, `/revoke` against the certificate database
 * (`cfssl serve -db-config`).
 *
 * What cfssl does not do, and how this adapter answers:
 * - no approval: cfssl signs or refuses at once, so results are never `pending`;
 * - no request ids and no idempotency: a {@link CfsslLedger} keeps requestId → outcome (see its
 *   limits); the certificate's serial serves as `caRequestId`;
 * - no hold release: `certificateHold` could be set but never lifted through the API, so
 *   `suspend`/`unsuspend` throw `CA_UNSUPPORTED` rather than leave a hold nobody can lift;
 * - renewal is signing again, for the same key or a new one;
 * - keyUsage, extKeyUsage and validity come from the cfssl signing profile named by
 *   `CertificateProfile.caProfile` (cfssl's `default` profile when absent), not from the rest
 *   of `CertificateProfile` — keep the two in step;
 * - cfssl copies DNS, IP and e-mail SANs from the CSR but drops otherName SANs (the Microsoft
 *   UPN smart-card logon needs), so use another CA for Windows logon certificates.
 */
import {
  type CaResult,
  CardwrightError,
  type CertificateAuthority,
  type CertificateProfile,
  type CertificateRequest,
  parseCertificate,
  type RenewalRequest,
  type RenewalSupport,
  type RevocationReason,
} from "@cardwright/core";
import * as pkijs from "pkijs";
import { readSubmittedCertificationRequest } from "../embedded/certification-request.js";
import { assertRevocationReason } from "../embedded/revocation-reason.js";
import { normalizeSerialHex } from "../embedded/serial-number.js";
import type { HttpsOptions } from "../http/https-request.js";
import { assertIssuedForCsr } from "../issued-certificate.js";
import { fromPem, toPem } from "../pem.js";
import { assertRenewalOfIssued, signedBy } from "../renewal-checks.js";
import { SingleFlight } from "../single-flight.js";
import { authenticateCfsslRequest, decodeCfsslAuthKey } from "./cfssl-auth.js";
import { type CfsslLedger, type CfsslLedgerEntry, MemoryCfsslLedger } from "./cfssl-ledger.js";
import { type CfsslProfileGrant, decodeCfsslProfile, profileMismatch } from "./cfssl-profile.js";
import { type CfsslAnswer, type CfsslErrorEntry, cfsslPost, resultCertificatePem } from "./cfssl-transport.js";

/** Options for {@link CfsslCertificateAuthority}. */
export interface CfsslCertificateAuthorityOptions extends HttpsOptions {
  /** The id policies' certificate templates refer to. */
  id: string;
  /** Base URL of `cfssl serve`, e.g. `http://127.0.0.1:8888`. */
  url: string;
  /**
   * The signing profile's `auth_key` (hex, as in the cfssl configuration). When set, requests go
   * to `/authsign` with an HMAC-SHA256 token; a shared secret, never logged.
   */
  authKey?: string;
  /** cfssl signer label (multi-root cfssl); empty for the default signer. */
  label?: string;
  /** Certificates above cfssl's signing certificate, issuer's issuer first, DER; `/info` returns only the signer. */
  chainAbove?: readonly Uint8Array[];
  /** Where outcomes are kept for idempotency; in memory when omitted. */
  ledger?: CfsslLedger;
  /**
   * Before signing, compare the cfssl profile's usages and expiry (from `/info`) with the
   * `CertificateProfile` and refuse a mismatch (default true). cfssl silently signs with its
   * default profile when asked for an unknown one; this check is what catches that.
   */
  verifyProfile?: boolean;
}

type IssuedEntry = Extract<CfsslLedgerEntry, { status: "issued" }>;

/** cfssl `errors` categories (first digit of the 4/5-digit code) this adapter tells apart. */
const CFSSL_CSR_ERROR = 9000;
const CFSSL_CERT_STORE_ERROR = 11000;
const CFSSL_RECORD_NOT_FOUND = 11200;
const CFSSL_INVALID_POLICY = 5200;

/** cfssl's own reason names (`ocsp.ReasonStringToCode`, case-insensitive). */
function cfsslReason(reason: RevocationReason): string {
  return reason.toLowerCase();
}

/** cfssl keeps serials as decimal strings (Go `big.Int.String`). */
function serialDecimal(serialHex: string): string {
  return BigInt(`0x${serialHex}`).toString(10);
}

function describeErrors(errors: readonly CfsslErrorEntry[]): string {
  return errors.map((e) => `${e.code} ${e.message}`).join("; ");
}

function unsupported(message: string, details: Record<string, string> = {}): CardwrightError {
  return new CardwrightError("CA_UNSUPPORTED", message, { details: { ca: "cfssl", ...details } });
}

/**
 * The cfssl `CertificateAuthority`. Results are `issued` or `rejected`, never `pending`.
 */
export class CfsslCertificateAuthority implements CertificateAuthority {
  /** The id policies' certificate templates refer to. */
  readonly id: string;
  /** cfssl signs any CSR again: renewal works for the same key and for a new one. */
  readonly renewal: RenewalSupport = Object.freeze({ sameKey: true, rekey: true });
  readonly #options: CfsslCertificateAuthorityOptions;
  readonly #authKey: Uint8Array | undefined;
  readonly #ledger: CfsslLedger;
  readonly #flights = new SingleFlight<CaResult>();
  #chain: Promise<Uint8Array[]> | undefined;
  readonly #grants = new Map<string, Promise<CfsslProfileGrant>>();

  /**
   * @throws CardwrightError `CONFIG_INVALID` for an empty id, a URL that is not http(s), or an
   * auth key that is not hex.
   */
  constructor(options: CfsslCertificateAuthorityOptions) {
    if (typeof options.id !== "string" || options.id.trim() === "") {
      throw new CardwrightError("CONFIG_INVALID", "cfssl CA: id must be non-empty", { details: { option: "id" } });
    }
    if (!URL.canParse(options.url) || !/^https?:$/.test(new URL(options.url).protocol)) {
      throw new CardwrightError("CONFIG_INVALID", `cfssl CA: url "${options.url}" is not an http(s) URL`, {
        details: { option: "url" },
      });
    }
    this.id = options.id;
    this.#authKey = options.authKey === undefined ? undefined : decodeCfsslAuthKey(options.authKey);
    this.#options = { ...options };
    delete this.#options.authKey;
    this.#ledger = options.ledger ?? new MemoryCfsslLedger();
  }

  /**
   * Sign a PKCS#10 request with the cfssl profile `request.profile.caProfile`. Idempotent on
   * `requestId` through the ledger (concurrent calls with one id share one cfssl call).
   * @throws CardwrightError `CA_INVALID_REQUEST` for a CMC request, a CSR that is not correctly
   * self-signed or that cfssl cannot decode, or a cfssl profile that does not match the template; `CONFIG_INVALID` when cfssl refuses our authentication;
   * `CA_UNAVAILABLE` when cfssl is unreachable, times out or answers 5xx; `CA_BAD_RESPONSE`
   * for garbage or a certificate for another key or from another CA.
   */
  submit(request: CertificateRequest): Promise<CaResult> {
    if (typeof request.requestId !== "string" || request.requestId === "") {
      return Promise.reject(
        new CardwrightError("CA_INVALID_REQUEST", "submit needs a non-empty requestId (the idempotency key)"),
      );
    }
    return this.#flights.run(request.requestId, () => this.#submit(request));
  }

  /**
   * Renew: sign the new CSR (same key or new key, as `rekey` says). cfssl keeps no link between
   * the two certificates; revoke the previous one (`superseded`) once the new one is in use.
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` when `previousCertificate` was not signed
   * by this cfssl signer; `CA_INVALID_REQUEST` when its serial is not `previousSerialHex` or the
   * CSR's key contradicts `rekey`; otherwise as {@link submit}.
   */
  renew(request: RenewalRequest): Promise<CaResult> {
    if (typeof request.requestId !== "string" || request.requestId === "") {
      return Promise.reject(
        new CardwrightError("CA_INVALID_REQUEST", "renew needs a non-empty requestId (the idempotency key)"),
      );
    }
    return this.#flights.run(request.requestId, async () => {
      const known = await this.#ledger.byRequestId(request.requestId);
      if (known !== undefined) return this.#answer(known);
      const [signer] = await this.chain();
      await assertRenewalOfIssued(request, signer, `signed by the cfssl CA "${this.id}"`);
      return this.#submit(request);
    });
  }

  /**
   * The recorded outcome of a request; `caRequestId` is the issued certificate's serial.
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` when the ledger has no such certificate.
   */
  async poll(caRequestId: string): Promise<CaResult> {
    const entry = await this.#ledger.byCaRequestId(caRequestId);
    if (entry === undefined) {
      throw new CardwrightError(
        "CA_UNKNOWN_REQUEST",
        `the cfssl CA "${this.id}" has no request ${caRequestId} in its ledger (cfssl itself keeps no requests)`,
        { details: { caRequestId } },
      );
    }
    return this.#answer(entry);
  }

  /**
   * Revoke in cfssl's certificate database (`/api/v1/cfssl/revoke`). Revoking again rewrites
   * the reason with the same one.
   * @throws CardwrightError `CA_UNSUPPORTED` for `certificateHold`/`removeFromCRL`, or when
   * cfssl serve runs without `-db-config`; `CA_UNKNOWN_CERTIFICATE` when the database has no
   * such serial; `CA_REJECTED` when cfssl refuses otherwise.
   */
  async revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    assertRevocationReason(reason);
    if (reason === "certificateHold" || reason === "removeFromCRL") return this.suspend(serialHex);
    const serial = normalizeSerialHex(serialHex);
    const candidates = await this.#authorityKeyIds(serial);
    let last: CfsslAnswer | undefined;
    for (const aki of candidates) {
      last = await cfsslPost(this.#options, "revoke", {
        serial: serialDecimal(serial),
        authority_key_id: aki,
        reason: cfsslReason(reason),
      });
      if (last.success) return;
      if (!isNotFound(last.errors)) break;
    }
    if (last === undefined || last.success) return;
    const details = { serialHex: serial, httpStatus: last.httpStatus, cfsslErrors: describeErrors(last.errors) };
    if (last.httpStatus === 404 && last.errors.some((e) => e.code === 404)) {
      throw unsupported(
        "cfssl serve has no /api/v1/cfssl/revoke endpoint: it runs without a certificate database; start it with -db-config",
        { serialHex: serial },
      );
    }
    if (isNotFound(last.errors)) {
      throw new CardwrightError(
        "CA_UNKNOWN_CERTIFICATE",
        `cfssl's certificate database has no certificate with serial ${serial}`,
        { details },
      );
    }
    throw new CardwrightError("CA_REJECTED", `cfssl refused to revoke ${serial}: ${describeErrors(last.errors)}`, {
      details,
    });
  }

  /**
   * Not available: cfssl can record `certificateHold` but has no call to lift it.
   * @throws CardwrightError `CA_UNSUPPORTED` always.
   */
  async suspend(serialHex: string): Promise<void> {
    throw unsupported(
      "cfssl cannot lift a certificate hold once set, so cardwright does not place one there; revoke instead",
      { serialHex },
    );
  }

  /**
   * Not available (see {@link suspend}).
   * @throws CardwrightError `CA_UNSUPPORTED` always.
   */
  async unsuspend(serialHex: string): Promise<void> {
    throw unsupported("cfssl has no call to lift a certificate hold", { serialHex });
  }

  /**
   * cfssl's signing certificate from `/api/v1/cfssl/info`, then `chainAbove`; cached.
   * @throws CardwrightError `CA_UNAVAILABLE`, `CA_BAD_RESPONSE` as {@link submit}.
   */
  async chain(): Promise<Uint8Array[]> {
    this.#chain ??= this.#fetchChain().catch((err: unknown) => {
      this.#chain = undefined;
      throw err;
    });
    return (await this.#chain).map((der) => der.slice());
  }

  async #fetchChain(): Promise<Uint8Array[]> {
    const answer = await cfsslPost(this.#options, "info", { label: this.#options.label ?? "" });
    if (!answer.success) {
      throw new CardwrightError("CA_BAD_RESPONSE", `cfssl info failed: ${describeErrors(answer.errors)}`, {
        details: { httpStatus: answer.httpStatus },
      });
    }
    const der = fromPemOrBad(resultCertificatePem(answer, "info"), "info");
    parseCertificate(der);
    return [der, ...(this.#options.chainAbove ?? []).map((c) => c.slice())];
  }

  async #checkProfile(profile: CertificateProfile, details: { requestId: string }): Promise<void> {
    const name = profile.caProfile ?? "";
    let grant = this.#grants.get(name);
    if (grant === undefined) {
      grant = cfsslPost(this.#options, "info", { label: this.#options.label ?? "", profile: name }).then((answer) => {
        const decoded = answer.success ? decodeCfsslProfile(answer.result) : undefined;
        if (decoded === undefined) {
          throw new CardwrightError(
            "CA_BAD_RESPONSE",
            `cfssl info for profile "${name || "default"}" gave no usable usages/expiry${
              answer.success ? "" : `: ${describeErrors(answer.errors)}`
            }`,
            { details: { caProfile: name || "default" } },
          );
        }
        return decoded;
      });
      grant.catch(() => this.#grants.delete(name));
      this.#grants.set(name, grant);
    }
    const mismatch = profileMismatch(await grant, profile);
    if (mismatch !== undefined) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        `cfssl profile "${name || "default"}" does not give what template "${profile.templateId}" asks for: ${mismatch}; ` +
          "align the cfssl signing profile (an unknown name falls back to cfssl's default) or the template",
        { details: { ...details, caProfile: name || "default", templateId: profile.templateId } },
      );
    }
  }

  async #submit(request: CertificateRequest): Promise<CaResult> {
    const details = { requestId: request.requestId };
    const known = await this.#ledger.byRequestId(request.requestId);
    if (known !== undefined) return this.#answer(known);
    if (request.cmc !== undefined) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        "cfssl signs PKCS#10 requests only, not CMC (RFC 5272); submit the csr on its own",
        { details },
      );
    }
    // cfssl checks the signature too, but answers with codes that vary by version; checking
    // here gives one answer (CA_INVALID_REQUEST) and spares a round trip.
    await readSubmittedCertificationRequest(request.csr, details);
    if (this.#options.verifyProfile !== false) await this.#checkProfile(request.profile, details);
    const signRequest = JSON.stringify({
      certificate_request: toPem(request.csr, "CERTIFICATE REQUEST"),
      ...(request.profile.caProfile === undefined ? {} : { profile: request.profile.caProfile }),
      ...(this.#options.label === undefined ? {} : { label: this.#options.label }),
    });
    const answer =
      this.#authKey === undefined
        ? await cfsslPost(this.#options, "sign", JSON.parse(signRequest))
        : await cfsslPost(this.#options, "authsign", authenticateCfsslRequest(this.#authKey, signRequest));
    const now = new Date().toISOString();
    if (!answer.success) {
      const reason = this.#refusal(answer, request);
      const entry: CfsslLedgerEntry = { requestId: request.requestId, status: "rejected", reason, decidedAt: now };
      await this.#ledger.record(entry);
      return this.#answer((await this.#ledger.byRequestId(request.requestId)) ?? entry);
    }
    const certificate = fromPemOrBad(resultCertificatePem(answer, "sign"), "sign");
    const serialHex = assertIssuedForCsr(certificate, request.csr, "cfssl sign");
    const [signer] = await this.chain();
    if (signer === undefined || !(await signedBy(certificate, signer))) {
      throw new CardwrightError(
        "CA_BAD_RESPONSE",
        `cfssl sign returned certificate ${serialHex}, which its /info signing certificate did not sign; check the label`,
        { details: { ...details, serialHex } },
      );
    }
    await this.#ledger.record({
      requestId: request.requestId,
      status: "issued",
      caRequestId: serialHex,
      certificate,
      issuedAt: now,
    });
    // Another process sharing a durable ledger may have recorded first: its outcome wins.
    return this.#answer((await this.#ledger.byRequestId(request.requestId)) as CfsslLedgerEntry);
  }

  /**
   * A cfssl refusal as the port's `rejected` reason, or a thrown error when it is not the CA
   * refusing the request but a problem with the request or our configuration.
   */
  #refusal(answer: Extract<CfsslAnswer, { success: false }>, request: CertificateRequest): string {
    const text = describeErrors(answer.errors);
    const details = { requestId: request.requestId, httpStatus: answer.httpStatus, cfsslErrors: text };
    const codes = answer.errors.map((e) => e.code);
    const messages = answer.errors.map((e) => e.message.toLowerCase()).join(" ");
    if (codes.includes(404)) {
      throw new CardwrightError("CONFIG_INVALID", `no cfssl sign endpoint at ${this.#options.url}; check the url`, {
        details,
      });
    }
    if (codes.includes(400) && /auth|token/.test(messages)) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        this.#authKey === undefined
          ? `cfssl requires authentication for profile "${request.profile.caProfile ?? "default"}": configure its authKey`
          : `cfssl refused our authentication token for profile "${request.profile.caProfile ?? "default"}": check authKey`,
        { details },
      );
    }
    if (codes.includes(CFSSL_INVALID_POLICY)) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        `cfssl has no usable signing profile "${request.profile.caProfile ?? "default"}": ${text}`,
        { details: { ...details, caProfile: request.profile.caProfile ?? "default" } },
      );
    }
    if (
      codes.some((c) => (c >= CFSSL_CSR_ERROR && c < CFSSL_CSR_ERROR + 1000) || (c >= 1300 && c < 1400) || c === 400)
    ) {
      throw new CardwrightError("CA_INVALID_REQUEST", `cfssl cannot use this request: ${text}`, { details });
    }
    if (codes.some((c) => c >= CFSSL_CERT_STORE_ERROR && c < CFSSL_CERT_STORE_ERROR + 1000)) {
      throw new CardwrightError("CA_UNAVAILABLE", `cfssl's certificate database failed: ${text}; retry later`, {
        details,
      });
    }
    return `cfssl refused to sign: ${text}`;
  }

  /** Authority key ids to try in revoke: the certificate's own, then the empty one cfssl ≤ 1.2 stored. */
  async #authorityKeyIds(serialHex: string): Promise<string[]> {
    const known = await this.#ledger.byCaRequestId(serialHex);
    let aki: string | undefined;
    if (known !== undefined) aki = authorityKeyIdHex(known.certificate);
    if (aki === undefined) {
      const [signer] = await this.chain();
      aki = signer === undefined ? undefined : subjectKeyIdHex(signer);
    }
    // cfssl 1.2 took the AKI from the template before signing, so its database holds "".
    return aki === undefined ? [""] : [aki, ""];
  }

  #answer(entry: CfsslLedgerEntry): Promise<CaResult> {
    if (entry.status === "rejected") return Promise.resolve({ status: "rejected", reason: entry.reason });
    return this.chain().then((chain) => ({
      status: "issued",
      caRequestId: entry.caRequestId,
      certificate: (entry as IssuedEntry).certificate.slice(),
      chain,
    }));
  }
}

function isNotFound(errors: readonly CfsslErrorEntry[]): boolean {
  return errors.some((e) => e.code === CFSSL_RECORD_NOT_FOUND || /not found/i.test(e.message));
}

function fromPemOrBad(pem: string, endpoint: string): Uint8Array {
  try {
    return fromPem(pem, "CERTIFICATE");
  } catch (cause) {
    throw new CardwrightError("CA_BAD_RESPONSE", `cfssl ${endpoint}: result.certificate is not valid PEM`, {
      details: { endpoint },
      cause,
    });
  }
}

function extensionOctets(der: Uint8Array, oid: string): Uint8Array | undefined {
  const cert = pkijs.Certificate.fromBER(new Uint8Array(der));
  const ext = cert.extensions?.find((e) => e.extnID === oid);
  return ext === undefined ? undefined : new Uint8Array(ext.extnValue.valueBlock.valueHexView);
}

/** keyIdentifier of the authorityKeyIdentifier extension (RFC 5280 §4.2.1.1), lowercase hex. */
function authorityKeyIdHex(der: Uint8Array): string | undefined {
  const value = extensionOctets(der, "2.5.29.35");
  if (value === undefined) return undefined;
  const aki = pkijs.AuthorityKeyIdentifier.fromBER(Uint8Array.from(value));
  return aki.keyIdentifier === undefined
    ? undefined
    : Buffer.from(aki.keyIdentifier.valueBlock.valueHexView).toString("hex");
}

/** The subjectKeyIdentifier (RFC 5280 §4.2.1.2), lowercase hex. */
function subjectKeyIdHex(der: Uint8Array): string | undefined {
  const value = extensionOctets(der, "2.5.29.14");
  if (value === undefined) return undefined;
  // SubjectKeyIdentifier ::= OCTET STRING: skip tag and one-octet length (key ids are short).
  return Buffer.from(value.subarray(2)).toString("hex");
}
