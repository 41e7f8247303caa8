/**
 * The AD CS Web Enrollment pages (`/certsrv`), the fallback when no Certificate Enrollment Web
 * Service is deployed: a form POST to `certfnsh.asp` with the base64 request and the template as
 * the attribute `CertificateTemplate:<name>`, an HTML answer that is either the issued page
 * (linking `certnew.cer?ReqID=N`), the pending page ("Your Request Id is N") or a denial carrying
 * the disposition message; `certnew.cer?ReqID=N&Enc=b64` then returns the certificate, and
 * `certnew.p7b` the chain. These pages are HTML for people, so the reading is by their fixed
 * English phrases and link shapes.
 */

/** The certfnsh.asp form body (application/x-www-form-urlencoded). */
export function certfnshForm(request: Uint8Array, template: string | undefined): string {
  const form = new URLSearchParams();
  form.set("Mode", "newreq");
  form.set("CertRequest", Buffer.from(request).toString("base64"));
  form.set("CertAttrib", template === undefined ? "" : `CertificateTemplate:${template}`);
  form.set("TargetStoreFlags", "0");
  form.set("SaveCert", "yes");
  form.set("ThumbPrint", "");
  return form.toString();
}

/** What a certsrv page says about a request. */
export type CertsrvPage =
  | { kind: "issued"; requestId: string }
  | { kind: "pending"; requestId: string }
  | { kind: "denied"; requestId?: string; disposition: string }
  | { kind: "unknown-request"; disposition: string }
  | { kind: "unrecognised" };

function decodeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/**
 * Read an HTML page from certfnsh.asp, or from certnew.cer when the certificate is not there
 * (then `knownRequestId` is the id asked about).
 */
export function readCertsrvPage(html: string, knownRequestId?: string): CertsrvPage {
  const issuedLink = /certnew\.cer\?ReqID=(\d+)/i.exec(html);
  const requestId = /Your Request Id is\s*(\d+)/i.exec(html)?.[1] ?? knownRequestId;
  const disposition = decodeHtml(/The disposition message is\s*"([^"]*)"/i.exec(html)?.[1] ?? "").trim();
  // CERTSRV_E_NO_REQUEST (0x80094002) is how certsrv reports a request id the CA does not have.
  if (/0x80094002|request (?:id )?does not exist/i.test(html)) {
    return { kind: "unknown-request", disposition: disposition || "the request does not exist" };
  }
  if (/denied/i.test(html)) {
    return { kind: "denied", ...(requestId === undefined ? {} : { requestId }), disposition: disposition || "denied" };
  }
  if (requestId !== undefined && /pending|Taken Under Submission|wait for an administrator/i.test(html)) {
    return { kind: "pending", requestId };
  }
  if (issuedLink?.[1] !== undefined) return { kind: "issued", requestId: issuedLink[1] };
  if (/Taken Under Submission|still pending/i.test(html) && requestId !== undefined)
    return { kind: "pending", requestId };
  return { kind: "unrecognised" };
}
