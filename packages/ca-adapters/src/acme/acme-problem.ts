/**
 * ACME problem documents (RFC 8555 §6.7, RFC 7807) turned into typed errors. A problem about the
 * request's content (identifier, CSR) is the CA's answer to that request and becomes a `rejected`
 * result in the adapter; a problem about the server becomes `CA_UNAVAILABLE`; the rest mean our
 * request was wrong (`CA_INVALID_REQUEST`).
 */
import { CardwrightError, type ErrorCode } from "@cardwright/core";

/** The ACME error namespace (RFC 8555 §6.7). */
export const ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:";

/** A problem document, as far as cardwright reads it. */
export interface AcmeProblem {
  /** Short type, without {@link ACME_ERROR_PREFIX} (e.g. `"badNonce"`), or the full URI of a non-ACME type. */
  type: string;
  detail?: string;
  status?: number;
  subproblems?: AcmeProblem[];
}

/** Problems that say the request itself cannot be granted: the CA's `rejected` answer. */
const REJECTIONS = new Set([
  "rejectedIdentifier",
  "unsupportedIdentifier",
  "badCSR",
  "caa",
  "incorrectResponse",
  "connection",
  "dns",
  "tls",
  "unauthorized",
  "badPublicKey",
]);
/** Problems about the server's state: retry later. */
const UNAVAILABLE = new Set(["rateLimited", "serverInternal"]);

/** Read a problem document from a JSON value; undefined when it is not one. */
export function readProblem(value: unknown): AcmeProblem | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  if (typeof raw.type !== "string") return undefined;
  const type = raw.type.startsWith(ACME_ERROR_PREFIX) ? raw.type.slice(ACME_ERROR_PREFIX.length) : raw.type;
  const problem: AcmeProblem = { type };
  if (typeof raw.detail === "string") problem.detail = raw.detail;
  if (typeof raw.status === "number") problem.status = raw.status;
  if (Array.isArray(raw.subproblems)) {
    problem.subproblems = raw.subproblems.map(readProblem).filter((p): p is AcmeProblem => p !== undefined);
  }
  return problem;
}

/** True when the problem is the CA refusing the request's content (a `rejected` result). */
export function isRejection(problem: AcmeProblem): boolean {
  return REJECTIONS.has(problem.type) || (problem.subproblems ?? []).some((p) => REJECTIONS.has(p.type));
}

/** One line describing a problem and its subproblems, for `rejected.reason` and error messages. */
export function describeProblem(problem: AcmeProblem): string {
  const sub = (problem.subproblems ?? []).map((p) => `${p.type}: ${p.detail ?? ""}`.trim());
  return `${problem.type}${problem.detail === undefined ? "" : `: ${problem.detail}`}${sub.length > 0 ? ` (${sub.join("; ")})` : ""}`;
}

/** The error code a problem maps to when it is not turned into a `rejected` result. */
export function problemCode(problem: AcmeProblem): ErrorCode {
  if (UNAVAILABLE.has(problem.type)) return "CA_UNAVAILABLE";
  if (problem.type === "alreadyRevoked") return "CA_WRONG_STATE";
  if (problem.type === "badRevocationReason") return "CA_UNSUPPORTED";
  if (isRejection(problem)) return "CA_REJECTED";
  return "CA_INVALID_REQUEST";
}

/** The typed error for a problem, with `context` ("creating the order") first in the message. */
export class AcmeProblemError extends CardwrightError {
  readonly problem: AcmeProblem;

  constructor(context: string, problem: AcmeProblem, httpStatus: number, retryAfterSeconds?: number) {
    super(problemCode(problem), `${context}: the ACME server answered ${describeProblem(problem)}`, {
      details: { acmeProblem: problem.type, httpStatus, retryAfterSeconds },
    });
    this.problem = problem;
  }
}
