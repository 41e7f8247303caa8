/**
 * One HTTPS exchange for the CA protocol adapters (ACME, EST, AD CS), over node:https so each
 * adapter can pin its own trust anchors and present a TLS client certificate without touching
 * process-wide TLS settings. Network failures, timeouts and 5xx answers become `CA_UNAVAILABLE`.
 */
import { request as httpsRequest } from "node:https";
import { CardwrightError } from "@cardwright/core";

/** TLS and timing options shared by the protocol adapters. */
export interface HttpsOptions {
  /** Trust anchors for the server certificate (PEM or DER); the Node default store when omitted. */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** TLS client certificate chain, PEM (for EST/AD CS certificate authentication). */
  clientCertificate?: string;
  /** Its private key, PEM. */
  clientKey?: string;
  /** Milliseconds before a request is abandoned (default 30 000). */
  timeoutMs?: number;
}

/** A request. */
export interface HttpsRequest {
  method: "GET" | "POST" | "HEAD";
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

/** A response; header names are lowercase. */
export interface HttpsResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

function toBuffer(value: string | Uint8Array): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** PEM text of DER or PEM trust anchors, as node:tls wants them. */
function caOption(ca: HttpsOptions["ca"]): (string | Buffer)[] | undefined {
  if (ca === undefined) return undefined;
  const list = Array.isArray(ca) ? ca : [ca];
  return list.map((entry: string | Uint8Array) => {
    if (typeof entry === "string") return entry;
    const base64 = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength).toString("base64");
    return `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)?.join("\n") ?? ""}\n-----END CERTIFICATE-----\n`;
  });
}

/**
 * Send one request and read the whole answer. Any status is returned; callers decide what a 4xx
 * means in their protocol.
 * @throws CardwrightError `CA_UNAVAILABLE` when the server cannot be reached, the TLS handshake
 * fails, or no answer comes within the timeout.
 */
export function httpsExchange(req: HttpsRequest, options: HttpsOptions = {}): Promise<HttpsResponse> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const url = new URL(req.url);
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : toBuffer(req.body);
    const headers: Record<string, string | number> = { ...req.headers };
    if (body !== undefined) headers["content-length"] = Buffer.byteLength(body);
    const ca = caOption(options.ca);
    const call = httpsRequest(
      url,
      {
        method: req.method,
        headers,
        ...(ca === undefined ? {} : { ca }),
        ...(options.clientCertificate === undefined ? {} : { cert: options.clientCertificate }),
        ...(options.clientKey === undefined ? {} : { key: options.clientKey }),
        // A fresh connection per exchange: no agent keeps sockets (and their TLS identity) around.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (err) => reject(unavailable(req, err)));
        res.on("end", () => {
          const out: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
          }
          resolve({ status: res.statusCode ?? 0, headers: out, body: new Uint8Array(Buffer.concat(chunks)) });
        });
      },
    );
    call.setTimeout(timeoutMs, () => {
      call.destroy(
        new CardwrightError("CA_UNAVAILABLE", `no answer from ${url.origin} within ${timeoutMs} ms; retry later`, {
          details: { url: redactUrl(url), timeoutMs },
        }),
      );
    });
    call.on("error", (err) => reject(unavailable(req, err)));
    if (body !== undefined) call.write(body);
    call.end();
  });
}

function redactUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function unavailable(req: HttpsRequest, err: unknown): CardwrightError {
  if (err instanceof CardwrightError) return err;
  const url = new URL(req.url);
  const code = (err as { code?: unknown }).code;
  return new CardwrightError(
    "CA_UNAVAILABLE",
    `cannot reach ${url.origin} (${typeof code === "string" ? code : err instanceof Error ? err.message : String(err)}); ` +
      "check the CA URL, the network and the trusted CA certificates, then retry",
    { details: { url: redactUrl(url), ...(typeof code === "string" ? { errno: code } : {}) }, cause: err },
  );
}

/**
 * `CA_UNAVAILABLE` for a 5xx (or 429) answer, with the server's Retry-After when it sent one.
 */
export function serverUnavailable(res: HttpsResponse, url: string, what: string): CardwrightError {
  const retryAfterSeconds = parseRetryAfter(res.headers["retry-after"]);
  return new CardwrightError(
    "CA_UNAVAILABLE",
    `${what}: the CA answered HTTP ${res.status}; retry ${retryAfterSeconds === undefined ? "later" : `after ${retryAfterSeconds} s`}`,
    { details: { url: redactUrl(new URL(url)), httpStatus: res.status, retryAfterSeconds } },
  );
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; seconds from `now`, or
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: Date = new Date()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
