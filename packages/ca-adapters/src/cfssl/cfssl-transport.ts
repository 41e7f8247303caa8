/**
 * The cfssl API envelope over HTTP or HTTPS: every endpoint answers
 * `{ success, result, errors: [{ code, message }], messages }` (cfssl `api.Response`). This
 * module sends one JSON request and turns the answer into either `result` or a typed failure;
 * what a cfssl error code means for a given call is decided by the caller.
 *
 * `cfssl serve` speaks plain HTTP unless started with `-tls-cert`, so both schemes are
 * supported; HTTPS goes through the shared `httpsExchange` (pinned trust anchors, optional
 * client certificate for `-mutual-tls-ca`).
 */
import { request as httpRequest } from "node:http";
import { CardwrightError } from "@cardwright/core";
import { type HttpsOptions, type HttpsResponse, httpsExchange, serverUnavailable } from "../http/https-request.js";

/** One error entry of a cfssl answer (cfssl `errors.Error`: 4-digit category+reason code). */
export interface CfsslErrorEntry {
  code: number;
  message: string;
}

/** A cfssl answer: `result` on success, the error entries otherwise. */
export type CfsslAnswer =
  | { success: true; result: unknown; httpStatus: number }
  | { success: false; errors: CfsslErrorEntry[]; httpStatus: number };

/** Where and how to reach `cfssl serve`. */
export interface CfsslTransportOptions extends HttpsOptions {
  /** Base URL, e.g. `http://127.0.0.1:8888`; paths `/api/v1/cfssl/*` are appended. */
  url: string;
}

function plainHttpExchange(url: URL, body: string, timeoutMs: number): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (err) => reject(unreachable(url, err)));
        res.on("end", () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
          }
          resolve({ status: res.statusCode ?? 0, headers, body: new Uint8Array(Buffer.concat(chunks)) });
        });
      },
    );
    call.setTimeout(timeoutMs, () => {
      call.destroy(
        new CardwrightError(
          "CA_UNAVAILABLE",
          `no answer from cfssl at ${url.origin} within ${timeoutMs} ms; retry later`,
          {
            details: { url: `${url.origin}${url.pathname}`, timeoutMs },
          },
        ),
      );
    });
    call.on("error", (err) => reject(unreachable(url, err)));
    call.end(body);
  });
}

function unreachable(url: URL, err: unknown): CardwrightError {
  if (err instanceof CardwrightError) return err;
  const code = (err as { code?: unknown }).code;
  return new CardwrightError(
    "CA_UNAVAILABLE",
    `cannot reach cfssl at ${url.origin} (${typeof code === "string" ? code : String(err)}); check that cfssl serve runs there, then retry`,
    {
      details: { url: `${url.origin}${url.pathname}`, ...(typeof code === "string" ? { errno: code } : {}) },
      cause: err,
    },
  );
}

function badResponse(endpoint: string, message: string, httpStatus: number): CardwrightError {
  return new CardwrightError("CA_BAD_RESPONSE", `cfssl ${endpoint}: ${message}`, { details: { endpoint, httpStatus } });
}

function isErrorEntry(value: unknown): value is CfsslErrorEntry {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as CfsslErrorEntry).code === "number" &&
    typeof (value as CfsslErrorEntry).message === "string"
  );
}

/**
 * POST `body` as JSON to `/api/v1/cfssl/<endpoint>` and read the envelope.
 * @throws CardwrightError `CA_UNAVAILABLE` when cfssl cannot be reached, times out or answers
 * 5xx; `CA_BAD_RESPONSE` when the answer is not a cfssl envelope. A 404 without an envelope is
 * returned as a failure with code 404, so callers can tell a missing endpoint.
 */
export async function cfsslPost(options: CfsslTransportOptions, endpoint: string, body: unknown): Promise<CfsslAnswer> {
  const url = new URL(`api/v1/cfssl/${endpoint}`, options.url.endsWith("/") ? options.url : `${options.url}/`);
  const text = JSON.stringify(body);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let response: HttpsResponse;
  if (url.protocol === "http:") {
    response = await plainHttpExchange(url, text, timeoutMs);
  } else if (url.protocol === "https:") {
    response = await httpsExchange(
      { method: "POST", url: url.href, headers: { "content-type": "application/json" }, body: text },
      options,
    );
  } else {
    throw new CardwrightError("CONFIG_INVALID", `cfssl url must be http: or https:, got ${url.protocol}`, {
      details: { option: "url" },
    });
  }
  if (response.status >= 500 || response.status === 429) {
    throw serverUnavailable(response, url.href, `cfssl ${endpoint}`);
  }
  const raw = Buffer.from(response.body).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    if (response.status === 404) {
      return { success: false, errors: [{ code: 404, message: "endpoint not found" }], httpStatus: 404 };
    }
    throw badResponse(endpoint, `answered HTTP ${response.status} with something that is not JSON`, response.status);
  }
  const envelope = json as { success?: unknown; result?: unknown; errors?: unknown };
  if (typeof envelope !== "object" || envelope === null || typeof envelope.success !== "boolean") {
    throw badResponse(endpoint, "the answer is not a cfssl response envelope (no boolean success)", response.status);
  }
  if (envelope.success) return { success: true, result: envelope.result, httpStatus: response.status };
  const errors = Array.isArray(envelope.errors) ? envelope.errors.filter(isErrorEntry) : [];
  if (errors.length === 0) {
    throw badResponse(endpoint, "success is false but no error entry says why", response.status);
  }
  return { success: false, errors, httpStatus: response.status };
}

/** `result.certificate` (PEM) of a successful answer. */
export function resultCertificatePem(answer: Extract<CfsslAnswer, { success: true }>, endpoint: string): string {
  const certificate = (answer.result as { certificate?: unknown } | null)?.certificate;
  if (typeof certificate !== "string" || !certificate.includes("-----BEGIN CERTIFICATE-----")) {
    throw badResponse(endpoint, "result.certificate is missing or not PEM", answer.httpStatus);
  }
  return certificate;
}
