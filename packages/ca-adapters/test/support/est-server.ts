/**
 * A recorded-exchange EST server (RFC 7030) for tests: no EST server can be installed here, so
 * this HTTPS server on 127.0.0.1 answers the way RFC 7030 §4 and its Appendix A examples show
 * (paths under /.well-known/est, `application/pkcs10` requests and `application/pkcs7-mime`
 * answers in base64 transfer encoding, `202 Accepted` + Retry-After while a request is held) and
 * checks what the client sends. Certificates are signed by a real two-level CA made with the
 * openssl command line (the RFC's example certificates cannot match a test's keys), so every
 * answer is a real certificate for the request's key — or, in the `wrongkey` label, on purpose not.
 *
 * Labels: none or `piv` issue at once; `manual` holds requests for {@link EstServer.approve} /
 * {@link EstServer.reject}; `down` answers 503; `garbage` answers 200 with a non-PKCS#7 body;
 * `wrongkey` certifies another key.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import * as asn1js from "asn1js";
import { makeTlsMaterial } from "./acme-pebble.js";
import { verifiedCmcCsr } from "./cmc-agent.js";
import { startLocalHttpsServer } from "./https-server.js";
import { type OpensslWorkspace, opensslWorkspace } from "./openssl.js";
import { createOpensslCa } from "./openssl-ca.js";

export interface EstExchange {
  method: string;
  path: string;
  contentType?: string;
  transferEncoding?: string;
  /** The user name of the basic credentials, or undefined. */
  basicUser?: string;
  /** Subject of the authenticated TLS client certificate, or undefined. */
  clientCertSubject?: string;
  status: number;
}

export interface EstServer {
  baseUrl: string;
  /** PEM of the TLS trust anchor (the EST "explicit TA"). */
  tlsCa: string;
  /** Client certificate and key accepted for TLS client auth, PEM. */
  clientCertificate: string;
  clientKey: string;
  /** The CA certificates, issuing first, DER. */
  caChain: Uint8Array[];
  exchanges: EstExchange[];
  issuedCount(): number;
  /** Held requests by the id the test uses (sha256 hex of the CSR). */
  heldIds(): string[];
  approve(id: string): void;
  reject(id: string, reason: string): void;
  workspace: OpensslWorkspace;
  close(): Promise<void>;
}

export const EST_USER = "estuser";
export const EST_PASSWORD = "estpwd-not-a-real-secret";

interface Held {
  status: "held" | "approved" | "rejected";
  reason?: string;
  certificate?: Uint8Array;
}

async function run(ws: OpensslWorkspace, ...args: string[]): Promise<void> {
  const res = await ws.run(...args);
  if (res.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${res.stderr}`);
}

export async function startEstServer(): Promise<EstServer> {
  const ws = await opensslWorkspace();
  const tls = await makeTlsMaterial(ws);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const ca = await createOpensslCa(
    ws,
    "EST",
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
      "extendedKeyUsage=clientAuth,1.3.6.1.4.1.311.20.2.2\nauthorityKeyIdentifier=keyid\n",
    365,
  );
  // The TLS client identity an EST client presents (RFC 7030 §3.3.2), issued by the TLS CA.
  await run(ws, "req", "-new", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=est-client");
  await ws.write("client.ext", "extendedKeyUsage=clientAuth\n");
  await run(
    ws,
    "x509",
    "-req",
    "-in",
    "client.csr",
    "-CA",
    "tls-ca.pem",
    "-CAkey",
    "tls-ca.key",
    "-CAcreateserial",
    "-out",
    "client.pem",
    "-days",
    "2",
    "-extfile",
    "client.ext",
  );
  const caChain = ca.chain;
  const cacerts = await ca.pkcs7(ca.chain);

  const exchanges: EstExchange[] = [];
  const held = new Map<string, Held>();

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<number> => {
    const match = /^\/\.well-known\/est\/(?:([A-Za-z0-9_.-]+)\/)?(cacerts|simpleenroll|simplereenroll|fullcmc)$/.exec(
      req.url ?? "",
    );
    if (match === null) return send(res, 404, "text/plain", "not an EST path");
    const [, label, operation] = match;
    const socket = req.socket as TLSSocket;
    const basic = basicUser(req.headers.authorization);
    const tlsClient = socket.authorized ? (socket.getPeerCertificate().subject?.CN as string | undefined) : undefined;
    if (label === "down") {
      res.setHeader("retry-after", "30");
      return send(res, 503, "text/plain", "service unavailable");
    }
    if (operation === "cacerts") {
      return send(res, 200, "application/pkcs7-mime", base64Lines(cacerts), { "content-transfer-encoding": "base64" });
    }
    if (req.method !== "POST") return send(res, 405, "text/plain", "POST only");
    // RFC 7030 §3.2.3: the server may ask for HTTP basic when TLS client auth is absent.
    if (tlsClient === undefined && basic !== `${EST_USER}:${EST_PASSWORD}`) {
      res.setHeader("www-authenticate", 'Basic realm="est"');
      return send(res, 401, "text/plain", "authentication required");
    }
    const wantedType =
      operation === "fullcmc" ? "application/pkcs7-mime; smime-type=CMC-request" : "application/pkcs10";
    if (!(req.headers["content-type"] ?? "").startsWith(wantedType)) {
      return send(res, 415, "text/plain", `expected ${wantedType}`);
    }
    const text = body.toString("latin1").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+=*$/.test(text)) return send(res, 400, "text/plain", "body is not base64");
    let csr = new Uint8Array(Buffer.from(text, "base64"));
    if (operation === "fullcmc") {
      // §4.3.1: check the agent's signature with openssl, then take the PKCS#10 out of the PKIData.
      const inner = await verifiedCmcCsr(ws, csr);
      if (inner === undefined) return send(res, 400, "text/plain", "the CMC request signature does not verify");
      csr = inner;
      if (label === "cmcfail") {
        const failed = await ca.cmsSign(
          pkiResponseFailed("the enrollment agent may not request this profile"),
          "1.3.6.1.5.5.7.12.3",
        );
        return send(res, 200, "application/pkcs7-mime; smime-type=CMC-response", base64Lines(failed), {
          "content-transfer-encoding": "base64",
        });
      }
    }
    if (label === "garbage") return send(res, 200, "text/html", "<html>portal login</html>");
    let certificate: Uint8Array | undefined;
    if (label === "wrongkey") {
      certificate = await ca.sign(await ca.foreignCsr());
    } else if (label === "manual") {
      const id = createHash("sha256").update(csr).digest("hex");
      const entry = held.get(id) ?? { status: "held" };
      held.set(id, entry);
      if (entry.status === "held") {
        res.setHeader("retry-after", "1");
        return send(res, 202, "text/plain", "request held for approval");
      }
      if (entry.status === "rejected") return send(res, 403, "text/plain", entry.reason ?? "rejected");
      entry.certificate ??= await ca.sign(csr);
      certificate = entry.certificate;
    } else {
      certificate = await ca.sign(csr);
    }
    if (certificate === undefined) return send(res, 400, "text/plain", "the certification request does not verify");
    const smimeType = operation === "fullcmc" ? "CMC-response" : "certs-only";
    return send(
      res,
      200,
      `application/pkcs7-mime; smime-type=${smimeType}`,
      base64Lines(await ca.pkcs7([certificate])),
      {
        "content-transfer-encoding": "base64",
      },
    );
  };

  const server = await startLocalHttpsServer(
    {
      cert: await readFile(tls.cert),
      key: await readFile(tls.key),
      ca: tls.caPem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res, body) => {
      handle(req, res, body).then(
        (status) => {
          const socket = req.socket as TLSSocket;
          exchanges.push({
            method: req.method ?? "",
            path: req.url ?? "",
            contentType: req.headers["content-type"],
            transferEncoding: req.headers["content-transfer-encoding"] as string | undefined,
            basicUser: basicUser(req.headers.authorization)?.split(":")[0],
            clientCertSubject: socket.authorized ? (socket.getPeerCertificate().subject?.CN as string) : undefined,
            status,
          });
        },
        (err: unknown) => {
          res.writeHead(500).end(String(err));
        },
      );
    },
  );
  return {
    baseUrl: server.origin,
    tlsCa: tls.caPem,
    clientCertificate: await readFile(join(ws.dir, "client.pem"), "utf8"),
    clientKey: await readFile(join(ws.dir, "client.key"), "utf8"),
    caChain,
    exchanges,
    issuedCount: () => ca.issuedCount(),
    heldIds: () => [...held.entries()].filter(([, h]) => h.status === "held").map(([id]) => id),
    approve: (id) => {
      const entry = held.get(id);
      if (entry === undefined) throw new Error(`no held request ${id}`);
      entry.status = "approved";
    },
    reject: (id, reason) => {
      const entry = held.get(id);
      if (entry === undefined) throw new Error(`no held request ${id}`);
      entry.status = "rejected";
      entry.reason = reason;
    },
    workspace: ws,
    close: async () => {
      await server.close();
      await ws.dispose();
    },
  };
}

/**
 * A PKIResponse (RFC 5272 §3.2.2) with one CMCStatusInfoV2 control (id-cmc-statusInfoV2,
 * §6.1.1): cMCStatus failed for body part 1, with `text` as statusString.
 */
function pkiResponseFailed(text: string): Uint8Array {
  const statusInfo = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 2 }),
      new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 })] }),
      new asn1js.Utf8String({ value: text }),
    ],
  });
  const control = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.ObjectIdentifier({ value: "1.3.6.1.5.5.7.7.25" }),
      new asn1js.Set({ value: [statusInfo] }),
    ],
  });
  const response = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [control] }),
      new asn1js.Sequence({ value: [] }),
      new asn1js.Sequence({ value: [] }),
    ],
  });
  return new Uint8Array(response.toBER(false));
}

function basicUser(header: string | undefined): string | undefined {
  if (header === undefined || !header.startsWith("Basic ")) return undefined;
  return Buffer.from(header.slice(6), "base64").toString("utf8");
}

function base64Lines(der: Uint8Array): string {
  return `${(
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  ).join("\r\n")}\r\n`;
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): number {
  res.writeHead(status, { "content-type": contentType, ...headers }).end(body);
  return status;
}
