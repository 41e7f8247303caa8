/**
 * A `CertificateAuthority` speaking EST (RFC 7030, Enrollment over Secure Transport): CA
 * certificates from `/cacerts` (§4.1), enrollment with `/simpleenroll` (§4.2.1) and renewal with
 * `/simplereenroll` (§4.2.2), each a base64 PKCS#10 answered by a base64 PKCS#7 certs-only. A
 * `202 Accepted` with Retry-After means the CA holds the request; the client polls by sending
 * the same request again (§4.2.3). The client authenticates with a TLS client certificate
 * (§3.3.2) and/or HTTP basic auth (§3.2.3). `profile.caProfile` picks the CA label (§3.2.2).
 * A CMC Full PKI Request (issuing on behalf) goes to `/fullcmc` (§4.3); its answer is a Simple
 * PKI Response or a Full PKI Response whose CMCStatusInfoV2 says failed or pending.
 *
 * EST has no request id, no revocation and no duplicate detection: a ledger keeps each request
 * under our request id so polling re-sends the same bytes and an issued result is replayed
 * rather than enrolling twice.
 */
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
  readCmcResponse,
  spkiEquals,
} from "@cardwright/core";
import * as pkijs from "pkijs";
import {
  type HttpsOptions,
  type HttpsResponse,
  httpsExchange,
  parseRetryAfter,
  serverUnavailable,
} from "../http/https-request.js";
import {
  assertCsrSelfSigned,
  assertIssuedForCsr,
  certificatesFromPkcs7,
  orderCaCertificates,
  orderChain,
} from "../issued-certificate.js";
import { ExtensionOid, Pkcs9Oid } from "../oids.js";
import { SingleFlight } from "../single-flight.js";
import { type EstRequestEntry, type EstRequestLedger, MemoryEstRequestLedger } from "./est-request-ledger.js";

/** HTTP basic credentials; fetched at the moment of use so the password is not kept around. */
export type EstCredentials = () => Promise<{ username: string; password: string }>;

/** Options for {@link EstCertificateAuthority}. */
export interface EstCertificateAuthorityOptions {
  /** The id policies' certificate templates refer to. */
  id: string;
  /** Server origin (and optional path prefix), e.g. `https://est.example.com`; `/.well-known/est` is appended. */
  baseUrl: string;
  /** Trust anchors (the Explicit TA database, §4.1.1), TLS client certificate/key and timeout. */
  http?: HttpsOptions;
  /** HTTP basic auth (§3.2.3), asked for per request. */
  credentials?: EstCredentials;
  /** CA label used when the profile has no `caProfile` (§3.2.2); none by default. */
  defaultLabel?: string;
  /** Request id → request and outcome; in memory when omitted. */
  ledger?: EstRequestLedger;
  /** Retry hint when a 202 comes without Retry-After (default 60 s). */
  defaultRetryAfterSeconds?: number;
}

const LABEL = /^[A-Za-z0-9_.-]+$/;

function base64Body(res: HttpsResponse, context: string): Uint8Array {
  const text = Buffer.from(res.body).toString("latin1").replace(/\s+/g, "");
  if (text.length === 0 || !/^[A-Za-z0-9+/]+=*$/.test(text)) {
    throw new CardwrightError(
      "CA_BAD_RESPONSE",
      `${context}: the EST server answered a body that is not base64 (RFC 7030 §4.1.3)`,
      {
        details: { httpStatus: res.status },
      },
    );
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}

function isPkcs7(res: HttpsResponse): boolean {
  return (res.headers["content-type"] ?? "").toLowerCase().startsWith("application/pkcs7-mime");
}

/** An EST certificate authority. */
export class EstCertificateAuthority implements CertificateAuthority {
  readonly id: string;
  /**
   * simplereenroll takes a CSR for the same key or a new one (RFC 7030 §4.2.2); the server
   * authenticates the holder through the TLS client certificate configured in `http`.
   */
  readonly renewal: RenewalSupport = { sameKey: true, rekey: true };
  readonly #options: EstCertificateAuthorityOptions;
  readonly #ledger: EstRequestLedger;
  readonly #base: string;
  readonly #flights = new SingleFlight<CaResult>();

  /** @throws CardwrightError `CONFIG_INVALID` for a base URL that is not https or a bad label. */
  constructor(options: EstCertificateAuthorityOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch (err) {
      throw new CardwrightError("CONFIG_INVALID", `"${options.baseUrl}" is not a URL`, { cause: err });
    }
    if (url.protocol !== "https:")
      throw new CardwrightError("CONFIG_INVALID", "EST runs over HTTPS only (RFC 7030 §3.2)");
    if (options.defaultLabel !== undefined) checkLabel(options.defaultLabel);
    this.id = options.id;
    this.#options = options;
    this.#base = `${url.origin}${url.pathname.replace(/\/+$/, "")}/.well-known/est`;
    this.#ledger = options.ledger ?? new MemoryEstRequestLedger();
  }

  #url(operation: string, label: string | undefined): string {
    return label === undefined ? `${this.#base}/${operation}` : `${this.#base}/${label}/${operation}`;
  }

  async #headers(extra: Record<string, string>): Promise<Record<string, string>> {
    if (this.#options.credentials === undefined) return extra;
    const { username, password } = await this.#options.credentials();
    return { ...extra, authorization: `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}` };
  }

  /**
   * The CA certificates (§4.1), issuing CA first.
   * @throws CardwrightError `CA_UNAVAILABLE`, `CA_BAD_RESPONSE`.
   */
  async chain(label: string | undefined = this.#options.defaultLabel): Promise<Uint8Array[]> {
    const url = this.#url("cacerts", label);
    const res = await httpsExchange({ method: "GET", url, headers: await this.#headers({}) }, this.#options.http);
    if (res.status >= 500) throw serverUnavailable(res, url, "reading the EST CA certificates");
    if (res.status !== 200 || !isPkcs7(res)) {
      throw new CardwrightError(
        "CA_BAD_RESPONSE",
        `reading the EST CA certificates: HTTP ${res.status} ${res.headers["content-type"] ?? "without content type"}`,
        { details: { httpStatus: res.status } },
      );
    }
    const certs = certificatesFromPkcs7(
      base64Body(res, "reading the EST CA certificates"),
      "reading the EST CA certificates",
    );
    return orderCaCertificates(certs);
  }

  /**
   * Enroll (§4.2.1); with a known request id, replay the issued result or re-send a held request.
   * A request with `cmc` (issuing on behalf) goes to /fullcmc (§4.3) instead.
   * @throws CardwrightError `CA_INVALID_REQUEST` when the
   * server refuses our credentials, `CA_UNAVAILABLE`, `CA_BAD_RESPONSE`.
   */
  submit(request: CertificateRequest): Promise<CaResult> {
    return this.#flights.run(request.requestId, () => this.#enroll(request, "simpleenroll"));
  }

  /** Renew with simplereenroll (§4.2.2): the same exchange on the re-enrollment path. */
  renew(request: RenewalRequest): Promise<CaResult> {
    return this.#flights.run(request.requestId, async () => {
      assertSameNames(request.csr, request.previousCertificate);
      return this.#enroll(request, "simplereenroll");
    });
  }

  /**
   * Re-send a held request (§4.2.3); the `caRequestId` is our request id.
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` when the ledger has no such request.
   */
  async poll(caRequestId: string): Promise<CaResult> {
    const entry = await this.#ledger.get(caRequestId);
    if (entry === undefined) {
      throw new CardwrightError(
        "CA_UNKNOWN_REQUEST",
        `no EST request ${caRequestId} in the ledger; EST servers keep no request ids, so it cannot be asked about`,
        { details: { caRequestId } },
      );
    }
    if (entry.result !== undefined) return entry.result;
    return this.#flights.run(caRequestId, () => this.#send(entry));
  }

  async #enroll(request: CertificateRequest, operation: EstRequestEntry["operation"]): Promise<CaResult> {
    const known = await this.#ledger.get(request.requestId);
    if (known?.result !== undefined) return known.result;
    if (known !== undefined) return this.#send(known);
    await assertCsrSelfSigned(request.csr);
    const label = request.profile.caProfile ?? this.#options.defaultLabel;
    if (label !== undefined) checkLabel(label);
    // A CMC request (issuing on behalf, §4.3) goes to /fullcmc; the PKCS#10 inside is what the certificate must match.
    const entry: EstRequestEntry = {
      requestId: request.requestId,
      operation: request.cmc === undefined ? operation : "fullcmc",
      csrBase64: Buffer.from(request.csr).toString("base64"),
      ...(request.cmc === undefined ? {} : { cmcBase64: Buffer.from(request.cmc).toString("base64") }),
      ...(label === undefined ? {} : { label }),
    };
    await this.#ledger.put(entry);
    return this.#send(entry);
  }

  async #send(entry: EstRequestEntry): Promise<CaResult> {
    const context = `${entry.operation} for request ${entry.requestId}`;
    const url = this.#url(entry.operation, entry.label);
    const res = await httpsExchange(
      {
        method: "POST",
        url,
        headers: await this.#headers({
          "content-type":
            entry.cmcBase64 === undefined ? "application/pkcs10" : "application/pkcs7-mime; smime-type=CMC-request",
          "content-transfer-encoding": "base64",
        }),
        body: (entry.cmcBase64 ?? entry.csrBase64).replace(/.{64}/g, "$&\r\n"),
      },
      this.#options.http,
    );
    if (res.status === 202) {
      const retryAfterSeconds =
        parseRetryAfter(res.headers["retry-after"]) ?? this.#options.defaultRetryAfterSeconds ?? 60;
      return { status: "pending", caRequestId: entry.requestId, retryAfterSeconds };
    }
    if (res.status === 200) {
      if (!isPkcs7(res)) {
        throw new CardwrightError("CA_BAD_RESPONSE", `${context}: the EST server answered 200 without a PKCS#7 body`, {
          details: { requestId: entry.requestId, contentType: res.headers["content-type"] },
        });
      }
      const csr = new Uint8Array(Buffer.from(entry.csrBase64, "base64"));
      const body = base64Body(res, context);
      let certs: Uint8Array[];
      if (entry.operation === "fullcmc") {
        // §4.3.2: a Simple PKI Response (certs-only) or a Full PKI Response whose status says why not.
        const cmc = readCmcResponse(body);
        const spki = csrPublicKey(csr);
        const issued = cmc.certificates.some((c) => spkiEquals(parseCertificate(c).spki, spki));
        if (!issued && (cmc.status?.status === "pending" || cmc.status?.status === "partial")) {
          return {
            status: "pending",
            caRequestId: entry.requestId,
            retryAfterSeconds: this.#options.defaultRetryAfterSeconds ?? 60,
          };
        }
        if (!issued && cmc.status !== undefined && cmc.status.status !== "success") {
          const result: CaResult = {
            status: "rejected",
            caRequestId: entry.requestId,
            reason: `CMC ${cmc.status.status}${cmc.status.statusString === undefined ? "" : `: ${cmc.status.statusString}`}`,
          };
          await this.#ledger.put({ ...entry, result });
          return result;
        }
        certs = cmc.certificates;
      } else {
        certs = certificatesFromPkcs7(body, context);
      }
      const [certificate, ...rest] = orderChain(certs, csrPublicKey(csr));
      if (certificate === undefined) throw new CardwrightError("CA_BAD_RESPONSE", `${context}: empty PKCS#7`);
      assertIssuedForCsr(certificate, csr, context);
      const chain = rest.length > 0 ? rest : await this.chain(entry.label);
      const result: CaResult = { status: "issued", caRequestId: entry.requestId, certificate, chain };
      await this.#ledger.put({ ...entry, result });
      return result;
    }
    if (res.status === 401) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        `${context}: the EST server refused our credentials (HTTP 401); check the client certificate or basic-auth account`,
        { details: { requestId: entry.requestId, httpStatus: 401 } },
      );
    }
    if (res.status >= 500 || res.status === 429) throw serverUnavailable(res, url, context);
    if (res.status >= 400) {
      const text = Buffer.from(res.body).toString("utf8").trim().slice(0, 500);
      const result: CaResult = {
        status: "rejected",
        caRequestId: entry.requestId,
        reason: `HTTP ${res.status}${text.length > 0 ? `: ${text}` : ""}`,
      };
      await this.#ledger.put({ ...entry, result });
      return result;
    }
    throw new CardwrightError("CA_BAD_RESPONSE", `${context}: unexpected HTTP ${res.status} from the EST server`, {
      details: { requestId: entry.requestId, httpStatus: res.status },
    });
  }

  /** @throws CardwrightError `CA_UNSUPPORTED`: EST (RFC 7030) defines no revocation. */
  async revoke(serialHex: string, _reason?: RevocationReason): Promise<void> {
    throw noRevocation(serialHex, "revocation");
  }

  /** @throws CardwrightError `CA_UNSUPPORTED`: EST defines no hold. */
  async suspend(serialHex: string): Promise<void> {
    throw noRevocation(serialHex, "certificate hold");
  }

  /** @throws CardwrightError `CA_UNSUPPORTED`: EST defines no hold. */
  async unsuspend(serialHex: string): Promise<void> {
    throw noRevocation(serialHex, "certificate hold");
  }
}

/**
 * RFC 7030 §4.2.2: a re-enrollment's Subject and subjectAltName must be those of the certificate
 * being renewed; checked here so a mismatch fails before it reaches the server.
 * @throws CardwrightError `CA_INVALID_REQUEST` when they differ.
 */
function assertSameNames(csrDer: Uint8Array, certificateDer: Uint8Array): void {
  const csr = pkijs.CertificationRequest.fromBER(new Uint8Array(csrDer));
  const certificate = pkijs.Certificate.fromBER(new Uint8Array(certificateDer));
  const requestedSan = csr.attributes
    ?.filter((a) => a.type === Pkcs9Oid.extensionRequest)
    .flatMap((a) => a.values.flatMap((v) => new pkijs.Extensions({ schema: v }).extensions))
    .find((e) => e.extnID === ExtensionOid.subjectAltName);
  const currentSan = certificate.extensions?.find((e) => e.extnID === ExtensionOid.subjectAltName);
  const sanHex = (e: pkijs.Extension | undefined) =>
    e === undefined ? "" : Buffer.from(e.extnValue.valueBlock.valueHexView).toString("hex");
  if (!csr.subject.isEqual(certificate.subject) || sanHex(requestedSan) !== sanHex(currentSan)) {
    throw new CardwrightError(
      "CA_INVALID_REQUEST",
      "an EST re-enrollment must carry the subject and subjectAltName of the certificate it renews (RFC 7030 §4.2.2)",
    );
  }
}

function checkLabel(label: string): void {
  if (!LABEL.test(label)) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      `"${label}" is not a usable EST CA label (RFC 7030 §3.2.2: one path segment)`,
      {
        details: { label },
      },
    );
  }
}

function noRevocation(serialHex: string, what: string): CardwrightError {
  return new CardwrightError("CA_UNSUPPORTED", `EST (RFC 7030) has no ${what}; revoke through the CA's own interface`, {
    details: { serialHex },
  });
}
