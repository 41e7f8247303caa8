/**
 * MS-WSTEP (WS-Trust X.509v3 Token Enrollment Extensions), the protocol of the AD CS
 * Certificate Enrollment Web Service: SOAP 1.2 RequestSecurityToken messages carrying a base64
 * PKCS#10 or CMC/PKCS#7 as a BinarySecurityToken (§3.1.4.1.1.1), a QueryTokenStatus request for
 * a pending request id (§3.1.4.2.1.2), and the RequestSecurityTokenResponseCollection or SOAP
 * fault that answers them (§3.1.4.1.1.2, §2.2.1 CertificateEnrollmentWSDetail).
 */
import { randomUUID } from "node:crypto";
import { CardwrightError } from "@cardwright/core";
import { childElements, escapeXml, findElement, parseXml, type XmlElement } from "./xml.js";

/** Namespaces (MS-WSTEP §2.2.1 and the specifications it profiles). */
export const WstepNs = {
  soap: "http://www.w3.org/2003/05/soap-envelope",
  addressing: "http://www.w3.org/2005/08/addressing",
  trust: "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
  secext: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
  utility: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
  enrollment: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment",
  authorization: "http://schemas.xmlsoap.org/ws/2006/12/authorization",
} as const;

/** URIs the messages carry. */
export const WstepUri = {
  actionRst: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep",
  actionRstrc: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep",
  tokenTypeX509v3: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3",
  requestIssue: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
  requestQueryTokenStatus: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/QueryTokenStatus",
  valuePkcs10: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10",
  valuePkcs7: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS7",
  encodingBase64: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary",
  passwordText: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText",
} as const;

/** AD CS HRESULTs the adapter tells apart (winerror.h, CERTSRV_E_*). */
export const CertsrvError = {
  /** CERTSRV_E_NO_REQUEST: the request id does not exist. */
  noRequest: 0x80094002,
  /** CERTSRV_E_TEMPLATE_DENIED: the template's permissions do not allow this requester. */
  templateDenied: 0x80094012,
  /** CERTSRV_E_UNSUPPORTED_CERT_TYPE: the CA does not issue this template. */
  unsupportedTemplate: 0x80094800,
} as const;

/** WS-Security UsernameToken credentials for the CES "UsernamePassword" endpoint. */
export interface WstepUsernameToken {
  username: string;
  password: string;
}

/** What a RequestSecurityToken asks. */
export type WstepRequest =
  | { kind: "issue"; token: Uint8Array; format: "pkcs10" | "pkcs7"; template?: string }
  | { kind: "query"; requestId: string };

/** The server's answer. */
export type WstepResponse =
  | { kind: "issued"; requestId?: string; certificate: Uint8Array; pkcs7?: Uint8Array; disposition?: string }
  | { kind: "pending"; requestId: string; disposition?: string }
  | { kind: "fault"; reason: string; errorCode?: number; requestId?: string; invalidRequest: boolean };

/** The SOAP 1.2 envelope of a RequestSecurityToken to `to` (the CES endpoint URL). */
export function buildRequestSecurityToken(
  to: string,
  request: WstepRequest,
  credentials?: WstepUsernameToken,
  messageId: string = `urn:uuid:${randomUUID()}`,
): string {
  const security =
    credentials === undefined
      ? ""
      : `<o:Security s:mustUnderstand="1" xmlns:o="${WstepNs.secext}"><o:UsernameToken u:Id="uuid-${randomUUID()}" xmlns:u="${WstepNs.utility}">` +
        `<o:Username>${escapeXml(credentials.username)}</o:Username>` +
        `<o:Password Type="${WstepUri.passwordText}">${escapeXml(credentials.password)}</o:Password></o:UsernameToken></o:Security>`;
  let body: string;
  if (request.kind === "issue") {
    const valueType = request.format === "pkcs10" ? WstepUri.valuePkcs10 : WstepUri.valuePkcs7;
    // The template reaches the CA as the request attribute CertificateTemplate:<name> (§3.1.4.1.3.3).
    const context =
      request.template === undefined
        ? ""
        : `<AdditionalContext xmlns="${WstepNs.authorization}"><ContextItem Name="CertificateTemplate"><Value>${escapeXml(
            request.template,
          )}</Value></ContextItem></AdditionalContext>`;
    body =
      `<TokenType>${WstepUri.tokenTypeX509v3}</TokenType><RequestType>${WstepUri.requestIssue}</RequestType>` +
      `<BinarySecurityToken ValueType="${valueType}" EncodingType="${WstepUri.encodingBase64}" xmlns="${WstepNs.secext}">` +
      `${Buffer.from(request.token).toString("base64")}</BinarySecurityToken>${context}`;
  } else {
    body =
      `<TokenType>${WstepUri.tokenTypeX509v3}</TokenType><RequestType>${WstepUri.requestQueryTokenStatus}</RequestType>` +
      `<RequestID xmlns="${WstepNs.enrollment}">${escapeXml(request.requestId)}</RequestID>`;
  }
  return (
    `<s:Envelope xmlns:s="${WstepNs.soap}" xmlns:a="${WstepNs.addressing}"><s:Header>` +
    `<a:Action s:mustUnderstand="1">${WstepUri.actionRst}</a:Action><a:MessageID>${messageId}</a:MessageID>` +
    `<a:To s:mustUnderstand="1">${escapeXml(to)}</a:To>${security}</s:Header><s:Body>` +
    `<RequestSecurityToken PreferredLanguage="en-US" xmlns="${WstepNs.trust}">${body}</RequestSecurityToken></s:Body></s:Envelope>`
  );
}

function base64Of(element: XmlElement | undefined, what: string): Uint8Array | undefined {
  if (element === undefined) return undefined;
  const text = element.text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*=*$/.test(text) || text.length === 0) {
    throw new CardwrightError("CA_BAD_RESPONSE", `the enrollment web service sent a ${what} that is not base64`);
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}

/**
 * Read a RequestSecurityTokenResponseCollection or a SOAP fault.
 * @throws CardwrightError `CA_BAD_RESPONSE` for XML that is neither.
 */
export function parseWstepResponse(xml: string): WstepResponse {
  const envelope = parseXml(xml);
  if (envelope.ns !== WstepNs.soap || envelope.name !== "Envelope") {
    throw new CardwrightError("CA_BAD_RESPONSE", "the enrollment web service did not answer a SOAP 1.2 envelope");
  }
  const fault = findElement(envelope, WstepNs.soap, "Fault");
  if (fault !== undefined) {
    const reason = findElement(fault, WstepNs.soap, "Text")?.text.trim() ?? "SOAP fault without a reason";
    const detail = findElement(fault, WstepNs.enrollment, "CertificateEnrollmentWSDetail");
    const code = detail === undefined ? undefined : findElement(detail, WstepNs.enrollment, "ErrorCode")?.text.trim();
    const requestId =
      detail === undefined ? undefined : findElement(detail, WstepNs.enrollment, "RequestID")?.text.trim();
    const invalid =
      detail === undefined ? undefined : findElement(detail, WstepNs.enrollment, "InvalidRequest")?.text.trim();
    return {
      kind: "fault",
      reason,
      ...(code !== undefined && /^-?\d+$/.test(code) ? { errorCode: Number(code) >>> 0 } : {}),
      ...(requestId !== undefined && requestId !== "" ? { requestId } : {}),
      invalidRequest: invalid === "true",
    };
  }
  const rstr = findElement(envelope, WstepNs.trust, "RequestSecurityTokenResponse");
  if (rstr === undefined) {
    throw new CardwrightError(
      "CA_BAD_RESPONSE",
      "the enrollment web service answered neither a token response nor a fault",
    );
  }
  const requestId = findElement(rstr, WstepNs.enrollment, "RequestID")?.text.trim();
  const disposition = findElement(rstr, WstepNs.enrollment, "DispositionMessage")?.text.trim();
  const requested = childElements(rstr, WstepNs.trust, "RequestedSecurityToken")[0];
  const issuedToken =
    requested === undefined ? undefined : findElement(requested, WstepNs.secext, "BinarySecurityToken");
  const certificate = base64Of(issuedToken, "certificate");
  const bundle = base64Of(childElements(rstr, WstepNs.secext, "BinarySecurityToken")[0], "PKCS#7 bundle");
  if (certificate !== undefined) {
    return {
      kind: "issued",
      certificate,
      ...(requestId === undefined ? {} : { requestId }),
      ...(bundle === undefined ? {} : { pkcs7: bundle }),
      ...(disposition === undefined ? {} : { disposition }),
    };
  }
  if (requestId === undefined || requestId === "") {
    throw new CardwrightError(
      "CA_BAD_RESPONSE",
      "the enrollment web service answered no certificate and no request id",
    );
  }
  return { kind: "pending", requestId, ...(disposition === undefined ? {} : { disposition }) };
}
