/**
 * A CA made of OpenSSL CMP mock servers, for suites that enrol many keys through one URL: an
 * HTTP front reads each new transaction's request, and for a p10cr has a backing embedded CA sign
 * the CSR and starts a mock answering with that certificate (or, when the backing CA refuses the
 * CSR, a mock answering PKIStatus rejection / badPOP). Later messages of the transaction, and rr
 * for that certificate's serial, go to the same mock. The front forwards bytes unchanged, so CMP
 * protection stays end to end between the adapter and a real OpenSSL server.
 */
import { writeFile } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import { join } from "node:path";
import type { CertificateProfile } from "@cardwright/core";
import * as asn1js from "asn1js";
import { hex, receivedBytes } from "../src/cmp/der.js";
import { BodyType } from "../src/cmp/pki-body.js";
import { decodePkiMessage } from "../src/cmp/pki-message.js";
import type { EmbeddedCa } from "../src/index.js";
import { toPem } from "../src/pem.js";
import { type CmpMockServer, MOCK_REF, MOCK_SECRET, spawnCmpMock } from "./cmp-mock-server.js";

/** The running front. */
export interface CmpMockRouter {
  url: string;
  /** How many mock servers it started. */
  started(): number;
  stop(): Promise<void>;
}

const strip = (serialHex: string) => serialHex.toLowerCase().replace(/^(00)+(?=.)/, "");

/** The serial of the first RevDetails of an rr body (RFC 4211 CertTemplate serialNumber [1]). */
function rrSerial(body: asn1js.AsnType): string | undefined {
  const details = (body as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence | undefined;
  const template = details?.valueBlock.value[0] as asn1js.Sequence | undefined;
  const serial = template?.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 1);
  return serial instanceof asn1js.Primitive ? strip(hex(new Uint8Array(serial.valueBlock.valueHexView))) : undefined;
}

/** Start the front over `backing`, whose certificate is at `caCertPath` (sent in extraCerts). */
export async function startCmpMockRouter(options: {
  dir: string;
  backing: EmbeddedCa;
  caCertPath: string;
  profile: CertificateProfile;
}): Promise<CmpMockRouter> {
  const mocks: CmpMockServer[] = [];
  const byTransaction = new Map<string, CmpMockServer>();
  const bySerial = new Map<string, CmpMockServer>();
  let fallback: Promise<CmpMockServer> | undefined;
  const auth = ["-srv_ref", MOCK_REF, "-srv_secret", `pass:${MOCK_SECRET}`];

  const spawnTracked = async (args: string[]) => {
    const mock = await spawnCmpMock(options.dir, [...auth, ...args]);
    mocks.push(mock);
    return mock;
  };
  // A mock for messages about no certificate of ours: it answers with the CA certificate.
  const defaultMock = () => {
    fallback ??= spawnTracked(["-rsp_cert", options.caCertPath]);
    return fallback;
  };

  const enrolment = async (tid: string, csr: Uint8Array): Promise<CmpMockServer> => {
    const refused = (reason: string) =>
      spawnTracked(["-rsp_cert", options.caCertPath, "-pkistatus", "2", "-failure", "9", "-statusstring", reason]);
    const result = await options.backing
      .submit({ requestId: `cmp-${tid}`, csr, profile: options.profile })
      .catch((err: unknown) => ({ status: "rejected" as const, reason: String((err as Error).message) }));
    if (result.status !== "issued") return refused(result.status === "rejected" ? result.reason : "held");
    const path = join(options.dir, `rsp-${tid}.crt`);
    await writeFile(path, toPem(result.certificate, "CERTIFICATE"));
    const mock = await spawnTracked(["-rsp_cert", path, "-rsp_extracerts", options.caCertPath]);
    const serial = (await options.backing.listIssued()).find((c) =>
      Buffer.from(c.certificate).equals(Buffer.from(result.certificate)),
    )?.serialHex;
    if (serial !== undefined) bySerial.set(strip(serial), mock);
    return mock;
  };

  const route = async (request: Uint8Array): Promise<CmpMockServer> => {
    const message = decodePkiMessage(request);
    const tid = hex(message.header.transactionId ?? new Uint8Array());
    const known = byTransaction.get(tid);
    if (known !== undefined) return known;
    let mock: CmpMockServer;
    if (message.bodyType === BodyType.p10cr) mock = await enrolment(tid, receivedBytes(message.body));
    else if (message.bodyType === BodyType.rr)
      mock = bySerial.get(rrSerial(message.body) ?? "") ?? (await defaultMock());
    else mock = await defaultMock();
    byTransaction.set(tid, mock);
    return mock;
  };

  const forward = (mock: CmpMockServer, body: Uint8Array) =>
    new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
      const up = httpRequest(
        mock.url,
        { method: "POST", agent: false, headers: { "content-type": "application/pkixcmp", connection: "close" } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 502,
              type: String(res.headers["content-type"]),
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      up.on("error", reject);
      up.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = new Uint8Array(Buffer.concat(chunks));
      route(body)
        .then((mock) => forward(mock, body))
        .then(
          (answer) => res.writeHead(answer.status, { "content-type": answer.type }).end(answer.body),
          (err: unknown) => res.writeHead(502, { "content-type": "text/plain" }).end(String(err)),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    started: () => mocks.length,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all(mocks.map((m) => m.stop()));
    },
  };
}
