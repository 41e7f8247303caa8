/**
 * A `CertificateAuthority` for Microsoft Active Directory Certificate Services over HTTPS:
 * enrollment through the Certificate Enrollment Web Service (MS-WSTEP), template discovery
 * through the Certificate Enrollment Policy Web Service (MS-XCEP), and the `/certsrv` Web
 * Enrollment pages as a fallback. The template comes from `profile.caProfile`. A request the CA
 * holds ("taken under submission") is `pending` under the CA's request id, which is then polled.
 * A CMC request (issuing on behalf, signed by an enrollment agent) is sent instead of the
 * PKCS#10 when the request carries one.
 *
 * Authentication: WS-Security UsernameToken (CES/CEP "UsernamePassword" endpoints) or HTTP
 * basic (certsrv) from a credentials callback, and/or a TLS client certificate. Kerberos and
 * NTLM are out of scope. Revocation and hold are not offered over these HTTP interfaces (AD CS
 * revokes through MS-CSRA/DCOM), so they are `CA_UNSUPPORTED`.
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
} from "@cardwright/core";
import { type HttpsOptions, type HttpsResponse, httpsExchange, serverUnavailable } from "../http/https-request.js";
import {
  assertCsrSelfSigned,
  assertIssuedForCsr,
  certificatesFromPkcs7,
  orderCaCertificates,
  orderChain,
} from "../issued-certificate.js";
import { fromPemAll } from "../pem.js";
import { SingleFlight } from "../single-flight.js";
import { type AdcsRequestEntry, type AdcsRequestLedger, MemoryAdcsRequestLedger } from "./adcs-request-ledger.js";
import { certfnshForm, readCertsrvPage } from "./certsrv.js";
import {
  buildRequestSecurityToken,
  CertsrvError,
  parseWstepResponse,
  type WstepRequest,
  type WstepResponse,
} from "./wstep.js";
import { buildGetPolicies, parseGetPoliciesResponse, XcepClientAuthentication, type XcepTemplate } from "./xcep.js";

/** Account credentials, asked for at the moment of use so they are not kept around. */
export type AdcsCredentials = () => Promise<{ username: string; password: string }>;

/** Options for {@link AdcsCertificateAuthority}. */
export interface AdcsCertificateAuthorityOptions {
  /** The id policies' certificate templates refer to. */
  id: string;
  /** CES endpoint (MS-WSTEP), e.g. `https://ca.example.com/Example-CA_CES_UsernamePassword/service.svc/CES`. */
  enrollmentServiceUrl?: string;
  /** CEP endpoint (MS-XCEP), for {@link AdcsCertificateAuthority.policies}. */
  policyServiceUrl?: string;
  /** Web Enrollment base, e.g. `https://ca.example.com/certsrv`; used when CES is absent or unreachable. */
  webEnrollmentUrl?: string;
  /** UsernameToken for CES/CEP, HTTP basic for certsrv. */
  credentials?: AdcsCredentials;
  /** Trust anchors, TLS client certificate and timeout. */
  http?: HttpsOptions;
  /** Template when the profile names none. */
  defaultTemplate?: string;
  /** The CA chain, issuing CA first, DER; fetched from certsrv when omitted. */
  caCertificates?: readonly Uint8Array[];
  /** Request id → CA request id and outcome; in memory when omitted. */
  ledger?: AdcsRequestLedger;
  /** Retry hint for pending results (default 300 s: a CA officer is usually a person). */
  retryAfterSeconds?: number;
}

function httpsUrl(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw new CardwrightError("CONFIG_INVALID", `${what} "${value}" is not a URL`, { cause: err });
  }
  if (url.protocol !== "https:") throw new CardwrightError("CONFIG_INVALID", `${what} must be https`);
  return value.replace(/\/+$/, "");
}

/** An AD CS certificate authority. */
export class AdcsCertificateAuthority implements CertificateAuthority {
  readonly id: string;
  /**
   * A renewal is a new enrollment for the template with the new CSR (same or new key); the
   * requester authenticates over HTTPS rather than with the old key.
   */
  readonly renewal: RenewalSupport = { sameKey: true, rekey: true };
  readonly #options: AdcsCertificateAuthorityOptions;
  readonly #ces: string | undefined;
  readonly #cep: string | undefined;
  readonly #certsrv: string | undefined;
  readonly #ledger: AdcsRequestLedger;
  readonly #flights = new SingleFlight<CaResult>();
  #policy: Promise<XcepTemplate[]> | undefined;

  /** @throws CardwrightError `CONFIG_INVALID` without any enrollment URL, or for a non-https one. */
  constructor(options: AdcsCertificateAuthorityOptions) {
    this.id = options.id;
    this.#options = options;
    this.#ces = httpsUrl(options.enrollmentServiceUrl, "the enrollment web service URL");
    this.#cep = httpsUrl(options.policyServiceUrl, "the enrollment policy service URL");
    this.#certsrv = httpsUrl(options.webEnrollmentUrl, "the web enrollment URL");
    if (this.#ces === undefined && this.#cep === undefined && this.#certsrv === undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        "AD CS needs an enrollment web service URL (CES), a policy service URL (CEP) to find one, or a web enrollment URL (certsrv)",
      );
    }
    this.#ledger = options.ledger ?? new MemoryAdcsRequestLedger();
  }

  /**
   * The templates the policy service offers this requester (MS-XCEP GetPolicies).
   * @throws CardwrightError `CONFIG_INVALID` without a policy service URL; `CA_UNAVAILABLE`, `CA_BAD_RESPONSE`.
   */
  async policies(): Promise<XcepTemplate[]> {
    if (this.#cep === undefined) {
      throw new CardwrightError("CONFIG_INVALID", "no enrollment policy service URL (CEP) is configured");
    }
    const body = buildGetPolicies(this.#cep, await this.#credentials());
    const res = await this.#soap(
      this.#cep,
      body,
      "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies",
      "reading the enrollment policy",
    );
    return parseGetPoliciesResponse(res);
  }

  async #credentials(): Promise<{ username: string; password: string } | undefined> {
    return this.#options.credentials === undefined ? undefined : this.#options.credentials();
  }

  async #soap(url: string, body: string, action: string, context: string): Promise<string> {
    const res = await httpsExchange(
      {
        method: "POST",
        url,
        headers: { "content-type": `application/soap+xml; charset=utf-8; action="${action}"` },
        body,
      },
      this.#options.http,
    );
    const type = res.headers["content-type"] ?? "";
    // SOAP 1.2 faults come with HTTP 500; only a 5xx without a SOAP body means the service is down.
    if (res.status === 401 || res.status === 403) throw credentialsRefused(context, res.status);
    if (!type.includes("xml")) {
      if (res.status >= 500 || res.status === 429) throw serverUnavailable(res, url, context);
      throw new CardwrightError("CA_BAD_RESPONSE", `${context}: HTTP ${res.status} ${type || "without content type"}`, {
        details: { httpStatus: res.status },
      });
    }
    return Buffer.from(res.body).toString("utf8");
  }

  /**
   * The CES endpoint for `template`: the configured one, or the best enrollment URI the policy
   * service (MS-XCEP) lists for it with an authentication this adapter speaks (UsernameToken
   * with credentials, else a TLS client certificate). Undefined when there is neither.
   * @throws CardwrightError `CONFIG_INVALID` when the policy does not offer the template or
   * lists no usable URI for it.
   */
  async #cesFor(template: string | undefined): Promise<string | undefined> {
    if (this.#ces !== undefined || this.#cep === undefined) return this.#ces;
    this.#policy ??= this.policies().catch((err: unknown) => {
      this.#policy = undefined;
      throw err;
    });
    const templates = await this.#policy;
    const offered = template === undefined ? templates : templates.filter((t) => t.name === template);
    if (template !== undefined && offered.length === 0) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `the enrollment policy does not offer template "${template}" to this requester (MS-XCEP GetPolicies)`,
        { details: { template } },
      );
    }
    const wanted =
      this.#options.credentials !== undefined
        ? XcepClientAuthentication.usernamePassword
        : this.#options.http?.clientCertificate !== undefined
          ? XcepClientAuthentication.certificate
          : undefined;
    const uri = offered
      .flatMap((t) => t.enrollmentUris)
      .filter((u) => u.clientAuthentication === wanted && !u.renewalOnly)
      .sort((a, b) => a.priority - b.priority)[0]?.uri;
    if (uri === undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `the enrollment policy lists no enrollment service${template === undefined ? "" : ` for "${template}"`} with ` +
          "UsernamePassword or certificate authentication (Kerberos is out of scope)",
        { details: { template } },
      );
    }
    return httpsUrl(uri, "the enrollment service URI from the policy");
  }

  async #wstep(ces: string, request: WstepRequest, context: string): Promise<WstepResponse> {
    const body = buildRequestSecurityToken(ces, request, await this.#credentials());
    return parseWstepResponse(
      await this.#soap(ces, body, "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep", context),
    );
  }

  async #certsrvExchange(path: string, context: string, form?: string): Promise<HttpsResponse> {
    const url = `${this.#certsrv}/${path}`;
    const credentials = await this.#credentials();
    const headers: Record<string, string> = {};
    if (credentials !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64")}`;
    }
    if (form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await httpsExchange(
      { method: form === undefined ? "GET" : "POST", url, headers, ...(form === undefined ? {} : { body: form }) },
      this.#options.http,
    );
    if (res.status === 401 || res.status === 403) throw credentialsRefused(context, res.status);
    if (res.status >= 500 || res.status === 429) throw serverUnavailable(res, url, context);
    if (res.status !== 200) {
      throw new CardwrightError("CA_BAD_RESPONSE", `${context}: web enrollment answered HTTP ${res.status}`, {
        details: { httpStatus: res.status },
      });
    }
    return res;
  }

  /**
   * The CA chain, issuing CA first: configured, or certsrv's `certnew.p7b?ReqID=CACert`.
   * @throws CardwrightError `CA_UNSUPPORTED` when neither is available; `CA_UNAVAILABLE`, `CA_BAD_RESPONSE`.
   */
  async chain(): Promise<Uint8Array[]> {
    if (this.#options.caCertificates !== undefined) return [...this.#options.caCertificates];
    if (this.#certsrv === undefined) {
      throw new CardwrightError(
        "CA_UNSUPPORTED",
        "the enrollment web service publishes no CA chain; configure caCertificates or a web enrollment URL",
      );
    }
    const res = await this.#certsrvExchange("certnew.p7b?ReqID=CACert&Renewal=0&Enc=b64", "reading the CA chain");
    return orderCaCertificates(
      certificatesFromPkcs7(pkcs7Der(res.body, "reading the CA chain"), "reading the CA chain"),
    );
  }

  /**
   * Enroll for `profile.caProfile` (or the default template); idempotent on `requestId`.
   * @throws CardwrightError `CONFIG_INVALID` without a template, `CA_INVALID_REQUEST` for a CSR
   * that does not verify or refused credentials, `CA_UNAVAILABLE`, `CA_BAD_RESPONSE`.
   */
  submit(request: CertificateRequest): Promise<CaResult> {
    return this.#flights.run(request.requestId, () => this.#submit(request));
  }

  /** Renew: a new enrollment for the template (see {@link AdcsCertificateAuthority.renewal}). */
  renew(request: RenewalRequest): Promise<CaResult> {
    return this.submit(request);
  }

  async #submit(request: CertificateRequest): Promise<CaResult> {
    const known = await this.#ledger.get(request.requestId);
    if (known?.result !== undefined) return known.result;
    if (known?.caRequestId !== undefined) return this.#retrieve(known.caRequestId, known);
    const template = request.profile.caProfile ?? this.#options.defaultTemplate;
    if (template === undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `profile ${request.profile.templateId} names no AD CS certificate template (caProfile) and no default is configured`,
        { details: { requestId: request.requestId } },
      );
    }
    await assertCsrSelfSigned(request.csr);
    const ces = await this.#cesFor(template);
    const entry: AdcsRequestEntry = {
      requestId: request.requestId,
      csrBase64: Buffer.from(request.csr).toString("base64"),
      ...(ces === undefined ? {} : { cesUrl: ces }),
    };
    await this.#ledger.put(entry);
    const token = request.cmc ?? request.csr;
    let result: CaResult;
    if (ces !== undefined) {
      try {
        const answer = await this.#wstep(
          ces,
          { kind: "issue", token, format: request.cmc === undefined ? "pkcs10" : "pkcs7", template },
          `enrolling request ${request.requestId}`,
        );
        result = await this.#fromWstep(answer, entry);
      } catch (err) {
        // The web pages reach the same CA: fall back only when the service itself is down.
        if (!(err instanceof CardwrightError && err.code === "CA_UNAVAILABLE" && this.#certsrv !== undefined))
          throw err;
        result = await this.#certsrvSubmit(token, template, entry);
      }
    } else {
      result = await this.#certsrvSubmit(token, template, entry);
    }
    return result;
  }

  async #certsrvSubmit(token: Uint8Array, template: string, entry: AdcsRequestEntry): Promise<CaResult> {
    const context = `enrolling request ${entry.requestId} through web enrollment`;
    const res = await this.#certsrvExchange("certfnsh.asp", context, certfnshForm(token, template));
    const page = readCertsrvPage(Buffer.from(res.body).toString("utf8"));
    switch (page.kind) {
      case "issued":
        await this.#ledger.put({ ...entry, caRequestId: page.requestId });
        return this.#certsrvCertificate(page.requestId, entry);
      case "pending":
        await this.#ledger.put({ ...entry, caRequestId: page.requestId });
        return this.#pending(page.requestId);
      case "denied":
        return this.#settle(entry, {
          status: "rejected",
          ...(page.requestId === undefined ? {} : { caRequestId: page.requestId }),
          reason: page.disposition,
        });
      default:
        throw new CardwrightError("CA_BAD_RESPONSE", `${context}: the page is neither issued, pending nor denied`);
    }
  }

  async #certsrvCertificate(caRequestId: string, entry: AdcsRequestEntry | undefined): Promise<CaResult> {
    const context = `retrieving request ${caRequestId} through web enrollment`;
    const res = await this.#certsrvExchange(`certnew.cer?ReqID=${encodeURIComponent(caRequestId)}&Enc=b64`, context);
    const text = Buffer.from(res.body).toString("utf8");
    const pem = fromPemAll(text, "CERTIFICATE")[0];
    if (pem === undefined) {
      const page = readCertsrvPage(text, caRequestId);
      if (page.kind === "pending") return this.#pending(caRequestId);
      if (page.kind === "denied") {
        return this.#settle(entry, { status: "rejected", caRequestId, reason: page.disposition });
      }
      if (page.kind === "unknown-request") throw unknownRequest(caRequestId);
      throw new CardwrightError(
        "CA_BAD_RESPONSE",
        `${context}: certnew.cer returned neither a certificate nor a status page`,
      );
    }
    return this.#issued(caRequestId, pem.der, undefined, entry);
  }

  async #fromWstep(answer: WstepResponse, entry: AdcsRequestEntry | undefined): Promise<CaResult> {
    switch (answer.kind) {
      case "issued": {
        const caRequestId = answer.requestId ?? entry?.caRequestId ?? "";
        if (entry !== undefined && caRequestId !== "") await this.#ledger.put({ ...entry, caRequestId });
        return this.#issued(caRequestId, answer.certificate, answer.pkcs7, entry);
      }
      case "pending":
        if (entry !== undefined) await this.#ledger.put({ ...entry, caRequestId: answer.requestId });
        return this.#pending(answer.requestId);
      case "fault": {
        if (answer.errorCode === CertsrvError.noRequest)
          throw unknownRequest(answer.requestId ?? entry?.caRequestId ?? "");
        const hresult = answer.errorCode === undefined ? "" : ` (0x${answer.errorCode.toString(16)})`;
        if (answer.requestId !== undefined || answer.invalidRequest) {
          return this.#settle(entry, {
            status: "rejected",
            ...(answer.requestId === undefined ? {} : { caRequestId: answer.requestId }),
            reason: `${answer.reason}${hresult}`,
          });
        }
        throw new CardwrightError(
          "CA_INVALID_REQUEST",
          `the enrollment web service refused the request: ${answer.reason}${hresult}`,
          {
            details: {
              requestId: entry?.requestId,
              ...(answer.errorCode === undefined ? {} : { hresult: answer.errorCode }),
            },
          },
        );
      }
    }
  }

  #pending(caRequestId: string): CaResult {
    return { status: "pending", caRequestId, retryAfterSeconds: this.#options.retryAfterSeconds ?? 300 };
  }

  async #settle(entry: AdcsRequestEntry | undefined, result: CaResult): Promise<CaResult> {
    if (entry !== undefined) {
      await this.#ledger.put({
        ...entry,
        ...(result.caRequestId === undefined ? {} : { caRequestId: result.caRequestId }),
        result,
      });
    }
    return result;
  }

  async #issued(
    caRequestId: string,
    certificate: Uint8Array,
    bundle: Uint8Array | undefined,
    entry: AdcsRequestEntry | undefined,
  ): Promise<CaResult> {
    const context = `request ${caRequestId}`;
    if (entry === undefined) parseCertificate(certificate);
    else assertIssuedForCsr(certificate, new Uint8Array(Buffer.from(entry.csrBase64, "base64")), context);
    let chain: Uint8Array[];
    if (bundle !== undefined) {
      const spki =
        entry === undefined ? parseCertificate(certificate).spki : csrPublicKey(Buffer.from(entry.csrBase64, "base64"));
      chain = orderChain(certificatesFromPkcs7(bundle, context), spki).filter(
        (c) => !Buffer.from(c).equals(Buffer.from(certificate)),
      );
    } else {
      chain = await this.chain();
    }
    return this.#settle(entry, { status: "issued", caRequestId, certificate, chain });
  }

  /**
   * Ask the CA about a request by its AD CS request id (MS-WSTEP QueryTokenStatus, or certsrv's certnew.cer).
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` for an id the CA does not have.
   */
  async poll(caRequestId: string): Promise<CaResult> {
    if (!/^\d+$/.test(caRequestId)) throw unknownRequest(caRequestId);
    const entry = await this.#ledger.byCaRequestId(caRequestId);
    if (entry?.result !== undefined) return entry.result;
    return this.#flights.run(`ca:${caRequestId}`, () => this.#retrieve(caRequestId, entry));
  }

  async #retrieve(caRequestId: string, entry: AdcsRequestEntry | undefined): Promise<CaResult> {
    const ces = entry?.cesUrl ?? (await this.#cesFor(undefined));
    if (ces !== undefined) {
      try {
        return await this.#fromWstep(
          await this.#wstep(ces, { kind: "query", requestId: caRequestId }, `retrieving request ${caRequestId}`),
          entry,
        );
      } catch (err) {
        if (!(err instanceof CardwrightError && err.code === "CA_UNAVAILABLE" && this.#certsrv !== undefined))
          throw err;
      }
    }
    return this.#certsrvCertificate(caRequestId, entry);
  }

  /** @throws CardwrightError `CA_UNSUPPORTED`: AD CS revokes through MS-CSRA (DCOM), not over CES or certsrv. */
  async revoke(serialHex: string, _reason?: RevocationReason): Promise<void> {
    throw noRevocation(serialHex);
  }

  /** @throws CardwrightError `CA_UNSUPPORTED` (see {@link AdcsCertificateAuthority.revoke}). */
  async suspend(serialHex: string): Promise<void> {
    throw noRevocation(serialHex);
  }

  /** @throws CardwrightError `CA_UNSUPPORTED` (see {@link AdcsCertificateAuthority.revoke}). */
  async unsuspend(serialHex: string): Promise<void> {
    throw noRevocation(serialHex);
  }
}

/** DER of a PKCS#7 served as base64 (with or without PEM armour) or as DER. */
function pkcs7Der(body: Uint8Array, context: string): Uint8Array {
  const text = Buffer.from(body).toString("latin1");
  const pem = fromPemAll(text)[0];
  if (pem !== undefined) return pem.der;
  if (body[0] === 0x30) return body;
  const compact = text.replace(/\s+/g, "");
  if (/^[A-Za-z0-9+/]+=*$/.test(compact)) return new Uint8Array(Buffer.from(compact, "base64"));
  throw new CardwrightError("CA_BAD_RESPONSE", `${context}: not a PKCS#7 bundle`);
}

function credentialsRefused(context: string, status: number): CardwrightError {
  return new CardwrightError(
    "CA_INVALID_REQUEST",
    `${context}: AD CS refused our credentials (HTTP ${status}); check the account or client certificate`,
    { details: { httpStatus: status } },
  );
}

function unknownRequest(caRequestId: string): CardwrightError {
  return new CardwrightError("CA_UNKNOWN_REQUEST", `AD CS has no request ${caRequestId}`, { details: { caRequestId } });
}

function noRevocation(serialHex: string): CardwrightError {
  return new CardwrightError(
    "CA_UNSUPPORTED",
    "AD CS does not revoke over its enrollment web services; revoke with certutil or the CA console (MS-CSRA)",
    { details: { serialHex } },
  );
}
