import { describe, expect, it } from "vitest";
import {
  decodePkiStatusInfo,
  describeStatus,
  encodePkiStatusInfo,
  FAILURE_INFO_BITS,
  PkiStatus,
} from "./pki-status.js";

describe("PKIStatusInfo (RFC 4210 §5.2.3)", () => {
  it("encodes failInfo bits MSB-first with the unused trailing bits counted", () => {
    // badRequest is bit 2: 0b0010_0000 with 5 unused bits, as OpenSSL sends it (03 02 05 20).
    const der = new Uint8Array(encodePkiStatusInfo({ status: 2, failInfo: ["badRequest"] }).toBER(false));
    expect(Buffer.from(der).toString("hex")).toBe("3007020102030205" + "20");
  });

  it("round-trips status, statusString and every failure bit", () => {
    for (const bit of FAILURE_INFO_BITS) {
      const block = encodePkiStatusInfo({ status: PkiStatus.rejection, statusString: ["no", "way"], failInfo: [bit] });
      expect(decodePkiStatusInfo(block)).toEqual({ status: 2, statusString: ["no", "way"], failInfo: [bit] });
    }
    const many = encodePkiStatusInfo({ status: 2, failInfo: ["badPOP", "notAuthorized", "duplicateCertReq"] });
    expect(decodePkiStatusInfo(many).failInfo).toEqual(["badPOP", "notAuthorized", "duplicateCertReq"]);
  });

  it("describes a status for humans", () => {
    expect(describeStatus({ status: 2, statusString: ["denied"], failInfo: ["badPOP"] })).toBe(
      "rejection (failInfo: badPOP): denied",
    );
    expect(describeStatus({ status: 3, statusString: [], failInfo: [] })).toBe("waiting");
  });

  it("refuses a malformed PKIStatusInfo as CA_BAD_RESPONSE", async () => {
    const asn1js = await import("asn1js");
    expect(() => decodePkiStatusInfo(new asn1js.Integer({ value: 1 }))).toThrow(
      expect.objectContaining({ code: "CA_BAD_RESPONSE" }),
    );
  });
});
