/**
 * RFC 6712 CMP over HTTP: a PKIMessage is POSTed with content type `application/pkixcmp`, and
 * the answer comes back in the response body with the same type. Failures to reach the CA are
 * `CA_UNAVAILABLE` (retryable); anything that is not a CMP answer is `CA_BAD_RESPONSE`.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { CardwrightError } from "@cardwright/core";
import { badResponse } from "./der.js";

/** RFC 6712 §3.4 media type. */
export const PKIXCMP_CONTENT_TYPE = "application/pkixcmp";

/** Sends one DER PKIMessage and returns the DER answer. */
export type CmpTransport = (request: Uint8Array) => Promise<Uint8Array>;

/** Largest answer read, so a misbehaving server cannot exhaust memory. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

function unavailable(url: string, message: string, cause?: unknown): CardwrightError {
  return new CardwrightError("CA_UNAVAILABLE", `cmp: ${message}; the CA at ${url} may be down, retry later`, {
    details: { url },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** POST `body` on a fresh connection (OpenSSL's CMP server keeps one transaction per connection state; a reused socket confuses it). */
function post(
  url: URL,
  body: Uint8Array,
  timeoutMs: number,
): Promise<{ status: number; type: string; body: Uint8Array }> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        agent: false,
        headers: {
          "content-type": PKIXCMP_CONTENT_TYPE,
          accept: PKIXCMP_CONTENT_TYPE,
          "content-length": body.byteLength,
          connection: "close",
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > MAX_RESPONSE_BYTES) req.destroy(badResponse(`the answer exceeds ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(deadline);
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"] ?? ""),
            body: new Uint8Array(Buffer.concat(chunks)),
          });
        });
        res.on("error", reject);
      },
    );
    // A deadline for the whole exchange, so a server trickling bytes cannot hold it open.
    const deadline = setTimeout(() => req.destroy(new TimeoutError(timeoutMs)), timeoutMs);
    req.on("error", (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    req.end(body);
  });
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/**
 * An HTTP transport POSTing to `url` with a per-message timeout.
 * @throws CardwrightError `CA_UNAVAILABLE` on timeout, refused connection, broken connection or
 * HTTP 5xx; `CA_BAD_RESPONSE` on another HTTP error or a body that is not `application/pkixcmp`.
 */
export function httpTransport(url: string, timeoutMs: number): CmpTransport {
  const target = new URL(url);
  return async (request) => {
    let response: { status: number; type: string; body: Uint8Array };
    try {
      response = await post(target, request, timeoutMs);
    } catch (err) {
      if (err instanceof CardwrightError) throw err;
      const reason =
        err instanceof TimeoutError
          ? err.message
          : `cannot talk to it (${err instanceof Error ? err.message : String(err)})`;
      throw unavailable(url, reason, err);
    }
    if (response.status >= 500) throw unavailable(url, `HTTP ${response.status}`);
    if (response.status < 200 || response.status >= 300) {
      throw new CardwrightError("CA_BAD_RESPONSE", `cmp: the CA at ${url} answered HTTP ${response.status}`, {
        details: { url, httpStatus: response.status },
      });
    }
    const type = response.type.split(";")[0]?.trim().toLowerCase() ?? "";
    if (type !== PKIXCMP_CONTENT_TYPE) {
      throw badResponse(
        `the CA at ${url} answered ${type === "" ? "without a content type" : type}, not ${PKIXCMP_CONTENT_TYPE}`,
      );
    }
    if (response.body.byteLength === 0) throw badResponse(`the CA at ${url} answered an empty body`);
    return response.body;
  };
}
