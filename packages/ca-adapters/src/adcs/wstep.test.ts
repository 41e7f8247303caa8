import { describe, expect, it } from "vitest";
import { buildRequestSecurityToken, parseWstepResponse, WstepNs, WstepUri } from "./wstep.js";
import { findElement, parseXml } from "./xml.js";

const rstrc = (inner: string) =>
  `<s:Envelope xmlns:s="${WstepNs.soap}"><s:Body><RequestSecurityTokenResponseCollection xmlns="${WstepNs.trust}">` +
  `<RequestSecurityTokenResponse>${inner}</RequestSecurityTokenResponse></RequestSecurityTokenResponseCollection></s:Body></s:Envelope>`;

describe("MS-WSTEP messages", () => {
  it("builds an Issue RST with the PKCS#10 token, the template context item and a UsernameToken", () => {
    const xml = buildRequestSecurityToken(
      "https://ca/CES",
      { kind: "issue", token: new Uint8Array([1, 2, 3]), format: "pkcs10", template: "User<&>" },
      { username: "CORP\\u", password: "p&ss" },
      "urn:uuid:1",
    );
    const doc = parseXml(xml);
    expect(findElement(doc, WstepNs.trust, "RequestType")?.text).toBe(WstepUri.requestIssue);
    const token = findElement(doc, WstepNs.secext, "BinarySecurityToken");
    expect(token?.attributes.ValueType).toBe(WstepUri.valuePkcs10);
    expect(token?.text).toBe("AQID");
    expect(findElement(doc, WstepNs.authorization, "Value")?.text).toBe("User<&>");
    expect(findElement(doc, WstepNs.secext, "Password")?.text).toBe("p&ss");
    expect(findElement(doc, WstepNs.addressing, "MessageID")?.text).toBe("urn:uuid:1");
  });

  it("builds a QueryTokenStatus RST with the request id", () => {
    const doc = parseXml(buildRequestSecurityToken("https://ca/CES", { kind: "query", requestId: "42" }));
    expect(findElement(doc, WstepNs.trust, "RequestType")?.text).toBe(WstepUri.requestQueryTokenStatus);
    expect(findElement(doc, WstepNs.enrollment, "RequestID")?.text).toBe("42");
    expect(findElement(doc, WstepNs.secext, "Security")).toBeUndefined();
  });

  it("reads issued, pending and fault answers", () => {
    const issued = parseWstepResponse(
      rstrc(
        `<RequestedSecurityToken><BinarySecurityToken xmlns="${WstepNs.secext}">MIIB</BinarySecurityToken></RequestedSecurityToken>` +
          `<RequestID xmlns="${WstepNs.enrollment}">7</RequestID>`,
      ),
    );
    expect(issued).toEqual({
      kind: "issued",
      requestId: "7",
      certificate: new Uint8Array(Buffer.from("MIIB", "base64")),
    });
    expect(
      parseWstepResponse(
        rstrc(
          `<DispositionMessage xmlns="${WstepNs.enrollment}">Taken Under Submission</DispositionMessage><RequestID xmlns="${WstepNs.enrollment}">8</RequestID>`,
        ),
      ),
    ).toEqual({ kind: "pending", requestId: "8", disposition: "Taken Under Submission" });
    const fault = parseWstepResponse(
      `<s:Envelope xmlns:s="${WstepNs.soap}"><s:Body><s:Fault><s:Reason><s:Text>Denied</s:Text></s:Reason><s:Detail>` +
        `<CertificateEnrollmentWSDetail xmlns="${WstepNs.enrollment}"><ErrorCode>-2146877422</ErrorCode><InvalidRequest>false</InvalidRequest>` +
        `<RequestID>9</RequestID></CertificateEnrollmentWSDetail></s:Detail></s:Fault></s:Body></s:Envelope>`,
    );
    expect(fault).toEqual({
      kind: "fault",
      reason: "Denied",
      errorCode: 0x80094012,
      requestId: "9",
      invalidRequest: false,
    });
  });

  it("refuses what is neither: another envelope, no id, bad base64", () => {
    expect(() => parseWstepResponse("<Envelope/>")).toThrow(/SOAP 1.2/);
    expect(() => parseWstepResponse(rstrc(""))).toThrow(/no certificate and no request id/);
    expect(() =>
      parseWstepResponse(
        rstrc(
          `<RequestedSecurityToken><BinarySecurityToken xmlns="${WstepNs.secext}">!!</BinarySecurityToken></RequestedSecurityToken>`,
        ),
      ),
    ).toThrow(/not base64/);
  });
});
