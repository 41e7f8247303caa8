/**
 * The CMP adapter against a real peer: OpenSSL 3's CMP mock server (`openssl cmp -port`), one
 * per scenario on a free 127.0.0.1 port. The mock answers every enrolment with its fixed
 * `-rsp_cert`, which the test signs beforehand from the request's CSR.
 */

import { KeyObject, sign as nodeSign } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { type CaResult, isCardwrightError, spkiEquals } from "@cardwright/core";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CmpCertificateAuthority, type CmpCertificateAuthorityOptions } from "../src/index.js";
import {
  type CmpMockServer,
  type CmpTestPki,
  MOCK_REF,
  MOCK_SECRET,
  makeCmpTestPki,
  readDer,
  startCmpMock,
} from "./cmp-mock-server.js";
import { makeCsr, type TestCsr } from "./support/csr.js";
import { freePort } from "./support/net.js";
import { pivAuthProfile, serialHexOf } from "./support/x509.js";

let pki: CmpTestPki;

beforeAll(async () => {
  pki = await makeCmpTestPki();
});

afterAll(async () => {
  await pki?.dispose();
});

function macCa(url: string, extra: Partial<CmpCertificateAuthorityOptions> = {}): CmpCertificateAuthority {
  return new CmpCertificateAuthority({
    id: "cmp-test",
    url,
    protection: { kind: "mac", reference: MOCK_REF, secret: MOCK_SECRET },
    ...extra,
  });
}

/** Run `body` with a mock answering `rspCert`; the mock is stopped even when `body` fails. */
async function withMock<T>(
  rspCert: string,
  args: readonly string[],
  body: (mock: CmpMockServer) => Promise<T>,
  options?: { signatureOnly?: boolean; secret?: string },
): Promise<T> {
  const mock = await startCmpMock(pki, rspCert, args, options);
  try {
    return await body(mock);
  } finally {
    await mock.stop();
  }
}

/** A CSR and the certificate the test CA signs for it. */
async function enrolment(name: string): Promise<{ csr: TestCsr; certPath: string; certificate: Uint8Array }> {
  const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: `CN=${name},O=cardwright` });
  const certPath = await pki.issue(csr.der, name);
  return { csr, certPath, certificate: await readDer(certPath) };
}

function expectIssued(result: CaResult): Extract<CaResult, { status: "issued" }> {
  if (result.status !== "issued") throw new Error(`expected issued, got ${JSON.stringify(result)}`);
  return result;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCardwrightError(err), `expected a CardwrightError ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  return err as Error;
}

describe("CMP p10cr with PasswordBasedMac protection", () => {
  it("enrols with p10cr, confirms with certConf, and returns the chain from extraCerts", async () => {
    const { csr, certPath, certificate } = await enrolment("alice");
    await withMock(certPath, ["-rsp_extracerts", pki.caCert], async (mock) => {
      const ca = macCa(mock.url);
      const started = performance.now();
      const result = expectIssued(await ca.submit({ requestId: "req-alice", csr: csr.der, profile: pivAuthProfile }));
      const elapsed = performance.now() - started;
      console.log(
        `CMP enrolment round trip on loopback (p10cr + certConf, PasswordBasedMac 10 000 iterations): ${elapsed.toFixed(1)} ms`,
      );
      // The same exchange with a cheaper MAC shows what the iterations cost (the mock answers any p10cr alike).
      const light = macCa(mock.url, {
        protection: { kind: "mac", reference: MOCK_REF, secret: MOCK_SECRET, iterationCount: 100 },
      });
      const lightStarted = performance.now();
      expectIssued(await light.submit({ requestId: "req-alice-light", csr: csr.der, profile: pivAuthProfile }));
      console.log(
        `CMP enrolment round trip on loopback (p10cr + certConf, PasswordBasedMac 100 iterations): ${(performance.now() - lightStarted).toFixed(1)} ms`,
      );
      expect(Buffer.from(result.certificate).equals(Buffer.from(certificate))).toBe(true);
      expect(result.chain).toHaveLength(1);
      expect(Buffer.from(result.chain[0] as Uint8Array).equals(Buffer.from(await readDer(pki.caCert)))).toBe(true);
      expect(result.caRequestId).toMatch(/^[0-9a-f]{32}$/);
      expect(await mock.received("P10CR")).toBe(2);
      expect(await mock.received("CERTCONF")).toBe(2);
      expect(await mock.log()).toContain("sending PKICONF");
      expect(await mock.log()).toContain("successfully validated PBM-based CMP message protection");
    });
  });

  it("is idempotent on requestId: a resubmission returns the recorded certificate without a new transaction", async () => {
    const { csr, certPath } = await enrolment("bob");
    await withMock(certPath, [], async (mock) => {
      const ca = macCa(mock.url);
      const first = expectIssued(await ca.submit({ requestId: "req-bob", csr: csr.der, profile: pivAuthProfile }));
      const again = expectIssued(await ca.submit({ requestId: "req-bob", csr: csr.der, profile: pivAuthProfile }));
      expect(again.caRequestId).toBe(first.caRequestId);
      expect(Buffer.from(again.certificate).equals(Buffer.from(first.certificate))).toBe(true);
      expect(await mock.received("P10CR")).toBe(1);
      // Another CSR under the same id, and two at once: still the recorded certificate, no new transaction.
      const other = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=bob" });
      const [a, b] = await Promise.all([
        ca.submit({ requestId: "req-bob", csr: other.der, profile: pivAuthProfile }),
        ca.submit({ requestId: "req-bob", csr: other.der, profile: pivAuthProfile }),
      ]);
      expect(expectIssued(a).certificate).toEqual(first.certificate);
      expect(expectIssued(b).certificate).toEqual(first.certificate);
      expect(await mock.received("P10CR")).toBe(1);
    });
  });

  it("refuses a certificate for another key than the CSR's, and rejects it in certConf", async () => {
    const { csr } = await enrolment("carol");
    const { certPath: wrongCert } = await enrolment("mallory");
    await withMock(wrongCert, [], async (mock) => {
      const ca = macCa(mock.url);
      const err = await expectCode(
        ca.submit({ requestId: "req-carol", csr: csr.der, profile: pivAuthProfile }),
        "CA_BAD_RESPONSE",
      );
      expect(err.message).toContain("another public key");
      expect(await mock.received("CERTCONF")).toBe(1);
    });
  });

  it("maps a PKIStatus rejection to a rejected result with failInfo and statusString", async () => {
    const { csr, certPath } = await enrolment("dave");
    // failurebits 2^23 = notAuthorized; 2^9 = badPOP.
    const bits = String(2 ** 23 + 2 ** 9);
    await withMock(
      certPath,
      ["-pkistatus", "2", "-failurebits", bits, "-statusstring", "not on the list"],
      async (mock) => {
        const ca = macCa(mock.url);
        const result = await ca.submit({ requestId: "req-dave", csr: csr.der, profile: pivAuthProfile });
        expect(result.status).toBe("rejected");
        const reason = result.status === "rejected" ? result.reason : "";
        expect(reason).toContain("rejection");
        expect(reason).toContain("notAuthorized");
        expect(reason).toContain("badPOP");
        expect(reason).toContain("not on the list");
        expect(await mock.received("CERTCONF")).toBe(0);
        // Recorded: asking again gives the same rejection without a new transaction.
        expect(await ca.submit({ requestId: "req-dave", csr: csr.der, profile: pivAuthProfile })).toEqual(result);
        expect(await mock.received("P10CR")).toBe(1);
      },
    );
  });

  it("reports a waiting request as pending and polls with pollReq until it is issued", async () => {
    const { csr, certPath, certificate } = await enrolment("erin");
    await withMock(certPath, ["-poll_count", "2", "-check_after", "7"], async (mock) => {
      const ca = macCa(mock.url);
      const first = await ca.submit({ requestId: "req-erin", csr: csr.der, profile: pivAuthProfile });
      expect(first.status).toBe("pending");
      const caRequestId = first.caRequestId as string;
      const answers: CaResult[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await ca.poll(caRequestId);
        answers.push(r);
        if (r.status !== "pending") break;
        expect(r.retryAfterSeconds).toBe(7);
      }
      const last = expectIssued(answers.at(-1) as CaResult);
      expect(answers.length).toBeGreaterThan(1);
      expect(Buffer.from(last.certificate).equals(Buffer.from(certificate))).toBe(true);
      expect(last.caRequestId).toBe(caRequestId);
      expect(await mock.received("POLLREQ")).toBe(answers.length);
      expect(await mock.received("CERTCONF")).toBe(1);
      // A resubmission after issuance returns the certificate; an unknown id is typed.
      expectIssued(await ca.submit({ requestId: "req-erin", csr: csr.der, profile: pivAuthProfile }));
      await expectCode(ca.poll("00".repeat(16)), "CA_UNKNOWN_REQUEST");
    });
  });

  it("treats a response MAC made with another secret as CA_BAD_RESPONSE", async () => {
    const { csr, certPath } = await enrolment("frank");
    await withMock(
      certPath,
      [],
      async (mock) => {
        const ca = macCa(mock.url);
        await expectCode(
          ca.submit({ requestId: "req-frank", csr: csr.der, profile: pivAuthProfile }),
          "CA_BAD_RESPONSE",
        );
      },
      { secret: "another-secret" },
    );
  });
});

describe("CMP revocation, chain and failures", () => {
  it("revokes and suspends with rr, and refuses unsuspend without removeFromCRL support", async () => {
    const { csr, certPath, certificate } = await enrolment("grace");
    const serialHex = serialHexOf(certificate);
    await withMock(certPath, [], async (mock) => {
      const ca = macCa(mock.url, { caCertificates: [await readDer(pki.caCert)] });
      expectIssued(await ca.submit({ requestId: "req-grace", csr: csr.der, profile: pivAuthProfile }));
      await ca.revoke(serialHex, "keyCompromise");
      await ca.suspend(serialHex);
      expect(await mock.received("RR")).toBe(2);
      expect(await mock.log()).toContain("sending RP");
      await expectCode(ca.unsuspend(serialHex), "CA_UNSUPPORTED");
      // The mock only knows its -rsp_cert: another serial is refused, typed.
      const err = await expectCode(ca.revoke("0badc0de", "superseded"), "CA_REJECTED");
      expect(err.message).toContain("0badc0de");
    });
  });

  it("releases a hold with removeFromCRL when the CA is declared to support it", async () => {
    const { certPath, certificate } = await enrolment("heidi");
    await withMock(certPath, [], async (mock) => {
      const ca = macCa(mock.url, { caCertificates: [await readDer(pki.caCert)], supportsRemoveFromCrl: true });
      await ca.unsuspend(serialHexOf(certificate));
      expect(await mock.received("RR")).toBe(1);
    });
  });

  it("returns the chain: genm caCerts when answered, else the last enrolment's, else configured", async () => {
    const { csr, certPath } = await enrolment("ivan");
    const caDer = await readDer(pki.caCert);
    await withMock(certPath, ["-rsp_extracerts", pki.caCert], async (mock) => {
      const bare = macCa(mock.url);
      await expectCode(bare.chain(), "CA_UNSUPPORTED");
      expect(await mock.received("GENM")).toBe(1);
      const configured = macCa(mock.url, { caCertificates: [caDer] });
      expect((await configured.chain()).map((c) => Buffer.from(c).toString("hex"))).toEqual([
        Buffer.from(caDer).toString("hex"),
      ]);
      expectIssued(await bare.submit({ requestId: "req-ivan", csr: csr.der, profile: pivAuthProfile }));
      const chain = await bare.chain();
      expect(chain).toHaveLength(1);
      expect(Buffer.from(chain[0] as Uint8Array).equals(Buffer.from(caDer))).toBe(true);
    });
  });

  it("reports a refused connection and a silent server as CA_UNAVAILABLE", async () => {
    const { csr } = await enrolment("judy");
    const closedPort = await freePort();
    await expectCode(
      macCa(`http://127.0.0.1:${closedPort}/`).submit({ requestId: "r", csr: csr.der, profile: pivAuthProfile }),
      "CA_UNAVAILABLE",
    );
    const silent = createHttpServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const ca = macCa(`http://127.0.0.1:${port}/`, { timeoutMs: 300 });
      const err = await expectCode(
        ca.submit({ requestId: "r", csr: csr.der, profile: pivAuthProfile }),
        "CA_UNAVAILABLE",
      );
      expect(err.message).toContain("300 ms");
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("rejects a tampered response and a replayed one as CA_BAD_RESPONSE", async () => {
    const { csr, certPath } = await enrolment("ken");
    await withMock(certPath, [], async (mock) => {
      // A proxy in front of the mock: flips one byte of the first answer, then replays an old one.
      let mode: "tamper" | "replay" = "tamper";
      let recorded: Buffer | undefined;
      const proxy = createHttpServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const upstream = httpRequest(
            mock.url,
            { method: "POST", agent: false, headers: { "content-type": "application/pkixcmp", connection: "close" } },
            (up) => {
              const body: Buffer[] = [];
              up.on("data", (c: Buffer) => body.push(c));
              up.on("end", () => {
                let answer: Buffer = Buffer.concat(body);
                if (mode === "tamper") {
                  recorded = Buffer.from(answer);
                  answer[answer.length - 80] = (answer[answer.length - 80] as number) ^ 1;
                } else if (recorded !== undefined) {
                  answer = recorded;
                }
                res.writeHead(200, { "content-type": "application/pkixcmp" }).end(answer);
              });
            },
          );
          upstream.end(Buffer.concat(chunks));
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      try {
        const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}/`;
        const ca = macCa(url);
        await expectCode(
          ca.submit({ requestId: "req-ken-1", csr: csr.der, profile: pivAuthProfile }),
          "CA_BAD_RESPONSE",
        );
        mode = "replay";
        const err = await expectCode(
          ca.submit({ requestId: "req-ken-2", csr: csr.der, profile: pivAuthProfile }),
          "CA_BAD_RESPONSE",
        );
        expect(err.message).toMatch(/transactionID|recipNonce/);
      } finally {
        proxy.closeAllConnections();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });
  });
});

describe("CMP signature protection and kur", () => {
  async function clientKey(): Promise<CryptoKey> {
    const pem = await readFile(pki.clientKey, "utf8");
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    return crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  }

  it("enrols with a client certificate, verifying the server's signature against the pinned certificate", async () => {
    const { csr, certPath } = await enrolment("leo");
    await withMock(
      certPath,
      ["-srv_trusted", pki.caCert],
      async (mock) => {
        const options: CmpCertificateAuthorityOptions = {
          id: "cmp-sig",
          url: mock.url,
          protection: { kind: "signature", certificate: await readDer(pki.clientCert), privateKey: await clientKey() },
          serverCertificate: await readDer(pki.srvCert),
        };
        const result = expectIssued(
          await new CmpCertificateAuthority(options).submit({
            requestId: "req-leo",
            csr: csr.der,
            profile: pivAuthProfile,
          }),
        );
        const issued = pkijs.Certificate.fromBER(new Uint8Array(result.certificate));
        expect(spkiEquals(new Uint8Array(issued.subjectPublicKeyInfo.toSchema().toBER()), csr.spki)).toBe(true);
        expect(await mock.log()).toContain("sending PKICONF");
        // The same server, checked against another pinned certificate: the signature does not verify.
        const wrongPin = new CmpCertificateAuthority({ ...options, serverCertificate: await readDer(pki.caCert) });
        await expectCode(
          wrongPin.submit({ requestId: "req-leo-2", csr: csr.der, profile: pivAuthProfile }),
          "CA_BAD_RESPONSE",
        );
        // Without a pinned certificate there is nothing to check a signed response with.
        const { serverCertificate: _none, ...unpinned } = options;
        await expectCode(
          new CmpCertificateAuthority(unpinned).submit({
            requestId: "req-leo-3",
            csr: csr.der,
            profile: pivAuthProfile,
          }),
          "CA_BAD_RESPONSE",
        );
      },
      { signatureOnly: true },
    );
  });

  it("renews the same key with kur signed by the previous key, and refuses what kur cannot do", async () => {
    const first = await enrolment("mia");
    // The mock checks kur's oldCertID against its -rsp_cert, so the renewed certificate keeps the serial.
    const renewedPath = await pki.issue(first.csr.der, "mia-renewed", serialHexOf(first.certificate));
    const renewed = await readDer(renewedPath);
    const device = KeyObject.from(first.csr.keys.privateKey);
    const signWithPreviousKey = async (data: Uint8Array, hash: "SHA-256" | "SHA-384" | "SHA-512") =>
      new Uint8Array(nodeSign(hash.replace("-", "").toLowerCase(), data, device));
    await withMock(renewedPath, ["-srv_trusted", pki.caCert], async (mock) => {
      const ca = macCa(mock.url, { serverCertificate: await readDer(pki.srvCert) });
      const base = {
        requestId: "renew-mia",
        csr: first.csr.der,
        profile: pivAuthProfile,
        previousCertificate: first.certificate,
        previousSerialHex: serialHexOf(first.certificate),
      };
      await expectCode(ca.renew({ ...base, rekey: false }), "CA_UNSUPPORTED");
      await expectCode(ca.renew({ ...base, rekey: true, signWithPreviousKey }), "CA_UNSUPPORTED");
      expect(await mock.received("KUR")).toBe(0);
      const result = expectIssued(await ca.renew({ ...base, rekey: false, signWithPreviousKey }));
      expect(Buffer.from(result.certificate).equals(Buffer.from(renewed))).toBe(true);
      expect(await mock.received("KUR")).toBe(1);
      expect(await mock.log()).toContain("sending PKICONF");
      const again = expectIssued(await ca.renew({ ...base, rekey: false, signWithPreviousKey }));
      expect(again.caRequestId).toBe(result.caRequestId);
      expect(await mock.received("KUR")).toBe(1);
    });
  });
});
