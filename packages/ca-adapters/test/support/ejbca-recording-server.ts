/**
 * A stand-in for EJBCA's REST interface, for tests. No EJBCA can run here (it needs a Java
 * application server and a database), so this server answers the REST API v1 calls the
 * adapter makes the way EJBCA's published OpenAPI description and its REST resource classes
 * say: request and response field names, status codes (201 issued, 202 waiting for approval,
 * 400/404/409 errors as `{ error_code, error_message }`, 202 as `{ status_code, info_message }`),
 * revocation reason names, the PEM chain download. It checks each request field by field and
 * records a violation for anything the spec does not allow, so tests can assert there were none.
 *
 * What is ours, not EJBCA's: the wording of messages (EJBCA's 202 answer carries the approval
 * request id only inside `info_message`; we phrase it like EJBCA's finalize messages, "Request
 * with Id '…'"), and the CA behind it, which is a real cardwright `EmbeddedCa` (issuing CA
 * under a root) so every certificate is really signed and really revoked.
 *
 * TLS is real too: a test TLS CA made with openssl issues the server certificate
 * (IP 127.0.0.1) and the RA administrator's client certificate; the server requires and
 * verifies the client certificate, as EJBCA does for its REST interface.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import type { RevocationReason } from "@cardwright/core";
import { EmbeddedCa, fromPem, toPem } from "../../src/index.js";
import { freePort } from "./net.js";

const run = promisify(execFile);

/** EJBCA's RevocationReasons CLI values, by RFC 5280 name. */
const REASONS: Record<string, RevocationReason> = {
  UNSPECIFIED: "unspecified",
  KEY_COMPROMISE: "keyCompromise",
  CA_COMPROMISE: "cACompromise",
  AFFILIATION_CHANGED: "affiliationChanged",
  SUPERSEDED: "superseded",
  CESSATION_OF_OPERATION: "cessationOfOperation",
  CERTIFICATE_HOLD: "certificateHold",
  REMOVE_FROM_CRL: "removeFromCRL",
  PRIVILEGES_WITHDRAWN: "privilegeWithdrawn",
  AA_COMPROMISE: "aACompromise",
};

const ENROLL_FIELDS = new Set([
  "certificate_request",
  "certificate_profile_name",
  "end_entity_profile_name",
  "certificate_authority_name",
  "username",
  "password",
  "include_chain",
  "account_binding_id",
]);
const FINALIZE_FIELDS = new Set(["response_format", "password"]);
const RESPONSE_FORMATS = new Set(["P12", "BCFKS", "JKS", "DER", "PEM"]);

/** Names the server knows, as an EJBCA administrator would have configured them. */
export const EJBCA_TEST_CONFIG = {
  caName: "CardwrightIssuingCA",
  issuerDn: "CN=Cardwright EJBCA Issuing CA,O=Cardwright",
  endEntityProfile: "PIV_USER",
  certificateProfile: "PIV_AUTH",
  /** A certificate profile whose enrollments need an administrator's approval. */
  approvalProfile: "PIV_AUTH_APPROVAL",
  adminCn: "cardwright-ra-admin",
} as const;

/** One HTTP exchange as the server saw it. */
export interface RecordedExchange {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  clientCn: string | undefined;
  status: number;
}

interface EndEntity {
  username: string;
  password: string;
  csr: Uint8Array;
  profile: string;
  status: "new" | "generated";
}

interface Approval {
  id: number;
  username: string;
  status: "waiting" | "approved" | "rejected";
}

export interface EjbcaRecordingServer {
  url: string;
  /** Trust anchor for the server certificate, PEM. */
  tlsCaPem: string;
  /** The administrator's client certificate and key, PEM. */
  clientCertificatePem: string;
  clientKeyPem: string;
  /** A client certificate from a CA EJBCA does not trust, PEM, with its key. */
  strangerCertificatePem: string;
  strangerKeyPem: string;
  /** The CA behind the server. */
  ca: EmbeddedCa;
  exchanges: RecordedExchange[];
  /** Requests that broke the spec; tests expect none. */
  violations: string[];
  /** Certificates signed so far. */
  issuedCount(): number;
  /** Operator hands on approval requests. */
  approve(approvalId: number): void;
  reject(approvalId: number): void;
  /** Make the next answers a given raw response (status, content type, body), for fault tests. */
  override(fn: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined): void;
  stop(): Promise<void>;
}

async function makeTlsMaterial(dir: string) {
  const o = (...args: string[]) => run("openssl", args, { cwd: dir });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await o(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "tlsca.key",
    "-out",
    "tlsca.pem",
    "-subj",
    "/CN=EJBCA Test TLS CA",
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  );
  await o(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "stranger-ca.key",
    "-out",
    "stranger-ca.pem",
    "-subj",
    "/CN=Stranger CA",
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  );
  const leaf = async (name: string, cn: string, ext: string, ca: string) => {
    await writeFile(join(dir, `${name}.ext`), ext);
    await o("req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    await o(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    );
  };
  await leaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "tlsca");
  await leaf("admin", EJBCA_TEST_CONFIG.adminCn, "extendedKeyUsage=clientAuth\n", "tlsca");
  await leaf("stranger", EJBCA_TEST_CONFIG.adminCn, "extendedKeyUsage=clientAuth\n", "stranger-ca");
  const read = (f: string) => readFile(join(dir, f), "utf8");
  return {
    tlsCa: await read("tlsca.pem"),
    serverCert: await read("server.pem"),
    serverKey: await read("server.key"),
    adminCert: await read("admin.pem"),
    adminKey: await read("admin.key"),
    strangerCert: await read("stranger.pem"),
    strangerKey: await read("stranger.key"),
  };
}

export async function startEjbcaRecordingServer(): Promise<EjbcaRecordingServer> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-ejbca-"));
  let server: Server | undefined;
  try {
    const tls = await makeTlsMaterial(dir);
    const root = await EmbeddedCa.create({
      id: "ejbca-root",
      subject: "CN=Cardwright EJBCA Root CA,O=Cardwright",
      keyAlgorithm: "ECCP384",
      validityDays: 3650,
    });
    const ca = await EmbeddedCa.createIssuing({
      parent: root,
      id: "ejbca-issuing",
      subject: EJBCA_TEST_CONFIG.issuerDn,
      keyAlgorithm: "ECCP256",
      validityDays: 1825,
    });
    const exchanges: RecordedExchange[] = [];
    const violations: string[] = [];
    const endEntities = new Map<string, EndEntity>();
    const approvals = new Map<number, Approval>();
    let nextApproval = -1_201_334_567;
    let issued = 0;
    let override: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;

    const issue = async (entity: EndEntity) => {
      issued += 1;
      const result = await ca.submit({
        requestId: `${entity.username}#${issued}`,
        csr: entity.csr,
        profile: {
          templateId: entity.profile,
          keyUsage: ["digitalSignature"],
          extendedKeyUsage: ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"],
          validityDays: 365,
        },
      });
      if (result.status !== "issued") throw new Error(`backing CA did not issue: ${result.status}`);
      entity.status = "generated";
      return result.certificate;
    };
    const certificateResponse = async (der: Uint8Array, includeChain: boolean) => ({
      certificate: Buffer.from(der).toString("base64"),
      serial_number: Buffer.from(
        (await import("pkijs")).Certificate.fromBER(Uint8Array.from(der)).serialNumber.valueBlock.valueHexView,
      )
        .toString("hex")
        .toUpperCase(),
      response_format: "DER",
      ...(includeChain ? { certificate_chain: (await ca.chain()).map((c) => Buffer.from(c).toString("base64")) } : {}),
    });

    const handle = async (
      req: IncomingMessage,
      body: unknown,
      path: string,
      query: URLSearchParams,
    ): Promise<[number, unknown, string?]> => {
      const error = (code: number, message: string): [number, unknown] => [
        code,
        { error_code: code, error_message: message },
      ];
      const base = "/ejbca/ejbca-rest-api";
      if (!path.startsWith(`${base}/v1/`)) return error(404, "Not Found");
      const rest = path.slice(base.length);
      const segments = rest.split("/").slice(1).map(decodeURIComponent);
      const expectJson = () => {
        if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
          violations.push(`${req.method} ${rest}: content-type ${req.headers["content-type"]}`);
        }
      };
      const checkFields = (allowed: Set<string>) => {
        if (typeof body !== "object" || body === null || Array.isArray(body)) {
          violations.push(`${req.method} ${rest}: body is not a JSON object`);
          return false;
        }
        for (const key of Object.keys(body))
          if (!allowed.has(key)) violations.push(`${req.method} ${rest}: unknown field ${key}`);
        return true;
      };

      // POST /v1/certificate/pkcs10enroll
      if (rest === "/v1/certificate/pkcs10enroll") {
        if (req.method !== "POST") return error(405, "Method Not Allowed");
        expectJson();
        if (!checkFields(ENROLL_FIELDS)) return error(400, "Invalid request");
        const b = body as Record<string, unknown>;
        for (const field of [
          "certificate_request",
          "certificate_profile_name",
          "end_entity_profile_name",
          "certificate_authority_name",
          "username",
          "password",
        ]) {
          if (typeof b[field] !== "string" || b[field] === "") {
            violations.push(`pkcs10enroll: ${field} missing or not a non-empty string`);
            return error(400, `Missing ${field}`);
          }
        }
        if (b.include_chain !== undefined && typeof b.include_chain !== "boolean")
          violations.push("pkcs10enroll: include_chain not boolean");
        if (b.certificate_authority_name !== EJBCA_TEST_CONFIG.caName) {
          return error(404, `CA with name ${String(b.certificate_authority_name)} doesn't exist.`);
        }
        if (b.end_entity_profile_name !== EJBCA_TEST_CONFIG.endEntityProfile) {
          return error(404, `End entity profile with name ${String(b.end_entity_profile_name)} doesn't exist.`);
        }
        const profile = String(b.certificate_profile_name);
        if (profile !== EJBCA_TEST_CONFIG.certificateProfile && profile !== EJBCA_TEST_CONFIG.approvalProfile) {
          return error(404, `Certificate profile with name ${profile} doesn't exist.`);
        }
        let csr: Uint8Array;
        try {
          csr = fromPem(String(b.certificate_request), "CERTIFICATE REQUEST");
        } catch {
          violations.push("pkcs10enroll: certificate_request is not a PEM CERTIFICATE REQUEST");
          return error(400, "Invalid certificate request");
        }
        const username = String(b.username);
        const existing = endEntities.get(username);
        if (existing !== undefined && existing.password !== b.password) return error(400, "Wrong username or password");
        const entity: EndEntity = { username, password: String(b.password), csr, profile, status: "new" };
        endEntities.set(username, entity);
        if (profile === EJBCA_TEST_CONFIG.approvalProfile) {
          const id = nextApproval--;
          approvals.set(id, { id, username, status: "waiting" });
          return [202, { status_code: 202, info_message: `Request with Id '${id}' has been sent for approval` }];
        }
        try {
          const der = await issue(entity);
          return [201, await certificateResponse(der, b.include_chain === true)];
        } catch (err) {
          return error(400, `Error: ${(err as Error).message}`);
        }
      }

      // POST /v1/certificate/{request_id}/finalize
      if (
        segments[0] === "v1" &&
        segments[1] === "certificate" &&
        segments[3] === "finalize" &&
        segments.length === 4
      ) {
        if (req.method !== "POST") return error(405, "Method Not Allowed");
        expectJson();
        checkFields(FINALIZE_FIELDS);
        const b = (body ?? {}) as Record<string, unknown>;
        if (!/^-?\d+$/.test(segments[2] ?? "")) {
          violations.push(`finalize: request id ${segments[2]} is not an integer`);
          return error(404, "Not Found");
        }
        const id = Number(segments[2]);
        const approval = approvals.get(id);
        if (approval === undefined) return error(400, `Could not find request with Id '${id}'`);
        if (typeof b.response_format !== "string" || !RESPONSE_FORMATS.has(b.response_format)) {
          return error(400, "Invalid parameter: response_format");
        }
        if (approval.status === "waiting") {
          return [202, { status_code: 202, info_message: `Request with Id '${id}' is still waiting for approval` }];
        }
        if (approval.status === "rejected") return error(400, `Request with Id '${id}' has been rejected`);
        const entity = endEntities.get(approval.username);
        if (entity === undefined) return error(404, `The end entity '${approval.username}' does not exist`);
        if (entity.status === "generated") return error(400, `Enrollment with Id '${id}' has already been finalized`);
        if (b.response_format !== "DER" && b.response_format !== "PEM") {
          return error(
            400,
            "Invalid response format. Cannot create keystore for certificate request  with user generated keys",
          );
        }
        if (b.password !== entity.password) return error(400, "Wrong username or password");
        return [201, await certificateResponse(await issue(entity), false)];
      }

      // /v1/certificate/{issuer_dn}/{serial}/revoke and /revocationstatus
      if (segments[0] === "v1" && segments[1] === "certificate" && segments.length === 5) {
        const [, , issuerDn, serial, action] = segments;
        if (issuerDn !== EJBCA_TEST_CONFIG.issuerDn) return error(404, `CA '${issuerDn}' does not exist.`);
        if (!/^(0x)?[0-9A-Fa-f]+$/.test(serial ?? "")) {
          return error(400, "Invalid serial number format. Should be HEX encoded (optionally with '0x' prefix)");
        }
        let status: Awaited<ReturnType<EmbeddedCa["certificateStatus"]>>;
        try {
          status = await ca.certificateStatus(serial as string);
        } catch {
          return error(404, `Certificate with serial number '${serial}' and issuer DN '${issuerDn}' was not found`);
        }
        const statusBody = (message?: string) => {
          const reason = status.revocation?.reason;
          const name =
            reason === undefined ? "NOT_REVOKED" : Object.entries(REASONS).find(([, r]) => r === reason)?.[0];
          return {
            issuer_dn: issuerDn,
            serial_number: serial,
            revocation_reason: name,
            ...(status.revocation === undefined ? {} : { revocation_date: status.revocation.revokedAt.toISOString() }),
            revoked: status.revocation !== undefined,
            ...(message === undefined ? {} : { message }),
          };
        };
        if (action === "revocationstatus") {
          if (req.method !== "GET") return error(405, "Method Not Allowed");
          return [200, statusBody()];
        }
        if (action !== "revoke") return error(404, "Not Found");
        if (req.method !== "PUT") return error(405, "Method Not Allowed");
        const reasonName = query.get("reason") ?? "";
        const reason = REASONS[reasonName];
        if (reason === undefined) {
          violations.push(`revoke: reason ${reasonName} is not an EJBCA reason name`);
          return error(400, "Invalid revocation reason.");
        }
        const current = status.revocation?.reason;
        if (reason === "removeFromCRL") {
          if (current !== "certificateHold") return error(400, "Certificate is not on hold");
          await ca.unsuspend(serial as string);
        } else if (current !== undefined && current !== "certificateHold") {
          return error(409, `Certificate with serial number '${serial}' is already revoked`);
        } else if (reason === "certificateHold") {
          if (current === "certificateHold")
            return error(409, `Certificate with serial number '${serial}' is already revoked`);
          await ca.suspend(serial as string);
        } else {
          await ca.revoke(serial as string, reason);
        }
        status = await ca.certificateStatus(serial as string);
        return [200, statusBody("Successfully revoked")];
      }

      // GET /v1/ca/{subject_dn}/certificate/download
      if (segments[0] === "v1" && segments[1] === "ca" && segments[3] === "certificate" && segments[4] === "download") {
        if (req.method !== "GET") return error(405, "Method Not Allowed");
        if (segments[2] !== EJBCA_TEST_CONFIG.issuerDn) return error(404, `CA '${segments[2]}' does not exist.`);
        return [200, (await ca.chain()).map((c) => toPem(c, "CERTIFICATE")).join(""), "application/octet-stream"];
      }
      return error(404, "Not Found");
    };

    server = createServer(
      { key: tls.serverKey, cert: tls.serverCert, ca: tls.tlsCa, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          if (override?.(req, res)) return;
          const url = new URL(req.url ?? "/", "https://127.0.0.1");
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown;
          try {
            body = text === "" ? undefined : JSON.parse(text);
          } catch {
            violations.push(`${req.method} ${url.pathname}: body is not JSON`);
          }
          const clientCn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN as string | undefined;
          const reply = ([status, payload, type]: [number, unknown, string?]) => {
            exchanges.push({
              method: req.method ?? "",
              path: url.pathname,
              query: Object.fromEntries(url.searchParams),
              body,
              clientCn,
              status,
            });
            res.writeHead(status, { "content-type": type ?? "application/json" });
            res.end(typeof payload === "string" ? payload : JSON.stringify(payload));
          };
          if (clientCn !== EJBCA_TEST_CONFIG.adminCn) {
            reply([
              403,
              { error_code: 403, error_message: "Not authorized to resource /ca_functionality/create_certificate." },
            ]);
            return;
          }
          handle(req, body, url.pathname, url.searchParams).then(reply, (err: unknown) =>
            reply([500, { error_code: 500, error_message: `General failure. ${String(err)}` }]),
          );
        });
      },
    );
    const port = await freePort();
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(port, "127.0.0.1", resolve));
    const stop = async () => {
      listening.closeAllConnections();
      await new Promise((resolve) => listening.close(resolve));
      await rm(dir, { recursive: true, force: true });
    };
    return {
      url: `https://127.0.0.1:${port}`,
      tlsCaPem: tls.tlsCa,
      clientCertificatePem: tls.adminCert,
      clientKeyPem: tls.adminKey,
      strangerCertificatePem: tls.strangerCert,
      strangerKeyPem: tls.strangerKey,
      ca,
      exchanges,
      violations,
      issuedCount: () => issued,
      approve(id) {
        const a = approvals.get(id);
        if (a === undefined) throw new Error(`no approval ${id}`);
        a.status = "approved";
      },
      reject(id) {
        const a = approvals.get(id);
        if (a === undefined) throw new Error(`no approval ${id}`);
        a.status = "rejected";
      },
      override(fn) {
        override = fn;
      },
      stop,
    };
  } catch (err) {
    server?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
