/**
 * The issue workflow's `pending` path end to end over CMP: the card's request goes by p10cr to
 * OpenSSL's CMP mock server, which holds it (PKIStatus waiting); the process "restarts" (a new
 * Cardwright and a new CMP adapter over the same store and request ledger file); the card is
 * pulled and put back while the request waits; resumeOperation polls with pollReq until the
 * certificate comes, confirms it with certConf, and writes it to the card.
 *
 * The mock answers with a fixed -rsp_cert, so a transparent HTTP front starts it on the first
 * request: it reads the CSR out of the p10cr, has the embedded CA sign it, and launches the mock
 * with that certificate. The front forwards bytes unchanged; protection stays end to end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CmpCertificateAuthority, type CmpRequestLedger, type EmbeddedCa, toPem } from "@cardwright/ca-adapters";
import { AesGcmSecretVault, Cardwright, type Policy } from "@cardwright/core";
import { InMemoryDirectory } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import type { PgliteStore } from "@cardwright/store-sql";
import { afterAll, describe, expect, it } from "vitest";
import { sampleUsers, staffPivPolicy } from "../src/index.js";
import { expectConsistent } from "./support/invariants.js";
import { openParts, TEST_KEK } from "./support/stack.js";

const CMP_CA_ID = "cmp-mock";
const REF = "cardwright-e2e";
const SECRET = "e2e-shared-secret";

/** The staff policy with its PIV Authentication certificate only, from the CMP CA. */
const policy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-cmp",
  certificates: [{ ...(staffPivPolicy.certificates[0] as Policy["certificates"][number]), caId: CMP_CA_ID }],
};

/** A request ledger in a JSON file: what survives the simulated restart. */
class FileLedger implements CmpRequestLedger {
  constructor(private readonly path: string) {}
  #read(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.path, "utf8")) as Record<string, string>;
    } catch {
      return {};
    }
  }
  async get(key: string): Promise<string | undefined> {
    return this.#read()[key];
  }
  async set(key: string, value: string): Promise<void> {
    writeFileSync(this.path, JSON.stringify({ ...this.#read(), [key]: value }));
  }
}

/** The element at `offset` of DER `der`: where its content starts and ends. */
function derElement(der: Uint8Array, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[start + i] as number);
    start += n;
  }
  return { tag, start, end: start + length };
}

/** The PKCS#10 request inside a p10cr PKIMessage (RFC 4210 §5.1: header, then body [4]). */
function csrOfP10cr(message: Uint8Array): Uint8Array {
  const outer = derElement(message, 0);
  const header = derElement(message, outer.start);
  const body = derElement(message, header.end);
  if (body.tag !== 0xa4) throw new Error(`expected a p10cr body [4], got tag ${body.tag.toString(16)}`);
  const csr = derElement(message, body.start);
  return message.slice(body.start, csr.end);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The front and the mock it starts for the first enrolment. */
class LazyCmpMock {
  server: Server | undefined;
  child: ChildProcess | undefined;
  output = "";
  mockPort = 0;
  issued: Uint8Array | undefined;

  constructor(
    private readonly dir: string,
    private readonly backing: EmbeddedCa,
  ) {}

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = new Uint8Array(Buffer.concat(chunks));
        this.#forward(body).then(
          (answer) => res.writeHead(200, { "content-type": "application/pkixcmp" }).end(answer),
          (err: unknown) => res.writeHead(502).end(String(err)),
        );
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  }

  async #start(p10cr: Uint8Array): Promise<void> {
    const csr = csrOfP10cr(p10cr);
    const result = await this.backing.submit({
      requestId: "cmp-backing-1",
      csr,
      profile: {
        templateId: "piv-auth",
        keyUsage: ["digitalSignature"],
        extendedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
        validityDays: 30,
      },
    });
    if (result.status !== "issued") throw new Error(`backing CA did not issue: ${JSON.stringify(result)}`);
    this.issued = result.certificate;
    const certPath = join(this.dir, "rsp.crt");
    writeFileSync(certPath, toPem(result.certificate, "CERTIFICATE"));
    this.mockPort = await freePort();
    // poll_count 1: the first answer is "waiting", the first pollReq gets the certificate.
    const child = spawn(
      "stdbuf",
      [
        "-oL",
        "-eL",
        "openssl",
        "cmp",
        "-port",
        String(this.mockPort),
        "-srv_ref",
        REF,
        "-srv_secret",
        `pass:${SECRET}`,
        "-rsp_cert",
        certPath,
        "-poll_count",
        "1",
        "-check_after",
        "1",
        "-verbosity",
        "7",
      ],
      { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mock did not start: ${this.output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes("ACCEPT")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
    });
  }

  async #forward(body: Uint8Array): Promise<Buffer> {
    if (this.child === undefined) await this.#start(body);
    return new Promise((resolve, reject) => {
      const up = httpRequest(
        `http://127.0.0.1:${this.mockPort}/`,
        { method: "POST", agent: false, headers: { "content-type": "application/pkixcmp", connection: "close" } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks)));
        },
      );
      up.on("error", reject);
      up.end(body);
    });
  }

  received(type: string): number {
    return this.output.split(`received ${type}`).length - 1;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    const server = this.server;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
}

/** What one process builds from its configuration: the CMP adapter over the ledger file, and the SDK. */
function processOver(store: PgliteStore, url: string, ledgerPath: string): Cardwright {
  const cmp = new CmpCertificateAuthority({
    id: CMP_CA_ID,
    url,
    protection: { kind: "mac", reference: REF, secret: SECRET },
    ledger: new FileLedger(ledgerPath),
  });
  return new Cardwright({
    store,
    vault: new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" }),
    directory: new InMemoryDirectory(sampleUsers),
    certificateAuthorities: [cmp],
    policies: [policy],
    caRetry: { attempts: 2, baseDelayMs: 10 },
  });
}

describe("issue over CMP with a pending request", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("waits, survives a restart and a card removal, then polls to issued and writes the certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-cmp-pending-"));
    const { ca: backing, store } = await openParts(dir);
    cleanups.push(() => store.close());
    const mock = new LazyCmpMock(dir, backing);
    cleanups.push(() => mock.stop());
    const url = await mock.listen();
    const ledgerPath = join(dir, "cmp-ledger.json");

    const card = await VirtualPivCard.create();
    const transport = new InMemoryTransport(card);
    const device = await PivDevice.open(transport);
    const devices = new Map([[device.identity.serial, device]]);

    // Process 1: the CA holds the request.
    const first = await processOver(store, url, ledgerPath).issueCard({ userId: "bob", device, actor: "operator" });
    if (first.status !== "pending") throw new Error(`expected pending, got ${first.status}`);
    expect(first.card.state).toBe("pending");
    expect(first.pendingRequests).toHaveLength(1);
    const caRequestId = first.pendingRequests[0]?.caRequestId;
    expect(caRequestId).toMatch(/^[0-9a-f]{32}$/);
    expect(mock.received("P10CR")).toBe(1);
    expect(mock.received("CERTCONF")).toBe(0);
    expect((await store.cards.get(first.card.id))?.state).toBe("pending");
    // Nothing issued is on record yet. (The invariants are checked at the end: the harness's
    // backing CA has already signed the certificate the mock will hand out.)
    expect(await store.certificates.list()).toHaveLength(0);
    const requests = await store.requests.listByOperation(first.operationId);
    expect(requests.map((r) => [r.status, r.caRequestId])).toEqual([["pending", caRequestId]]);

    // The card is pulled while the request waits, and put back.
    transport.remove();
    await device.close().catch(() => undefined);
    transport.insert(card);
    const again = await PivDevice.open(transport);
    devices.set(again.identity.serial, again);

    // Process 2: nothing shared with process 1 but the store, the ledger file and the configuration.
    const second = processOver(store, url, ledgerPath);
    let result = await second.resumeOperation(first.operationId, { device: again, actor: "operator" });
    for (let i = 0; i < 3 && result.status === "pending"; i++) {
      result = await second.resumeOperation(first.operationId, { device: again, actor: "operator" });
    }
    if (result.status !== "active") throw new Error(`expected active, got ${result.status}`);
    expect(result.card.state).toBe("active");
    expect(result.certificates).toHaveLength(1);

    // The certificate the CA issued is the one on the card; one enrolment, confirmed once.
    const onCard = await again.readCertificate("9a");
    expect(Buffer.from(onCard as Uint8Array).equals(Buffer.from(mock.issued as Uint8Array))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(mock.received("P10CR")).toBe(1);
    expect(mock.received("POLLREQ")).toBeGreaterThanOrEqual(1);
    expect(mock.received("CERTCONF")).toBe(1);
    expect(mock.output).toContain("sending PKICONF");
    expect(await backing.listIssued()).toHaveLength(1);
    await expectConsistent(store, backing, devices);
  });
});
