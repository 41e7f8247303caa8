/**
 * Test harness around OpenSSL 3's built-in CMP mock server (`openssl cmp -port`): a small test
 * PKI made with the openssl command line (CA, CMP server certificate, client certificate), and
 * one mock server per scenario on a free port, stopped by the test. The mock answers every
 * enrolment with its fixed `-rsp_cert`, so tests sign the request's CSR first and start a mock
 * for that certificate.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { toPem } from "../src/pem.js";
import { freePort } from "./support/net.js";
import { type OpensslWorkspace, opensslWorkspace } from "./support/openssl.js";

/** A DER file's content. */
export async function readDer(path: string): Promise<Uint8Array> {
  const text = await readFile(path, "utf8");
  return new Uint8Array(Buffer.from(text.replace(/-----[^-]+-----|\s/g, ""), "base64"));
}

/** The files of the test PKI. */
export interface CmpTestPki {
  ws: OpensslWorkspace;
  /** Test CA (issues end-entity, server and client certificates). */
  caCert: string;
  caKey: string;
  /** CMP server signing certificate and key (self-signed: it is pinned, not chained). */
  srvCert: string;
  srvKey: string;
  /** Client certificate for signature protection, issued by the test CA, and its PKCS#8 key. */
  clientCert: string;
  clientKey: string;
  /** Sign `csr` (DER) with the test CA, with a random or the given serial; returns the PEM certificate's path. */
  issue(csr: Uint8Array, name: string, serialHex?: string): Promise<string>;
  dispose(): Promise<void>;
}

async function run(ws: OpensslWorkspace, ...args: string[]): Promise<void> {
  const r = await ws.run(...args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

/** Make the test PKI (EC P-256 keys) in a temporary directory. */
export async function makeCmpTestPki(): Promise<CmpTestPki> {
  const ws = await opensslWorkspace();
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await ws.write(
    "ext.cnf",
    "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n" +
      "[ee]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
  );
  await run(
    ws,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-subj",
    "/CN=CMP Test CA/O=cardwright",
    "-days",
    "2",
    "-config",
    "ext.cnf",
    "-extensions",
    "ca",
  );
  await run(
    ws,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "srv.key",
    "-out",
    "srv.crt",
    "-subj",
    "/CN=CMP Test Server",
    "-days",
    "2",
  );
  await run(ws, "req", "-new", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=CMP Test Client");
  await run(
    ws,
    "x509",
    "-req",
    "-in",
    "client.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-days",
    "1",
    "-out",
    "client.crt",
    "-extfile",
    "ext.cnf",
    "-extensions",
    "ee",
  );
  const path = (name: string) => `${ws.dir}/${name}`;
  return {
    ws,
    caCert: path("ca.crt"),
    caKey: path("ca.key"),
    srvCert: path("srv.crt"),
    srvKey: path("srv.key"),
    clientCert: path("client.crt"),
    clientKey: path("client.key"),
    async issue(csr, name, serialHex) {
      await ws.write(`${name}.csr`, toPem(csr, "CERTIFICATE REQUEST"));
      const serial = serialHex === undefined ? [] : ["-set_serial", `0x${serialHex}`];
      await run(
        ws,
        "x509",
        "-req",
        ...serial,
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-days",
        "1",
        "-out",
        `${name}.crt`,
        "-extfile",
        "ext.cnf",
        "-extensions",
        "ee",
      );
      return path(`${name}.crt`);
    },
    dispose: () => ws.dispose(),
  };
}

/** A running mock server. */
export interface CmpMockServer {
  url: string;
  port: number;
  /** What the server printed (its -verbosity 7 log), once it has been quiet for a moment. */
  log(): Promise<string>;
  /** How often the log has `received <TYPE>`, once the server has been quiet for a moment. */
  received(type: string): Promise<number>;
  stop(): Promise<void>;
}

/** The reference and secret the MAC-protected mocks use. */
export const MOCK_REF = "cardwright-test";
export const MOCK_SECRET = "cmp-test-secret";

/**
 * Start `openssl cmp -port` answering with `rspCert`. `args` add mock options (-poll_count,
 * -pkistatus, -srv_trusted...). Without `signatureOnly`, the server protects with the MAC secret.
 */
export function startCmpMock(
  pki: CmpTestPki,
  rspCert: string,
  args: readonly string[] = [],
  options: { signatureOnly?: boolean; secret?: string } = {},
): Promise<CmpMockServer> {
  const auth = options.signatureOnly
    ? []
    : ["-srv_ref", MOCK_REF, "-srv_secret", `pass:${options.secret ?? MOCK_SECRET}`];
  return spawnCmpMock(pki.ws.dir, [
    ...auth,
    "-srv_cert",
    pki.srvCert,
    "-srv_key",
    pki.srvKey,
    "-rsp_cert",
    rspCert,
    ...args,
  ]);
}

/** Start `openssl cmp -port <free port> <args>` in `dir` and wait until it accepts connections. */
export async function spawnCmpMock(dir: string, args: readonly string[]): Promise<CmpMockServer> {
  const port = await freePort();
  // stdbuf: the mock logs through stdio, block-buffered on a pipe; line buffering lets the
  // tests read what it received while it runs.
  const child: ChildProcess = spawn(
    "stdbuf",
    ["-oL", "-eL", "openssl", "cmp", "-port", String(port), "-verbosity", "7", ...args],
    {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  let lastOutputAt = Date.now();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`openssl cmp mock did not start:\n${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        lastOutputAt = Date.now();
        if (output.includes("ACCEPT")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`openssl cmp mock exited (${code}):\n${output}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // The mock logs a message's lines around sending its answer: wait until it has been quiet.
  const settle = async () => {
    const deadline = Date.now() + 2_000;
    while (Date.now() - lastOutputAt < 150 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  return {
    url: `http://127.0.0.1:${port}/pkix/`,
    port,
    log: async () => {
      await settle();
      return output;
    },
    received: async (type) => {
      await settle();
      return output.split(`received ${type}`).length - 1;
    },
    stop,
  };
}
