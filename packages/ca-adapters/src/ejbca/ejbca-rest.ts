/**
 * EJBCA's REST interface (EJBCA CE REST API v1, base path `/ejbca/ejbca-rest-api`) as this
 * adapter uses it: JSON over HTTPS with TLS client-certificate authentication, snake_case
 * fields, errors as `ExceptionErrorRestResponse { error_code, error_message }` and the
 * "waiting for approval" answer as HTTP 202 `ExceptionInfoRestResponse { status_code,
 * info_message }`. Field names follow EJBCA's published OpenAPI description.
 */
import { CardwrightError, type RevocationReason } from "@cardwright/core";
import { type HttpsOptions, type HttpsResponse, httpsExchange, serverUnavailable } from "../http/https-request.js";

/** Base path of the REST interface under the EJBCA host. */
export const EJBCA_REST_BASE = "/ejbca/ejbca-rest-api";

/** EJBCA's revocation reason names (`RevocationReasons` CLI values) by RFC 5280 name. */
export const EJBCA_REVOCATION_REASON: Readonly<Record<RevocationReason, string>> = {
  unspecified: "UNSPECIFIED",
  keyCompromise: "KEY_COMPROMISE",
  cACompromise: "CA_COMPROMISE",
  affiliationChanged: "AFFILIATION_CHANGED",
  superseded: "SUPERSEDED",
  cessationOfOperation: "CESSATION_OF_OPERATION",
  certificateHold: "CERTIFICATE_HOLD",
  removeFromCRL: "REMOVE_FROM_CRL",
  privilegeWithdrawn: "PRIVILEGES_WITHDRAWN",
  aACompromise: "AA_COMPROMISE",
};

/** RFC 5280 name of an EJBCA reason name; undefined for NOT_REVOKED or unknown names. */
export function revocationReasonFromEjbca(name: string): RevocationReason | undefined {
  const entry = Object.entries(EJBCA_REVOCATION_REASON).find(([, ejbca]) => ejbca === name.toUpperCase());
  return entry?.[0] as RevocationReason | undefined;
}

/** One exchange's outcome: status and parsed JSON (undefined when the body is not JSON). */
export interface EjbcaAnswer {
  status: number;
  json: unknown;
  /** `error_message` or `info_message`, when the body carries one. */
  message?: string;
  contentType: string;
  body: Uint8Array;
}

/** Where and how to reach EJBCA. */
export interface EjbcaTransportOptions extends HttpsOptions {
  /** `https://host:port` of EJBCA (or its RA); {@link EJBCA_REST_BASE} is appended. */
  url: string;
}

/**
 * One REST call. `path` starts with `/v1/`; its variable segments must already be encoded.
 * @throws CardwrightError `CA_UNAVAILABLE` when EJBCA cannot be reached, times out or answers
 * 5xx/429.
 */
export async function ejbcaCall(
  options: EjbcaTransportOptions,
  method: "GET" | "POST" | "PUT",
  path: string,
  body?: unknown,
): Promise<EjbcaAnswer> {
  const url = `${options.url.replace(/\/+$/, "")}${EJBCA_REST_BASE}${path}`;
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  // httpsExchange's method type has no PUT; node:https accepts any method name.
  const response: HttpsResponse = await httpsExchange(
    {
      method: method as "GET" | "POST",
      url,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
    options,
  );
  if (response.status >= 500 || response.status === 429) {
    const answer = readAnswer(response);
    const error = serverUnavailable(response, url, `EJBCA ${method} ${path.split("/").slice(0, 3).join("/")}`);
    if (answer.message === undefined) throw error;
    throw new CardwrightError(error.code, `${error.message} (${answer.message})`, { details: error.details });
  }
  return readAnswer(response);
}

function readAnswer(response: HttpsResponse): EjbcaAnswer {
  const contentType = response.headers["content-type"] ?? "";
  const text = Buffer.from(response.body).toString("utf8");
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const record = json as { error_message?: unknown; info_message?: unknown } | undefined;
  const message =
    typeof record?.error_message === "string"
      ? record.error_message
      : typeof record?.info_message === "string"
        ? record.info_message
        : undefined;
  return {
    status: response.status,
    json,
    contentType,
    body: response.body,
    ...(message === undefined ? {} : { message }),
  };
}

/** An RFC 4514-ish DN or hex serial as one URL path segment. */
export function pathSegment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * The approval request id in a 202 `info_message`. EJBCA's REST answer has no separate field
 * for it; its messages name it as "Id '123'" / "ID: 123" (ids may be negative).
 */
export function approvalIdFromMessage(message: string | undefined): number | undefined {
  if (message === undefined) return undefined;
  const match = /\bid\b[^\d-]{0,3}(-?\d+)/i.exec(message);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
