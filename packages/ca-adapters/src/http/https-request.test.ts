import { createServer, type Server, type Socket } from "node:net";
import { isCardwrightError } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpsExchange, parseRetryAfter } from "./https-request.js";

let silent: Server;
let port = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  // Accepts connections and never answers: the TLS handshake hangs until our timeout.
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const address = silent.address();
  port = typeof address === "object" && address !== null ? address.port : 0;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe("httpsExchange", () => {
  it("gives up after timeoutMs with CA_UNAVAILABLE", async () => {
    const started = Date.now();
    const err = await httpsExchange(
      { method: "GET", url: `https://127.0.0.1:${port}/x?secret=1` },
      { timeoutMs: 200 },
    ).catch((e: unknown) => e);
    expect(isCardwrightError(err, "CA_UNAVAILABLE")).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    // The query string (which may carry tokens) stays out of the details.
    expect((err as { details: { url: string } }).details.url).toBe(`https://127.0.0.1:${port}/x`);
  });

  it("reports a refused connection as CA_UNAVAILABLE with the errno", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const address = closed.address();
    const closedPort = typeof address === "object" && address !== null ? address.port : 0;
    await new Promise((resolve) => closed.close(resolve));
    const err = await httpsExchange({ method: "GET", url: `https://127.0.0.1:${closedPort}/` }).catch(
      (e: unknown) => e,
    );
    expect(isCardwrightError(err, "CA_UNAVAILABLE")).toBe(true);
    expect((err as { details: { errno?: string } }).details.errno).toBe("ECONNREFUSED");
  });
});

describe("parseRetryAfter (RFC 9110 §10.2.3)", () => {
  it("reads delay-seconds and HTTP-dates, and ignores garbage", () => {
    const now = new Date("2026-11-23T12:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Mon, 23 Nov 2026 12:01:30 GMT", now)).toBe(90);
    expect(parseRetryAfter("Mon, 23 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
