import { describe, expect, it } from "vitest";
import { approvalIdFromMessage, EJBCA_REVOCATION_REASON, revocationReasonFromEjbca } from "./ejbca-rest.js";

describe("EJBCA REST helpers", () => {
  it("finds the approval request id in EJBCA's messages, negative ids included", () => {
    expect(approvalIdFromMessage("Request with Id '-1201334567' is still waiting for approval")).toBe(-1201334567);
    expect(approvalIdFromMessage("Request with ID: 42 has been sent for approval")).toBe(42);
    expect(approvalIdFromMessage("Added for approval.")).toBeUndefined();
    expect(approvalIdFromMessage(undefined)).toBeUndefined();
    // "valid 3 days" must not be read as an id.
    expect(approvalIdFromMessage("Request is valid 3 days")).toBeUndefined();
  });

  it("maps every RFC 5280 reason to EJBCA's name and back", () => {
    for (const [name, ejbca] of Object.entries(EJBCA_REVOCATION_REASON)) {
      expect(revocationReasonFromEjbca(ejbca)).toBe(name);
    }
    expect(EJBCA_REVOCATION_REASON.privilegeWithdrawn).toBe("PRIVILEGES_WITHDRAWN");
    expect(revocationReasonFromEjbca("NOT_REVOKED")).toBeUndefined();
  });
});
