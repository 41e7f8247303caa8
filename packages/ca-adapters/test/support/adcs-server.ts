/**
 * A recorded-exchange AD CS for tests: no AD CS can run on this machine, so this HTTPS server on
 * 127.0.0.1 answers like the Certificate Enrollment Web Service (MS-WSTEP), the Certificate
 * Enrollment Policy Web Service (MS-XCEP) and the `/certsrv` Web Enrollment pages, with message
 * shapes built from the Microsoft open specifications' examples and the well-known certsrv page
 * texts. It reads requests with regular expressions of its own (not the adapter's XML reader),
 * checks credentials, and signs real certificates with an openssl-made CA.
 *
 * Templates: `CardwrightUser` issues; `CardwrightApproval` is taken under submission until
 * {@link AdcsServer.approve}/{@link AdcsServer.deny}; `CardwrightWrongKey` certifies another key;
 * `Forbidden` is denied by template permissions (CERTSRV_E_TEMPLATE_DENIED); any other name is
 * CERTSRV_E_UNSUPPORTED_CERT_TYPE.
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { makeTlsMaterial } from "./acme-pebble.js";
import { verifiedCmcCsr } from "./cmc-agent.js";
import { startLocalHttpsServer } from "./https-server.js";
import { type OpensslWorkspace, opensslWorkspace } from "./openssl.js";
import { createOpensslCa, type OpensslCa, pem } from "./openssl-ca.js";

export const ADCS_USER = "CORP\\enroller";
export const ADCS_PASSWORD = "adcs-test-password-not-secret";
export const CES_PATH = "/Cardwright-CA_CES_UsernamePassword/service.svc/CES";
export const CEP_PATH = "/ADPolicyProvider_CEP_UsernamePassword/service.svc/CEP";

const NS = {
  soap: "http://www.w3.org/2003/05/soap-envelope",
  addressing: "http://www.w3.org/2005/08/addressing",
  trust: "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
  secext: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
  enrollment: "http://schemas.microsoft.com/windows/pki/2009/01/enrollment",
  policy: "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy",
};
const X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
const B64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary";
const PKCS7 = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS7";
const TEMPLATE_DENIED = 0x80094012 | 0;
const UNSUPPORTED_TEMPLATE = 0x80094800 | 0;
const NO_REQUEST = 0x80094002 | 0;

export interface AdcsRecord {
  channel: "ces" | "cep" | "certsrv";
  /** Request type URI or certsrv page. */
  operation: string;
  template?: string;
  /** ValueType of the BinarySecurityToken (PKCS10/PKCS7). */
  valueType?: string;
  authenticatedAs?: string;
  status: number;
}

interface CaRequest {
  id: number;
  status: "issued" | "pending" | "denied";
  certificate?: Uint8Array;
  csr: Uint8Array;
  disposition: string;
}

export interface AdcsServer {
  origin: string;
  tlsCa: string;
  ca: OpensslCa;
  records: AdcsRecord[];
  /** When true the CES answers 503 (to exercise the certsrv fallback). */
  cesDown: boolean;
  approve(id: string): Promise<void>;
  deny(id: string): void;
  workspace: OpensslWorkspace;
  close(): Promise<void>;
}

function xmlText(xml: string, localName: string): string | undefined {
  return new RegExp(`<(?:\\w+:)?${localName}\\b[^>]*>([^<]*)</(?:\\w+:)?${localName}>`).exec(xml)?.[1];
}

function envelope(action: string, body: string): string {
  return (
    `<s:Envelope xmlns:s="${NS.soap}" xmlns:a="${NS.addressing}"><s:Header><a:Action s:mustUnderstand="1">${action}</a:Action>` +
    `<a:RelatesTo>urn:uuid:00000000-0000-0000-0000-000000000000</a:RelatesTo></s:Header><s:Body>${body}</s:Body></s:Envelope>`
  );
}

/** A SOAP 1.2 fault; `securityFault` leaves out the enrollment detail, as WCF's security layer does. */
function fault(reason: string, errorCode?: number, requestId?: number, securityFault = false): string {
  const detail = securityFault
    ? ""
    : `<CertificateEnrollmentWSDetail xmlns="${NS.enrollment}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
      `<BinaryResponse i:nil="true"/>${errorCode === undefined ? '<ErrorCode i:nil="true"/>' : `<ErrorCode>${errorCode}</ErrorCode>`}` +
      `<InvalidRequest>${requestId === undefined ? "true" : "false"}</InvalidRequest>` +
      `${requestId === undefined ? '<RequestID i:nil="true"/>' : `<RequestID>${requestId}</RequestID>`}</CertificateEnrollmentWSDetail>`;
  return envelope(
    "http://www.w3.org/2005/08/addressing/soap/fault",
    `<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang="en-US">${reason}</s:Text></s:Reason>` +
      `${detail === "" ? "" : `<s:Detail>${detail}</s:Detail>`}</s:Fault>`,
  );
}

export async function startAdcsServer(): Promise<AdcsServer> {
  const ws = await opensslWorkspace();
  const tls = await makeTlsMaterial(ws);
  const ca = await createOpensslCa(
    ws,
    "ADCS",
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
      "extendedKeyUsage=clientAuth,1.3.6.1.4.1.311.20.2.2\nauthorityKeyIdentifier=keyid\n",
    365,
  );
  const records: AdcsRecord[] = [];
  const requests = new Map<number, CaRequest>();
  let nextId = 100;
  const state = { cesDown: false };
  let origin = "";

  /** The CA's decision on a new request (the "policy module"). */
  const decide = async (template: string | undefined, csr: Uint8Array): Promise<CaRequest> => {
    const id = nextId++;
    let request: CaRequest;
    if (template === "CardwrightUser" || template === "CardwrightWrongKey") {
      const certificate = await ca.sign(template === "CardwrightWrongKey" ? await ca.foreignCsr() : csr);
      request =
        certificate === undefined
          ? { id, status: "denied", csr, disposition: "Error Parsing Request  The signature is invalid." }
          : { id, status: "issued", certificate, csr, disposition: "Issued" };
    } else if (template === "CardwrightApproval") {
      request = { id, status: "pending", csr, disposition: "Taken Under Submission" };
    } else if (template === "Forbidden") {
      request = {
        id,
        status: "denied",
        csr,
        disposition:
          "Denied by Policy Module  0x80094012, The permissions on the certificate template do not allow the current user to enroll for this type of certificate.",
      };
    } else {
      request = {
        id,
        status: "denied",
        csr,
        disposition: `Denied by Policy Module  0x80094800, The requested certificate template is not supported by this CA.`,
      };
    }
    requests.set(id, request);
    return request;
  };

  const rstrc = async (request: CaRequest): Promise<string> => {
    const issued =
      request.certificate === undefined
        ? ""
        : `<BinarySecurityToken ValueType="${PKCS7}" EncodingType="${B64}" xmlns="${NS.secext}">` +
          `${Buffer.from(await ca.pkcs7([request.certificate, ...ca.chain])).toString("base64")}</BinarySecurityToken>` +
          `<RequestedSecurityToken><BinarySecurityToken ValueType="${X509V3}" EncodingType="${B64}" xmlns="${NS.secext}">` +
          `${Buffer.from(request.certificate).toString("base64")}</BinarySecurityToken></RequestedSecurityToken>`;
    return envelope(
      "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep",
      `<RequestSecurityTokenResponseCollection xmlns="${NS.trust}"><RequestSecurityTokenResponse>` +
        `<TokenType>${X509V3}</TokenType><DispositionMessage xml:lang="en-US" xmlns="${NS.enrollment}">${request.disposition}</DispositionMessage>` +
        `${issued}<RequestID xmlns="${NS.enrollment}">${request.id}</RequestID></RequestSecurityTokenResponse>` +
        `</RequestSecurityTokenResponseCollection>`,
    );
  };

  const answerRequest = async (request: CaRequest): Promise<string> => {
    if (request.status === "denied") {
      const code = /0x80094012/.test(request.disposition)
        ? TEMPLATE_DENIED
        : /0x80094800/.test(request.disposition)
          ? UNSUPPORTED_TEMPLATE
          : undefined;
      return fault(request.disposition, code, request.id);
    }
    return rstrc(request);
  };

  const ces = async (xml: string, record: AdcsRecord): Promise<[number, string]> => {
    const requestType = xmlText(xml, "RequestType") ?? "";
    record.operation = requestType;
    if (requestType.endsWith("/Issue")) {
      const token = /<(?:\w+:)?BinarySecurityToken\b[^>]*ValueType="([^"]+)"[^>]*>([^<]+)</.exec(xml);
      if (token === null) return [500, fault("The request contains no BinarySecurityToken.")];
      record.valueType = token[1];
      const template = /<ContextItem Name="CertificateTemplate"><Value>([^<]*)<\/Value>/.exec(xml)?.[1];
      record.template = template;
      let csr: Uint8Array = new Uint8Array(Buffer.from(token[2] as string, "base64"));
      if (token[1] === PKCS7) {
        const inner = await verifiedCmcCsr(ws, csr);
        if (inner === undefined) return [500, fault("The CMC signature does not verify.")];
        csr = inner;
      }
      const request = await decide(template, csr);
      // SOAP 1.2 faults travel with HTTP 500.
      return [request.status === "denied" ? 500 : 200, await answerRequest(request)];
    }
    if (requestType.endsWith("/QueryTokenStatus")) {
      const id = Number(xmlText(xml, "RequestID"));
      const request = requests.get(id);
      if (request === undefined) return [500, fault("The request ID does not exist. 0x80094002", NO_REQUEST, id)];
      return [request.status === "denied" ? 500 : 200, await answerRequest(request)];
    }
    return [500, fault(`Unsupported request type ${requestType}`)];
  };

  const cep = (): string => {
    const policy = (name: string, oidRef: number, seconds: number) =>
      `<policy><policyOIDReference>${oidRef}</policyOIDReference><cAs><cAReference>0</cAReference></cAs><attributes>` +
      `<commonName>${name}</commonName><policySchema>2</policySchema><certificateValidity><validityPeriodSeconds>${seconds}</validityPeriodSeconds>` +
      `<renewalPeriodSeconds>3628800</renewalPeriodSeconds></certificateValidity><permission><enroll>true</enroll><autoEnroll>false</autoEnroll></permission>` +
      `</attributes></policy>`;
    const oid = (ref: number, value: string, name: string) =>
      `<oID><value>${value}</value><group>9</group><oIDReferenceID>${ref}</oIDReferenceID><defaultName>${name}</defaultName></oID>`;
    return envelope(
      "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPoliciesResponse",
      `<GetPoliciesResponse xmlns="${NS.policy}"><response><policyID>{6A1D3A2C-0000-4000-8000-000000000001}</policyID>` +
        `<policyFriendlyName>Cardwright test policy</policyFriendlyName><nextUpdateHours>8</nextUpdateHours><policiesNotChanged>false</policiesNotChanged>` +
        `<policies>${policy("CardwrightUser", 1, 31536000)}${policy("CardwrightApproval", 2, 31536000)}</policies></response>` +
        `<cAs><cA><uris><cAURI><clientAuthentication>4</clientAuthentication><uri>${origin}${CES_PATH}</uri><priority>1</priority>` +
        `<renewalOnly>false</renewalOnly></cAURI></uris><certificate>${Buffer.from(ca.chain[0] as Uint8Array).toString("base64")}</certificate>` +
        `<enrollPermission>true</enrollPermission><cAReferenceID>0</cAReferenceID></cA></cAs>` +
        `<oIDs>${oid(1, "1.3.6.1.4.1.311.21.8.100.1", "Cardwright User")}${oid(2, "1.3.6.1.4.1.311.21.8.100.2", "Cardwright Approval")}</oIDs>` +
        `</GetPoliciesResponse>`,
    );
  };

  const html = (body: string) =>
    `<HTML><Head><Title>Microsoft Active Directory Certificate Services</Title></Head><Body>${body}</Body></HTML>`;

  const certsrv = async (req: IncomingMessage, body: string, record: AdcsRecord): Promise<[number, string, string]> => {
    const url = new URL(req.url ?? "/", "https://x");
    record.operation = url.pathname;
    if (url.pathname === "/certsrv/certfnsh.asp" && req.method === "POST") {
      const form = new URLSearchParams(body);
      const attrib = form.get("CertAttrib") ?? "";
      const template = /CertificateTemplate:([^\r\n]+)/.exec(attrib)?.[1];
      record.template = template;
      const raw = new Uint8Array(Buffer.from(form.get("CertRequest") ?? "", "base64"));
      // certfnsh.asp takes PKCS#10 or CMC alike; a ContentInfo (SignedData) is the CMC form.
      const signedData = Buffer.from(raw.subarray(0, 20)).includes(Buffer.from("06092a864886f70d010702", "hex"));
      const csr = signedData ? await verifiedCmcCsr(ws, raw) : raw;
      const request = await decide(template, csr ?? new Uint8Array());
      if (request.status === "issued") {
        return [
          200,
          "text/html",
          html(
            `<P>The certificate you requested was issued to you.</P><A Href="certnew.cer?ReqID=${request.id}&amp;Enc=bin">Download certificate</A>`,
          ),
        ];
      }
      if (request.status === "pending") {
        return [
          200,
          "text/html",
          html(
            `<P>Your certificate request has been received. However, you must wait for an administrator to issue the certificate you requested.</P><P>Your Request Id is ${request.id}.</P>`,
          ),
        ];
      }
      return [
        200,
        "text/html",
        html(
          `<P>Your certificate request was denied.</P><P>Your Request Id is ${request.id}. The disposition message is "${request.disposition}".</P>`,
        ),
      ];
    }
    if (url.pathname === "/certsrv/certnew.cer") {
      const request = requests.get(Number(url.searchParams.get("ReqID")));
      if (request === undefined) {
        return [
          200,
          "text/html",
          html(`<P>Certificate Services cannot find the request. 0x80094002 (-2146877438 CERTSRV_E_NO_REQUEST)</P>`),
        ];
      }
      if (request.status === "pending")
        return [
          200,
          "text/html",
          html(
            `<P>Your certificate request is still pending. The disposition message is "Taken Under Submission".</P>`,
          ),
        ];
      if (request.status === "denied")
        return [
          200,
          "text/html",
          html(`<P>Your certificate request was denied. The disposition message is "${request.disposition}".</P>`),
        ];
      return [200, "application/pkix-cert", pem(request.certificate as Uint8Array)];
    }
    if (url.pathname === "/certsrv/certnew.p7b" && url.searchParams.get("ReqID") === "CACert") {
      return [200, "application/x-pkcs7-certificates", pem(await ca.pkcs7(ca.chain), "PKCS7")];
    }
    return [404, "text/html", html("<P>Not found</P>")];
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<void> => {
    const path = new URL(req.url ?? "/", "https://x").pathname;
    const record: AdcsRecord = { channel: "certsrv", operation: path, status: 0 };
    records.push(record);
    const reply = (status: number, type: string, text: string) => {
      record.status = status;
      res.writeHead(status, { "content-type": type }).end(text);
    };
    if (path === CES_PATH || path === CEP_PATH) {
      record.channel = path === CES_PATH ? "ces" : "cep";
      if (path === CES_PATH && state.cesDown) return reply(503, "text/html", "<h1>Service Unavailable</h1>");
      if (!(req.headers["content-type"] ?? "").startsWith("application/soap+xml"))
        return reply(415, "text/plain", "SOAP 1.2 only");
      // The UsernamePassword endpoints authenticate by the WS-Security UsernameToken in the header.
      const user = xmlText(body, "Username");
      const password = xmlText(body, "Password");
      if (user !== ADCS_USER || password !== ADCS_PASSWORD) {
        return reply(
          500,
          "application/soap+xml; charset=utf-8",
          fault("An error occurred when verifying security for the message.", undefined, undefined, true),
        );
      }
      record.authenticatedAs = ADCS_USER;
      if (path === CEP_PATH) return reply(200, "application/soap+xml; charset=utf-8", cep());
      const [status, xml] = await ces(body, record);
      return reply(status, "application/soap+xml; charset=utf-8", xml);
    }
    if (path.startsWith("/certsrv/")) {
      const basic = req.headers.authorization?.startsWith("Basic ")
        ? Buffer.from(req.headers.authorization.slice(6), "base64").toString("utf8")
        : undefined;
      if (basic !== `${ADCS_USER}:${ADCS_PASSWORD}`) {
        res.setHeader("www-authenticate", 'Basic realm="certsrv"');
        return reply(401, "text/html", "<h1>401 - Unauthorized</h1>");
      }
      record.authenticatedAs = ADCS_USER;
      const [status, type, text] = await certsrv(req, body, record);
      return reply(status, type, text);
    }
    return reply(404, "text/plain", "not found");
  };

  const server = await startLocalHttpsServer(
    { cert: await readFile(tls.cert), key: await readFile(tls.key) },
    (req, res, body) => {
      handle(req, res, body.toString("utf8")).catch((err: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
      });
    },
  );
  origin = server.origin;
  return {
    origin,
    tlsCa: tls.caPem,
    ca,
    records,
    get cesDown() {
      return state.cesDown;
    },
    set cesDown(value: boolean) {
      state.cesDown = value;
    },
    approve: async (id) => {
      const request = requests.get(Number(id));
      if (request === undefined || request.status !== "pending") throw new Error(`no pending request ${id}`);
      const certificate = await ca.sign(request.csr);
      if (certificate === undefined) throw new Error("openssl refused to sign");
      Object.assign(request, { status: "issued", certificate, disposition: "Issued" });
    },
    deny: (id) => {
      const request = requests.get(Number(id));
      if (request === undefined || request.status !== "pending") throw new Error(`no pending request ${id}`);
      Object.assign(request, { status: "denied", disposition: "Denied by CORP\\officer" });
    },
    workspace: ws,
    close: async () => {
      await server.close();
      await ws.dispose();
    },
  };
}
