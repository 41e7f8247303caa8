/**
 * The ACME wire (RFC 8555 §6–§7.1): the directory, replay nonces, JWS-signed POSTs (POST-as-GET
 * for reads) and problem documents. One `badNonce` is retried with the fresh nonce the error
 * carries (§6.5); other problems become {@link AcmeProblemError}s.
 */
import { CardwrightError } from "@cardwright/core";
import {
  type HttpsOptions,
  type HttpsResponse,
  httpsExchange,
  parseRetryAfter,
  serverUnavailable,
} from "../http/https-request.js";
import { AcmeProblemError, readProblem } from "./acme-problem.js";
import type { AccountKey } from "./jws.js";

/** The directory object (RFC 8555 §7.1.1). */
export interface AcmeDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  keyChange?: string;
  meta?: { termsOfService?: string; externalAccountRequired?: boolean };
}

/** A signed POST's answer: JSON body (or raw bytes), Location and Retry-After. */
export interface AcmeResponse {
  status: number;
  location?: string;
  retryAfterSeconds?: number;
  contentType: string;
  body: Uint8Array;
}

/** What a signed request authenticates with: the account URL (`kid`) or, for newAccount, the JWK. */
export type AcmeSigner = { key: AccountKey; kid?: string };

/** The ACME transport for one server. */
export class AcmeClient {
  readonly directoryUrl: string;
  readonly #http: HttpsOptions;
  #directory: AcmeDirectory | undefined;
  #nonces: string[] = [];

  constructor(directoryUrl: string, http: HttpsOptions) {
    this.directoryUrl = directoryUrl;
    this.#http = http;
  }

  /**
   * The directory, fetched once.
   * @throws CardwrightError `CA_UNAVAILABLE` when unreachable, `CA_BAD_RESPONSE` when it is not an ACME directory.
   */
  async directory(): Promise<AcmeDirectory> {
    if (this.#directory !== undefined) return this.#directory;
    const res = await httpsExchange({ method: "GET", url: this.directoryUrl }, this.#http);
    if (res.status >= 500 || res.status === 429)
      throw serverUnavailable(res, this.directoryUrl, "reading the ACME directory");
    const body = parseJson(res, "reading the ACME directory");
    const dir = body as Partial<AcmeDirectory>;
    if (
      res.status !== 200 ||
      typeof dir.newNonce !== "string" ||
      typeof dir.newAccount !== "string" ||
      typeof dir.newOrder !== "string" ||
      typeof dir.revokeCert !== "string"
    ) {
      throw new CardwrightError(
        "CA_BAD_RESPONSE",
        `${this.directoryUrl} is not an ACME directory (HTTP ${res.status}); check the directory URL`,
        { details: { httpStatus: res.status } },
      );
    }
    this.#directory = body as AcmeDirectory;
    return this.#directory;
  }

  /** Put `nonce` on the pool: the next signed request uses it first. */
  pushNonce(nonce: string): void {
    this.#nonces.push(nonce);
  }

  async #nonce(): Promise<string> {
    const cached = this.#nonces.pop();
    if (cached !== undefined) return cached;
    const dir = await this.directory();
    const res = await httpsExchange({ method: "HEAD", url: dir.newNonce }, this.#http);
    const nonce = res.headers["replay-nonce"];
    if (res.status >= 500) throw serverUnavailable(res, dir.newNonce, "getting a replay nonce");
    if (nonce === undefined) {
      throw new CardwrightError("CA_BAD_RESPONSE", `the ACME server sent no Replay-Nonce (HTTP ${res.status})`, {
        details: { httpStatus: res.status },
      });
    }
    return nonce;
  }

  /**
   * A JWS-signed POST (RFC 8555 §6.2); `payload` `""` makes it a POST-as-GET (§6.3).
   * @throws AcmeProblemError for a problem document (after one badNonce retry); CardwrightError
   * `CA_UNAVAILABLE` for 5xx without a problem, `CA_BAD_RESPONSE` for other non-2xx answers.
   */
  async post(
    url: string,
    payload: unknown,
    signer: AcmeSigner,
    context: string,
    accept?: string,
  ): Promise<AcmeResponse> {
    for (let attempt = 0; ; attempt++) {
      const jws = signer.key.sign(payload, {
        nonce: await this.#nonce(),
        url,
        ...(signer.kid === undefined ? {} : { kid: signer.kid }),
      });
      const res = await httpsExchange(
        {
          method: "POST",
          url,
          headers: { "content-type": "application/jose+json", ...(accept === undefined ? {} : { accept }) },
          body: JSON.stringify(jws),
        },
        this.#http,
      );
      const fresh = res.headers["replay-nonce"];
      if (fresh !== undefined) this.#nonces.push(fresh);
      const contentType = res.headers["content-type"] ?? "";
      const retryAfterSeconds = parseRetryAfter(res.headers["retry-after"]);
      if (res.status >= 200 && res.status < 300) {
        return {
          status: res.status,
          ...(res.headers.location === undefined ? {} : { location: res.headers.location }),
          ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          contentType,
          body: res.body,
        };
      }
      const problem = contentType.includes("json") ? readProblem(safeJson(res.body)) : undefined;
      if (problem === undefined) {
        if (res.status >= 500 || res.status === 429) throw serverUnavailable(res, url, context);
        throw new CardwrightError(
          "CA_BAD_RESPONSE",
          `${context}: the ACME server answered HTTP ${res.status} without a problem document`,
          {
            details: { httpStatus: res.status },
          },
        );
      }
      // A stale nonce is the transport's business, not the caller's: retry once (RFC 8555 §6.5).
      if (problem.type === "badNonce" && attempt === 0 && fresh !== undefined) continue;
      throw new AcmeProblemError(context, problem, res.status, retryAfterSeconds);
    }
  }

  /** POST-as-GET returning JSON. */
  async postAsGet(
    url: string,
    signer: AcmeSigner,
    context: string,
  ): Promise<{ json: unknown; response: AcmeResponse }> {
    const response = await this.post(url, "", signer, context);
    return { json: parseJson(response, context), response };
  }
}

function safeJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The JSON body of an answer.
 * @throws CardwrightError `CA_BAD_RESPONSE` when it is not JSON.
 */
export function parseJson(res: Pick<HttpsResponse, "body" | "status">, context: string): unknown {
  const json = safeJson(res.body);
  if (json === undefined || typeof json !== "object" || json === null) {
    throw new CardwrightError(
      "CA_BAD_RESPONSE",
      `${context}: the ACME server answered something that is not a JSON object`,
      {
        details: { httpStatus: res.status },
      },
    );
  }
  return json;
}
