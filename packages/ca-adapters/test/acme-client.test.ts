/**
 * AcmeClient against a scripted local HTTPS server, for what pebble never does: rate limits,
 * server errors, garbage directories and repeated badNonce. The answers are RFC 8555 §6.7
 * problem documents and the shapes of §7.1.1; the JWS the client sends is verified here with
 * the JWK it carries, so a broken signature fails these tests too.
 */
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isCardwrightError } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AcmeClient } from "../src/acme/acme-client.js";
import { AccountKey } from "../src/index.js";
import { makeTlsMaterial } from "./support/acme-pebble.js";
import { type LocalHttpsServer, startLocalHttpsServer } from "./support/https-server.js";
import { type OpensslWorkspace, opensslWorkspace } from "./support/openssl.js";

type Script = (
  path: string,
  body: string,
) => { status: number; type?: string; body?: string; headers?: Record<string, string> };

let ws: OpensslWorkspace;
let server: LocalHttpsServer | undefined;
let origin = "";
let tlsCa = "";
let script: Script = () => ({ status: 404 });
let counter = 0;
const key = AccountKey.from(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);

function directory(): string {
  return JSON.stringify({
    newNonce: `${origin}/nonce`,
    newAccount: `${origin}/account`,
    newOrder: `${origin}/order`,
    revokeCert: `${origin}/revoke`,
  });
}

beforeAll(async () => {
  ws = await opensslWorkspace();
  const tls = await makeTlsMaterial(ws);
  tlsCa = tls.caPem;
  server = await startLocalHttpsServer(
    { cert: await readFile(tls.cert), key: await readFile(tls.key) },
    (req, res, body) => {
      const nonce = `nonce-${++counter}`;
      const answer =
        req.url === "/nonce"
          ? { status: 200 }
          : req.url === "/dir"
            ? { status: 200, type: "application/json", body: directory() }
            : script(req.url ?? "", body.toString("utf8"));
      res.writeHead(answer.status, {
        "replay-nonce": nonce,
        "content-type": answer.type ?? "text/plain",
        ...answer.headers,
      });
      res.end(answer.body ?? "");
    },
  );
  origin = server.origin;
});

afterAll(async () => {
  await server?.close();
  await ws?.dispose();
});

/** The protected header of a JWS the client sent, after checking its ES256 signature (kid requests: the account key). */
function verified(body: string): { nonce: string; url: string } {
  const jws = JSON.parse(body) as { protected: string; payload: string; signature: string };
  const header = JSON.parse(Buffer.from(jws.protected, "base64url").toString("utf8")) as {
    jwk?: JsonWebKey;
    nonce: string;
    url: string;
  };
  const ok = verify(
    "sha256",
    Buffer.from(`${jws.protected}.${jws.payload}`),
    { key: createPublicKey({ key: (header.jwk ?? key.jwk) as never, format: "jwk" }), dsaEncoding: "ieee-p1363" },
    Buffer.from(jws.signature, "base64url"),
  );
  expect(ok).toBe(true);
  return header;
}

const problem = (type: string, detail: string) =>
  JSON.stringify({ type: `urn:ietf:params:acme:error:${type}`, detail, status: 400 });

describe("AcmeClient error handling (RFC 8555 §6.5, §6.7)", () => {
  it("retries badNonce exactly once, with the nonce the error carried", async () => {
    const seen: string[] = [];
    script = (_path, body) => {
      seen.push(verified(body).nonce);
      return { status: 400, type: "application/problem+json", body: problem("badNonce", "stale") };
    };
    const client = new AcmeClient(`${origin}/dir`, { ca: tlsCa });
    const err = await client
      .post(`${origin}/account`, {}, { key }, "creating the ACME account")
      .catch((e: unknown) => e);
    expect(isCardwrightError(err, "CA_INVALID_REQUEST")).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[1]).not.toBe(seen[0]);
  });

  it("maps rateLimited (with Retry-After) and serverInternal to CA_UNAVAILABLE", async () => {
    script = (path, body) => {
      verified(body);
      return path === "/order"
        ? {
            status: 429,
            type: "application/problem+json",
            body: problem("rateLimited", "too many orders"),
            headers: { "retry-after": "3600" },
          }
        : { status: 500, type: "application/problem+json", body: problem("serverInternal", "db down") };
    };
    const client = new AcmeClient(`${origin}/dir`, { ca: tlsCa });
    const limited = await client
      .post(`${origin}/order`, {}, { key, kid: `${origin}/acct/1` }, "creating the order")
      .catch((e: unknown) => e);
    expect(isCardwrightError(limited, "CA_UNAVAILABLE")).toBe(true);
    expect((limited as { details: Record<string, unknown> }).details).toMatchObject({
      acmeProblem: "rateLimited",
      retryAfterSeconds: 3600,
    });
    const internal = await client.post(`${origin}/other`, {}, { key }, "x").catch((e: unknown) => e);
    expect(isCardwrightError(internal, "CA_UNAVAILABLE")).toBe(true);
  });

  it("maps a 503 without a problem document to CA_UNAVAILABLE and a 404 page to CA_BAD_RESPONSE", async () => {
    script = (path) =>
      path === "/down"
        ? { status: 503, body: "maintenance", headers: { "retry-after": "120" } }
        : { status: 404, type: "text/html", body: "<h1>no</h1>" };
    const client = new AcmeClient(`${origin}/dir`, { ca: tlsCa });
    const down = await client.post(`${origin}/down`, "", { key }, "reading").catch((e: unknown) => e);
    expect(isCardwrightError(down, "CA_UNAVAILABLE")).toBe(true);
    expect((down as { details: Record<string, unknown> }).details.retryAfterSeconds).toBe(120);
    const missing = await client.post(`${origin}/missing`, "", { key }, "reading").catch((e: unknown) => e);
    expect(isCardwrightError(missing, "CA_BAD_RESPONSE")).toBe(true);
  });

  it("refuses a directory that is not one", async () => {
    script = () => ({ status: 200, type: "application/json", body: JSON.stringify({ hello: "world" }) });
    await expect(new AcmeClient(`${origin}/not-a-dir`, { ca: tlsCa }).directory()).rejects.toMatchObject({
      code: "CA_BAD_RESPONSE",
    });
    script = () => ({ status: 200, type: "text/html", body: "<html>captive portal</html>" });
    await expect(new AcmeClient(`${origin}/portal`, { ca: tlsCa }).directory()).rejects.toMatchObject({
      code: "CA_BAD_RESPONSE",
    });
  });
});
