/**
 * Runs Debian's `pebble` (Let's Encrypt's RFC 8555 test server) on 127.0.0.1 for the ACME
 * tests: free ports, a temp dir, a TLS certificate made with openssl for 127.0.0.1 (trusted by the
 * adapter through its own `ca` option, never globally), and pebble's per-start random CA read
 * from the management port. Validation is real unless `alwaysValid` is set: pebble's VA fetches
 * http-01 answers from `httpPort` on 127.0.0.1 and resolves names through `dnsPort`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { request } from "node:https";
import { join } from "node:path";
import { freePort } from "./net.js";
import { type OpensslWorkspace, opensslWorkspace } from "./openssl.js";

export interface Pebble {
  directoryUrl: string;
  /** PEM of the TLS trust anchor for pebble's HTTPS. */
  tlsCa: string;
  /** Pebble's CA for this run: root and intermediate, PEM. */
  rootPem: string;
  intermediatePem: string;
  /** Port pebble's VA fetches http-01 answers from. */
  httpPort: number;
  managementUrl: string;
  workspace: OpensslWorkspace;
  /** GET on the management interface (pebble-specific, not RFC 8555). */
  manage(path: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A CA and a 127.0.0.1 server certificate made with openssl in `ws`; returns file names. */
export async function makeTlsMaterial(ws: OpensslWorkspace): Promise<{ caPem: string; cert: string; key: string }> {
  const steps: string[][] = [
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls-ca.key"].concat([
      "-out",
      "tls-ca.pem",
      "-subj",
      "/CN=cardwright test TLS CA",
      "-days",
      "2",
    ]),
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key"].concat([
      "-out",
      "tls.csr",
      "-subj",
      "/CN=127.0.0.1",
    ]),
    ["x509", "-req", "-in", "tls.csr", "-CA", "tls-ca.pem", "-CAkey", "tls-ca.key", "-CAcreateserial"].concat([
      "-out",
      "tls.pem",
      "-days",
      "2",
      "-extfile",
      "tls.ext",
    ]),
  ];
  await ws.write("tls.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  for (const args of steps) {
    const res = await ws.run(...args);
    if (res.code !== 0) throw new Error(`openssl ${args[0]} failed: ${res.stderr}`);
  }
  return {
    caPem: await readFile(join(ws.dir, "tls-ca.pem"), "utf8"),
    cert: join(ws.dir, "tls.pem"),
    key: join(ws.dir, "tls.key"),
  };
}

export interface PebbleOptions {
  alwaysValid?: boolean;
  /** A DNS server pebble's VA asks (host:port); the system resolver when omitted. */
  dnsServer?: string;
  /** Lifetime of issued certificates (pebble's certificateValidityPeriod); pebble's 5 years when omitted. */
  certificateValidityDays?: number;
}

export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const workspace = await opensslWorkspace();
  const tls = await makeTlsMaterial(workspace);
  const [listen, management, httpPort, tlsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listen}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: tls.cert,
      privateKey: tls.key,
      httpPort,
      tlsPort,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      domainBlocklist: ["blocked.example"],
      ...(options.certificateValidityDays === undefined
        ? {}
        : { certificateValidityPeriod: options.certificateValidityDays * 86_400 }),
    },
  };
  const configPath = await workspace.write("pebble-config.json", JSON.stringify(config));
  const args = ["-config", configPath, ...(options.dnsServer === undefined ? [] : ["-dnsserver", options.dnsServer])];
  const child: ChildProcess = spawn("/usr/bin/pebble", args, {
    cwd: workspace.dir,
    env: {
      ...process.env,
      PEBBLE_VA_ALWAYS_VALID: options.alwaysValid === true ? "1" : "0",
      PEBBLE_VA_NOSLEEP: "1",
      PEBBLE_WFE_NONCEREJECT: "0",
      PEBBLE_AUTHZREUSE: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (c: Buffer) => {
    log += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    log += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    await workspace.dispose();
  };
  const directoryUrl = `https://127.0.0.1:${listen}/dir`;
  const managementUrl = `https://127.0.0.1:${management}`;
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`pebble exited: ${log}`);
      const ok = await httpsGet(directoryUrl, tls.caPem).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`pebble did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const root = await httpsGet(`${managementUrl}/roots/0`, tls.caPem);
    const intermediate = await httpsGet(`${managementUrl}/intermediates/0`, tls.caPem);
    return {
      directoryUrl,
      tlsCa: tls.caPem,
      rootPem: root.body,
      intermediatePem: intermediate.body,
      httpPort,
      managementUrl,
      workspace,
      manage: (path) => httpsGet(`${managementUrl}${path}`, tls.caPem),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** An http-01 responder (RFC 8555 §8.3) serving on 127.0.0.1:`port`, where pebble's VA fetches. */
export interface Http01Site {
  published: Map<string, string>;
  close(): Promise<void>;
}

export async function startHttp01Site(port: number): Promise<Http01Site> {
  const published = new Map<string, string>();
  const prefix = "/.well-known/acme-challenge/";
  const server = createHttpServer((req, res) => {
    const token = req.url?.startsWith(prefix) ? req.url.slice(prefix.length) : undefined;
    const body = token === undefined ? undefined : published.get(token);
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/plain" }).end(body ?? "");
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { published, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
