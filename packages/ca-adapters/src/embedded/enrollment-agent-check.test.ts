import { spawnSync } from "node:child_process";
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCmcFullPkiRequest, type HashAlgorithm, isCardwrightError } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opensslCsr } from "../../test/support/openssl-csr.js";
import { CERTIFICATE_REQUEST_AGENT_EKU, checkOnBehalfRequest } from "./enrollment-agent-check.js";

// Certificates made by the openssl command line, so the checks run against what others produce.
let dir: string;
function openssl(...args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
}

interface Made {
  der: Uint8Array;
  key: KeyObject;
}

function make(name: string, issuer: string | undefined, ext: string[]): Made {
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
  if (issuer === undefined) {
    openssl(
      "req",
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-subj",
      `/CN=${name}`,
      "-days",
      "30",
      ...ext.flatMap((e) => ["-addext", e]),
      "-outform",
      "DER",
      "-out",
      `${name}.der`,
    );
    openssl("x509", "-inform", "DER", "-in", `${name}.der`, "-out", `${name}.pem`);
  } else {
    writeFileSync(join(dir, `${name}.ext`), `${ext.join("\n")}\n`);
    openssl("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.pem`,
      "-CAkey",
      `${issuer}.key`,
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      `${name}.ext`,
      "-outform",
      "DER",
      "-out",
      `${name}.der`,
    );
  }
  return {
    der: new Uint8Array(readFileSync(join(dir, `${name}.der`))),
    key: createPrivateKey(readFileSync(join(dir, `${name}.key`))),
  };
}

const CA_EXT = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"];
const EE_EXT = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"];
let issuer: Made;
let agent: Made;
let noEku: Made;
let rogueAgent: Made;
let csr: Uint8Array;
let otherCsr: Uint8Array;

function cmcBy(certificate: Uint8Array, key: KeyObject, request = csr): Promise<Uint8Array> {
  return buildCmcFullPkiRequest({
    csr: request,
    agentCertificate: certificate,
    agentSigner: async (data: Uint8Array, hash: HashAlgorithm) =>
      new Uint8Array(sign(hash.replace("-", "").toLowerCase(), data, { key, dsaEncoding: "der" })),
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cw-agent-check-"));
  issuer = make("agent-issuer", undefined, CA_EXT);
  agent = make("agent", "agent-issuer", [...EE_EXT, `extendedKeyUsage=${CERTIFICATE_REQUEST_AGENT_EKU}`]);
  noEku = make("no-eku", "agent-issuer", [...EE_EXT, "extendedKeyUsage=clientAuth"]);
  make("rogue-issuer", undefined, CA_EXT);
  rogueAgent = make("rogue-agent", "rogue-issuer", [...EE_EXT, `extendedKeyUsage=${CERTIFICATE_REQUEST_AGENT_EKU}`]);
  csr = opensslCsr({ subject: "/CN=user" });
  otherCsr = opensslCsr({ subject: "/CN=other" });
});
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const now = () => new Date();

describe("checkOnBehalfRequest (RFC 5272 request signed by an enrollment agent)", () => {
  it("accepts an agent certified by a trusted issuer with the Certificate Request Agent EKU", async () => {
    const check = await checkOnBehalfRequest(await cmcBy(agent.der, agent.key), csr, [issuer.der], now(), "r1");
    expect(check).toEqual({ agentSubject: "CN=agent" });
  });

  it("rejects agents the CA may not trust: other issuer, no EKU, a CA certificate, expired, no issuer configured", async () => {
    const violation = async (der: Uint8Array, key: KeyObject, issuers: Uint8Array[], at = now()) =>
      (await checkOnBehalfRequest(await cmcBy(der, key), csr, issuers, at, "r")).violation;
    expect(await violation(rogueAgent.der, rogueAgent.key, [issuer.der])).toMatch(/not certified by a trusted/);
    expect(await violation(noEku.der, noEku.key, [issuer.der])).toMatch(/lacks the Certificate Request Agent EKU/);
    expect(await violation(issuer.der, issuer.key, [issuer.der])).toMatch(/is a CA certificate/);
    expect(await violation(agent.der, agent.key, [issuer.der], new Date(Date.now() + 90 * 86_400_000))).toMatch(
      /is not valid now/,
    );
    expect(await violation(agent.der, agent.key, [])).toMatch(/trusts no enrollment-agent issuer/);
  });

  it("throws CA_INVALID_REQUEST for a forged signature, a different PKCS#10, or bytes that are not CMC", async () => {
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        if (isCardwrightError(err)) return err.code;
        throw err;
      }
      return "none";
    };
    expect(
      await code(checkOnBehalfRequest(await cmcBy(agent.der, rogueAgent.key), csr, [issuer.der], now(), "r")),
    ).toBe("CA_INVALID_REQUEST");
    expect(
      await code(checkOnBehalfRequest(await cmcBy(agent.der, agent.key, otherCsr), csr, [issuer.der], now(), "r")),
    ).toBe("CA_INVALID_REQUEST");
    expect(await code(checkOnBehalfRequest(csr, csr, [issuer.der], now(), "r"))).toBe("CA_INVALID_REQUEST");
  });
});
