/**
 * AcmeCertificateAuthority against a real ACME server: Debian's `pebble` (Let's Encrypt's
 * RFC 8555 test CA), started per file on 127.0.0.1. Validation is real: an http-01 responder in
 * this file serves key authorizations on the port pebble's VA fetches from (IP identifiers,
 * RFC 8738, and DNS names), and a small DNS server here answers pebble's VA (A records, and the
 * dns-01 TXT records the responder publishes). Issued chains are checked with `openssl verify` against the
 * root and intermediate pebble generated at start.
 *
 * What pebble cannot show: rate limits and `serverInternal` (pebble never sends them), `Retry-After`
 * on a processing order (pebble issues at once), certificate hold (ACME has none).
 */
import { generateKeyPairSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CertificateRequest, isCardwrightError, parseCertificate } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcmeCertificateAuthority,
  type AcmeChallenge,
  type AcmeChallengeResponder,
  MemoryAcmeOrderLedger,
} from "../src/index.js";
import { type AcmeDnsServer, startAcmeDns } from "./support/acme-dns.js";
import { type Http01Site, type Pebble, startHttp01Site, startPebble } from "./support/acme-pebble.js";
import { freePort } from "./support/net.js";
import { pivAuthProfile } from "./support/x509.js";

let pebble: Pebble;
let dns: AcmeDnsServer;
let site: Http01Site;
const accountKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;

class Http01Responder implements AcmeChallengeResponder {
  readonly types = ["http-01"];
  presented: AcmeChallenge[] = [];
  cleaned: AcmeChallenge[] = [];
  constructor(private readonly answer: (c: AcmeChallenge) => string = (c) => c.keyAuthorization) {}
  async present(challenge: AcmeChallenge): Promise<void> {
    this.presented.push(challenge);
    site.published.set(challenge.token, this.answer(challenge));
  }
  async cleanup(challenge: AcmeChallenge): Promise<void> {
    this.cleaned.push(challenge);
    site.published.delete(challenge.token);
  }
}

let csrCounter = 0;
/** An EC P-256 key and DER CSR made by openssl with the given subjectAltName. */
async function opensslCsr(san: string): Promise<{ der: Uint8Array; keyPath: string }> {
  const n = csrCounter++;
  const res = await pebble.workspace.run(
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `leaf-${n}.key`,
    "-subj",
    "/CN=device",
    "-addext",
    `subjectAltName=${san}`,
    "-outform",
    "DER",
    "-out",
    `leaf-${n}.csr`,
  );
  if (res.code !== 0) throw new Error(res.stderr);
  return { der: new Uint8Array(await readFile(join(pebble.workspace.dir, `leaf-${n}.csr`))), keyPath: `leaf-${n}.key` };
}

function request(requestId: string, csr: Uint8Array): CertificateRequest {
  return { requestId, csr, profile: pivAuthProfile };
}

function adapter(
  responder: AcmeChallengeResponder,
  extra: Partial<ConstructorParameters<typeof AcmeCertificateAuthority>[0]> = {},
) {
  return new AcmeCertificateAuthority({
    id: "pebble",
    directoryUrl: pebble.directoryUrl,
    accountKey,
    contact: ["mailto:pki@example.org"],
    termsOfServiceAgreed: true,
    challengeResponder: responder,
    http: { ca: pebble.tlsCa, timeoutMs: 10_000 },
    waitMs: 15_000,
    defaultRetryAfterSeconds: 0.2,
    ...extra,
  });
}

async function opensslVerify(certificate: Uint8Array, chain: Uint8Array[]): Promise<string> {
  const pem = (der: Uint8Array) =>
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64")}\n-----END CERTIFICATE-----\n`;
  await pebble.workspace.write("root.pem", pebble.rootPem);
  await pebble.workspace.write("untrusted.pem", chain.map(pem).join(""));
  await pebble.workspace.write("leaf.pem", pem(certificate));
  const res = await pebble.workspace.run("verify", "-CAfile", "root.pem", "-untrusted", "untrusted.pem", "leaf.pem");
  return `${res.code} ${res.stdout}${res.stderr}`;
}

beforeAll(async () => {
  dns = await startAcmeDns();
  pebble = await startPebble({ dnsServer: dns.address });
  site = await startHttp01Site(pebble.httpPort);
}, 60_000);

afterAll(async () => {
  await site?.close();
  await pebble?.stop();
  await dns?.close();
});

describe("AcmeCertificateAuthority with pebble (RFC 8555)", () => {
  it("orders, answers http-01, finalizes and returns a chain openssl verifies against pebble's root", async () => {
    const responder = new Http01Responder();
    const ca = adapter(responder);
    const csr = await opensslCsr("IP:127.0.0.1");
    const result = await ca.submit(request("acme-issue-1", csr.der));
    expect(result.status).toBe("issued");
    if (result.status !== "issued") return;
    expect(result.caRequestId).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect(responder.presented).toHaveLength(1);
    expect(responder.presented[0]?.identifier).toEqual({ type: "ip", value: "127.0.0.1" });
    expect(responder.cleaned).toHaveLength(1);
    expect(site.published.size).toBe(0);
    expect(await opensslVerify(result.certificate, result.chain)).toMatch(/^0 leaf\.pem: OK/);
    expect(Buffer.from(result.chain[0] ?? []).equals(Buffer.from(pemBody(pebble.intermediatePem)))).toBe(true);

    const keyCheck = await pebble.workspace.run(
      "x509",
      "-inform",
      "DER",
      "-noout",
      "-text",
      "-in",
      await writeDer(result.certificate),
    );
    expect(keyCheck.stdout).toContain("IP Address:127.0.0.1");
    expect(await ca.chain()).toEqual(result.chain);
  });

  it("answers dns-01 for DNS names through the responder (TXT at _acme-challenge, RFC 8555 §8.4)", async () => {
    const presented: AcmeChallenge[] = [];
    const dns01: AcmeChallengeResponder = {
      types: ["dns-01"],
      present: async (c) => {
        presented.push(c);
        dns.txt.set(`_acme-challenge.${c.identifier.value}`, [c.dnsTxtValue]);
      },
      cleanup: async (c) => void dns.txt.delete(`_acme-challenge.${c.identifier.value}`),
    };
    const csr = await opensslCsr("DNS:device1.cardwright.test,DNS:device1-alt.cardwright.test");
    const result = await adapter(dns01).submit(request("acme-dns01", csr.der));
    expect(result.status).toBe("issued");
    // Pebble lists the authorizations in no fixed order.
    expect(presented.map((c) => c.identifier).sort((a, b) => a.value.localeCompare(b.value))).toEqual([
      { type: "dns", value: "device1-alt.cardwright.test" },
      { type: "dns", value: "device1.cardwright.test" },
    ]);
    expect(dns.queries).toContainEqual({ name: "_acme-challenge.device1.cardwright.test", type: 16 });
    expect(dns.txt.size).toBe(0);
    if (result.status !== "issued") return;
    expect(await opensslVerify(result.certificate, result.chain)).toMatch(/^0 leaf\.pem: OK/);
  });

  it("rejects a dns-01 answer the DNS does not carry", async () => {
    const silent: AcmeChallengeResponder = { types: ["dns-01"], present: async () => undefined };
    const result = await adapter(silent).submit(
      request("acme-dns01-missing", (await opensslCsr("DNS:device2.cardwright.test")).der),
    );
    expect(result).toMatchObject({ status: "rejected" });
    if (result.status !== "rejected") return;
    expect(result.reason).toBe("unauthorized: No TXT records found for DNS challenge");
  });

  it("answers http-01 for a DNS name resolved through the DNS", async () => {
    const result = await adapter(new Http01Responder()).submit(
      request("acme-http01-dns", (await opensslCsr("DNS:device3.cardwright.test")).der),
    );
    expect(result.status).toBe("issued");
    expect(dns.queries.some((q) => q.name === "device3.cardwright.test" && q.type === 1)).toBe(true);
  });

  it("is idempotent on the request id: a second submit, and a fresh adapter on the same ledger, return the same certificate", async () => {
    const ledger = new MemoryAcmeOrderLedger();
    const csr = await opensslCsr("IP:127.0.0.1");
    const one = adapter(new Http01Responder(), { ledger });
    const other = adapter(new Http01Responder(), { ledger });
    // The same account key finds the same account (RFC 8555 §7.3: newAccount answers the existing one).
    expect(await other.account()).toBe(await one.account());
    const first = await one.submit(request("acme-idem", csr.der));
    const again = await other.submit(request("acme-idem", csr.der));
    expect(first.status).toBe("issued");
    expect(again).toEqual(first);
  });

  it("answers pending with the order URL when issuance takes longer than waitMs, then poll finishes the same order", async () => {
    const ledger = new MemoryAcmeOrderLedger();
    const responder = new Http01Responder();
    const csr = await opensslCsr("IP:127.0.0.1");
    const quick = adapter(responder, { ledger, waitMs: 0 });
    const pending = await quick.submit(request("acme-pending", csr.der));
    expect(pending.status).toBe("pending");
    if (pending.status !== "pending") return;
    expect(pending.retryAfterSeconds).toBeGreaterThan(0);
    const resumed = adapter(responder, { ledger });
    const polled = await resumed.poll(pending.caRequestId);
    expect(polled.status).toBe("issued");
    expect(polled.caRequestId).toBe(pending.caRequestId);
    if (polled.status !== "issued") return;
    expect(parseCertificate(polled.certificate).serialHex).toMatch(/^[0-9a-f]+$/);
  });

  it("retries once with a fresh nonce after badNonce (RFC 8555 §6.5)", async () => {
    const ca = adapter(new Http01Responder());
    await ca.account();
    ca.injectNonce("c3RhbGUtbm9uY2U");
    const result = await ca.submit(request("acme-bad-nonce", (await opensslCsr("IP:127.0.0.1")).der));
    expect(result.status).toBe("issued");
  });

  it("rejects the request when validation fails (wrong key authorization served)", async () => {
    const ca = adapter(new Http01Responder(() => "not-the-key-authorization"));
    const result = await ca.submit(request("acme-wrong-answer", (await opensslCsr("IP:127.0.0.1")).der));
    expect(result.status).toBe("rejected");
    if (result.status !== "rejected") return;
    expect(result.caRequestId).toMatch(/^https:/);
    expect(result.reason).toMatch(/^(unauthorized|incorrectResponse): .*not-the-key-authorization/);
  });

  it("rejects an identifier the server refuses (rejectedIdentifier, pebble's domainBlocklist)", async () => {
    const ca = adapter(new Http01Responder());
    const result = await ca.submit(request("acme-blocked", (await opensslCsr("DNS:blocked.example")).der));
    expect(result).toMatchObject({ status: "rejected" });
    if (result.status !== "rejected") return;
    expect(result.caRequestId).toBeUndefined();
    expect(result.reason).toMatch(/^rejectedIdentifier: .*blocked\.example/);
  });

  it("rejects at finalize a CSR the server refuses (badCSR: the account's own key)", async () => {
    const keyPath = await pebble.workspace.write("account.pem", accountKey.export({ format: "pem", type: "pkcs8" }));
    const made = await pebble.workspace.run(
      "req",
      "-new",
      "-key",
      keyPath,
      "-subj",
      "/CN=device",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-outform",
      "DER",
      "-out",
      "account-key.csr",
    );
    expect(made.code, made.stderr).toBe(0);
    const csr = new Uint8Array(await readFile(join(pebble.workspace.dir, "account-key.csr")));
    const result = await adapter(new Http01Responder()).submit(request("acme-bad-csr", csr));
    expect(result).toMatchObject({ status: "rejected" });
    if (result.status !== "rejected") return;
    expect(result.caRequestId).toMatch(/^https:/);
    expect(result.reason).toMatch(/^badCSR/);
  });

  it("refuses a CSR without names and a CMC request before contacting the server", async () => {
    const ca = adapter(new Http01Responder(), { directoryUrl: `https://127.0.0.1:${await freePort()}/dir` });
    const noSan = await opensslCsr("URI:https://example.org/");
    await expect(ca.submit(request("acme-no-names", noSan.der))).rejects.toMatchObject({ code: "CA_INVALID_REQUEST" });
    await expect(
      ca.submit({ ...request("acme-cmc", noSan.der), cmc: new Uint8Array([0x30, 0]) }),
    ).rejects.toMatchObject({ code: "CA_UNSUPPORTED" });
  });

  it("refuses a certificate whose key is not the CSR's (CA_BAD_RESPONSE)", async () => {
    const ledger = new MemoryAcmeOrderLedger();
    const responder = new Http01Responder();
    const issued = await adapter(responder, { ledger }).submit(
      request("acme-key-a", (await opensslCsr("IP:127.0.0.1")).der),
    );
    expect(issued.status).toBe("issued");
    // A ledger that pairs that order with another key's CSR: the downloaded certificate does not match.
    const other = await opensslCsr("IP:127.0.0.1");
    const crossed = new MemoryAcmeOrderLedger();
    await crossed.recordOrder({
      requestId: "acme-key-b",
      orderUrl: issued.caRequestId ?? "",
      csrBase64: Buffer.from(other.der).toString("base64"),
    });
    const err = await adapter(responder, { ledger: crossed })
      .submit(request("acme-key-b", other.der))
      .catch((e: unknown) => e);
    expect(isCardwrightError(err, "CA_BAD_RESPONSE")).toBe(true);
  });

  it("renews with a new key as a new order (rekey) and keeps the old certificate apart", async () => {
    const ca = adapter(new Http01Responder());
    const first = await ca.submit(request("acme-renew-0", (await opensslCsr("IP:127.0.0.1")).der));
    if (first.status !== "issued") throw new Error("first issuance failed");
    const next = await opensslCsr("IP:127.0.0.1");
    const renewed = await ca.renew({
      ...request("acme-renew-1", next.der),
      previousCertificate: first.certificate,
      previousSerialHex: parseCertificate(first.certificate).serialHex,
      rekey: true,
    });
    expect(renewed.status).toBe("issued");
    if (renewed.status !== "issued") return;
    expect(parseCertificate(renewed.certificate).serialHex).not.toBe(parseCertificate(first.certificate).serialHex);
    expect(ca.renewal).toEqual({ sameKey: true, rekey: true });
  });

  it("revokes with the reason code, which pebble's status shows; twice is harmless", async () => {
    const ca = adapter(new Http01Responder());
    const issued = await ca.submit(request("acme-revoke", (await opensslCsr("IP:127.0.0.1")).der));
    if (issued.status !== "issued") throw new Error("issuance failed");
    const serial = parseCertificate(issued.certificate).serialHex;
    await ca.revoke(serial.toUpperCase(), "keyCompromise");
    const status = await pebble.manage(`/cert-status-by-serial/${serial}`);
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ Status: "Revoked", Reason: 1 });
    await ca.revoke(serial, "keyCompromise");
    expect(JSON.parse((await pebble.manage(`/cert-status-by-serial/${serial}`)).body)).toMatchObject({ Reason: 1 });
    await expect(ca.revoke("0badc0de", "superseded")).rejects.toMatchObject({ code: "CA_UNKNOWN_CERTIFICATE" });
    await expect(ca.suspend(serial)).rejects.toMatchObject({ code: "CA_UNSUPPORTED" });
  });

  it("answers CA_UNKNOWN_REQUEST for an order the server does not have", async () => {
    const ca = adapter(new Http01Responder());
    const origin = new URL(pebble.directoryUrl).origin;
    await expect(ca.poll(`${origin}/my-order/does-not-exist`)).rejects.toMatchObject({ code: "CA_UNKNOWN_REQUEST" });
    await expect(ca.poll("https://elsewhere.example/order/1")).rejects.toMatchObject({ code: "CA_UNKNOWN_REQUEST" });
  });

  it("maps a closed port and an untrusted TLS certificate to CA_UNAVAILABLE", async () => {
    const closed = adapter(new Http01Responder(), { directoryUrl: `https://127.0.0.1:${await freePort()}/dir` });
    await expect(closed.account()).rejects.toMatchObject({ code: "CA_UNAVAILABLE" });
    const untrusted = adapter(new Http01Responder(), { http: { timeoutMs: 5000 } });
    const err = await untrusted.account().catch((e: unknown) => e);
    expect(isCardwrightError(err, "CA_UNAVAILABLE")).toBe(true);
    expect(String((err as Error).message)).toMatch(/certificate|SELF_SIGNED|UNABLE_TO/i);
  });
});

function pemBody(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64"));
}

async function writeDer(der: Uint8Array): Promise<string> {
  return pebble.workspace.write(`cert-${csrCounter++}.der`, der);
}
