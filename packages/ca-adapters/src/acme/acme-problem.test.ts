import { describe, expect, it } from "vitest";
import { AcmeProblemError, describeProblem, isRejection, problemCode, readProblem } from "./acme-problem.js";

describe("ACME problem documents (RFC 8555 §6.7)", () => {
  it("reads the type without the ACME namespace, detail and subproblems", () => {
    const problem = readProblem({
      type: "urn:ietf:params:acme:error:rejectedIdentifier",
      detail: "Error creating new order",
      status: 400,
      subproblems: [{ type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "bad.example is forbidden" }],
    });
    expect(problem).toEqual({
      type: "rejectedIdentifier",
      detail: "Error creating new order",
      status: 400,
      subproblems: [{ type: "rejectedIdentifier", detail: "bad.example is forbidden" }],
    });
    expect(describeProblem(problem as never)).toBe(
      "rejectedIdentifier: Error creating new order (rejectedIdentifier: bad.example is forbidden)",
    );
    expect(readProblem({ detail: "no type" })).toBeUndefined();
    expect(readProblem("text")).toBeUndefined();
  });

  it("maps types to codes: server trouble, request content, state, client mistakes", () => {
    expect(problemCode({ type: "rateLimited" })).toBe("CA_UNAVAILABLE");
    expect(problemCode({ type: "serverInternal" })).toBe("CA_UNAVAILABLE");
    expect(problemCode({ type: "badCSR" })).toBe("CA_REJECTED");
    expect(problemCode({ type: "alreadyRevoked" })).toBe("CA_WRONG_STATE");
    expect(problemCode({ type: "badRevocationReason" })).toBe("CA_UNSUPPORTED");
    expect(problemCode({ type: "malformed" })).toBe("CA_INVALID_REQUEST");
    expect(isRejection({ type: "malformed", subproblems: [{ type: "caa" }] })).toBe(true);
    const err = new AcmeProblemError("creating the order", { type: "rateLimited", detail: "too many" }, 429, 3600);
    expect(err.toJSON()).toMatchObject({
      code: "CA_UNAVAILABLE",
      message: "creating the order: the ACME server answered rateLimited: too many",
      details: { acmeProblem: "rateLimited", httpStatus: 429, retryAfterSeconds: 3600 },
    });
  });
});
