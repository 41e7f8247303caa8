/**
 * MS-XCEP (X.509 Certificate Enrollment Policy), the AD CS Certificate Enrollment Policy Web
 * Service: a GetPolicies request (§3.1.4.1.1.1) and its response (§3.1.4.1.1.2) listing the
 * certificate templates the requester may enroll for, their OIDs, validity, and the enrollment
 * service URIs of the CAs that issue them.
 */
import { randomUUID } from "node:crypto";
import { CardwrightError } from "@cardwright/core";
import { WstepNs, WstepUri, type WstepUsernameToken } from "./wstep.js";
import { childElements, escapeXml, findElement, parseXml, type XmlElement } from "./xml.js";

/** The MS-XCEP namespace and GetPolicies action. */
export const XcepNs = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy";
export const XCEP_ACTION_GET_POLICIES =
  "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies";

/** MS-XCEP §3.1.4.1.3.3 clientAuthentication values of a CA URI. */
export const XcepClientAuthentication = { anonymous: 1, kerberos: 2, usernamePassword: 4, certificate: 8 } as const;

/** An enrollment endpoint of a CA. */
export interface XcepEnrollmentUri {
  uri: string;
  clientAuthentication: number;
  priority: number;
  renewalOnly: boolean;
}

/** A certificate template the policy offers. */
export interface XcepTemplate {
  /** Template common name (what `CertificateProfile.caProfile` names). */
  name: string;
  /** Template OID, dotted, when the policy lists one. */
  oid?: string;
  /** certificateValidity/validityPeriodSeconds. */
  validitySeconds?: number;
  /** Enrollment URIs of the CAs issuing it. */
  enrollmentUris: XcepEnrollmentUri[];
}

/** The SOAP 1.2 envelope of a GetPolicies request to `to`. */
export function buildGetPolicies(to: string, credentials?: WstepUsernameToken): string {
  const security =
    credentials === undefined
      ? ""
      : `<o:Security s:mustUnderstand="1" xmlns:o="${WstepNs.secext}"><o:UsernameToken u:Id="uuid-${randomUUID()}" xmlns:u="${WstepNs.utility}">` +
        `<o:Username>${escapeXml(credentials.username)}</o:Username>` +
        `<o:Password Type="${WstepUri.passwordText}">${escapeXml(credentials.password)}</o:Password></o:UsernameToken></o:Security>`;
  return (
    `<s:Envelope xmlns:s="${WstepNs.soap}" xmlns:a="${WstepNs.addressing}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header>` +
    `<a:Action s:mustUnderstand="1">${XCEP_ACTION_GET_POLICIES}</a:Action><a:MessageID>urn:uuid:${randomUUID()}</a:MessageID>` +
    `<a:To s:mustUnderstand="1">${escapeXml(to)}</a:To>${security}</s:Header><s:Body>` +
    `<GetPolicies xmlns="${XcepNs}"><client><lastUpdate xsi:nil="true"/><preferredLanguage xsi:nil="true"/></client>` +
    `<requestFilter xsi:nil="true"/></GetPolicies></s:Body></s:Envelope>`
  );
}

function text(element: XmlElement | undefined, name: string): string | undefined {
  if (element === undefined) return undefined;
  const child = childElements(element, XcepNs, name)[0];
  return child?.text.trim();
}

/**
 * The templates of a GetPoliciesResponse.
 * @throws CardwrightError `CA_INVALID_REQUEST` for a SOAP fault (the service refused us),
 * `CA_BAD_RESPONSE` for anything else that is not a GetPoliciesResponse.
 */
export function parseGetPoliciesResponse(xml: string): XcepTemplate[] {
  const envelope = parseXml(xml);
  const fault = findElement(envelope, WstepNs.soap, "Fault");
  if (fault !== undefined) {
    const reason = findElement(fault, WstepNs.soap, "Text")?.text.trim() ?? "SOAP fault";
    throw new CardwrightError(
      "CA_INVALID_REQUEST",
      `the enrollment policy service refused the request: ${reason}; check the account or client certificate`,
    );
  }
  const response = findElement(envelope, XcepNs, "GetPoliciesResponse");
  if (response === undefined) {
    throw new CardwrightError("CA_BAD_RESPONSE", "the enrollment policy service did not answer a GetPoliciesResponse");
  }
  const oids = new Map<string, string>();
  const oidList = childElements(response, XcepNs, "oIDs")[0];
  for (const oid of oidList === undefined ? [] : childElements(oidList, XcepNs, "oID")) {
    const ref = text(oid, "oIDReferenceID");
    const value = text(oid, "value");
    if (ref !== undefined && value !== undefined) oids.set(ref, value);
  }
  const cas = new Map<string, XcepEnrollmentUri[]>();
  const caList = childElements(response, XcepNs, "cAs")[0];
  for (const ca of caList === undefined ? [] : childElements(caList, XcepNs, "cA")) {
    const ref = text(ca, "cAReferenceID");
    const uris = childElements(ca, XcepNs, "uris")[0];
    const list = (uris === undefined ? [] : childElements(uris, XcepNs, "cAURI")).map((u) => ({
      uri: text(u, "uri") ?? "",
      clientAuthentication: Number(text(u, "clientAuthentication") ?? 0),
      priority: Number(text(u, "priority") ?? 0),
      renewalOnly: text(u, "renewalOnly") === "true",
    }));
    if (ref !== undefined) cas.set(ref, list);
  }
  const inner = childElements(response, XcepNs, "response")[0];
  const policies = inner === undefined ? undefined : childElements(inner, XcepNs, "policies")[0];
  const templates: XcepTemplate[] = [];
  for (const policy of policies === undefined ? [] : childElements(policies, XcepNs, "policy")) {
    const attributes = childElements(policy, XcepNs, "attributes")[0];
    const name = text(attributes, "commonName");
    if (name === undefined || name === "") continue;
    const oidRef = text(policy, "policyOIDReference");
    const validity = attributes === undefined ? undefined : childElements(attributes, XcepNs, "certificateValidity")[0];
    const seconds = text(validity, "validityPeriodSeconds");
    const caRefs = childElements(policy, XcepNs, "cAs")[0];
    const enrollmentUris = (caRefs === undefined ? [] : childElements(caRefs, XcepNs, "cAReference"))
      .flatMap((r) => cas.get(r.text.trim()) ?? [])
      .sort((a, b) => a.priority - b.priority);
    const oid = oidRef === undefined ? undefined : oids.get(oidRef);
    templates.push({
      name,
      ...(oid === undefined ? {} : { oid }),
      ...(seconds === undefined ? {} : { validitySeconds: Number(seconds) }),
      enrollmentUris,
    });
  }
  return templates;
}
