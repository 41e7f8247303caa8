import { execFile } from "node:child_process";
import { createPrivateKey, sign } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCardwrightError } from "../errors.js";
import type { HashAlgorithm } from "../ports/device.js";
import {
  buildCmcFullPkiRequest,
  type CmcAgentSigner,
  ID_CCT_PKIDATA,
  readCmcFullPkiRequest,
  readCmcResponse,
} from "./cmc.js";

// Cross-checked with the openssl command line: `openssl cms -verify` must accept what we sign.
function openssl(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("openssl", args, { cwd, encoding: "utf8" }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

let dir: string;
const agents: Record<"ec" | "rsa", { certificate: Uint8Array; signer: CmcAgentSigner }> = {} as never;
let csr: Uint8Array;

async function makeAgent(kind: "ec" | "rsa"): Promise<void> {
  const keyArgs = kind === "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"];
  const made = await openssl(
    dir,
    "req",
    "-x509",
    ...keyArgs,
    "-nodes",
    "-keyout",
    `${kind}-agent.key`,
    "-out",
    `${kind}-agent.der`,
    "-outform",
    "DER",
    "-subj",
    `/CN=Enrollment Agent ${kind}`,
    "-days",
    "2",
    "-addext",
    "extendedKeyUsage=1.3.6.1.4.1.311.20.2.1",
  );
  expect(made.code, made.stderr).toBe(0);
  const key = createPrivateKey(await readFile(join(dir, `${kind}-agent.key`)));
  agents[kind] = {
    certificate: new Uint8Array(await readFile(join(dir, `${kind}-agent.der`))),
    // Stands in for a card: the key signs through the callback only, ECDSA signatures as DER.
    signer: async (data: Uint8Array, hash: HashAlgorithm) =>
      new Uint8Array(sign(hash.replace("-", "").toLowerCase(), data, { key, dsaEncoding: "der" })),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cardwright-cmc-"));
  await makeAgent("ec");
  await makeAgent("rsa");
  const req = await openssl(
    dir,
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "user.key",
    "-subj",
    "/CN=Alice Example/O=Example",
    "-outform",
    "DER",
    "-out",
    "user.csr",
  );
  expect(req.code, req.stderr).toBe(0);
  csr = new Uint8Array(await readFile(join(dir, "user.csr")));
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The tcr [0] request's CertificationRequest DER inside a PKIData, walked with asn1js. */
function pkcs10InPkiData(pkiData: Uint8Array): Uint8Array {
  const parsed = asn1js.fromBER(pkiData);
  const reqSequence = (parsed.result as asn1js.Sequence).valueBlock.value[1] as asn1js.Sequence;
  const tcr = reqSequence.valueBlock.value[0] as asn1js.Constructed;
  expect(tcr.idBlock.tagClass).toBe(3);
  expect(tcr.idBlock.tagNumber).toBe(0);
  return new Uint8Array((tcr.valueBlock.value[1] as asn1js.Sequence).toBER(false));
}

describe("buildCmcFullPkiRequest (RFC 5272 §3.2)", () => {
  for (const [kind, hash] of [
    ["ec", "SHA-256"],
    ["ec", "SHA-384"],
    ["rsa", "SHA-256"],
  ] as const) {
    it(`is accepted by openssl cms -verify with the ${kind} agent certificate as trust anchor (${hash})`, async () => {
      const agent = agents[kind];
      const cmc = await buildCmcFullPkiRequest({
        csr,
        agentCertificate: agent.certificate,
        agentSigner: agent.signer,
        hash,
      });
      await writeFile(join(dir, "req.cmc"), cmc);
      await writeFile(
        join(dir, "agent.pem"),
        `-----BEGIN CERTIFICATE-----\n${Buffer.from(agent.certificate).toString("base64")}\n-----END CERTIFICATE-----\n`,
      );
      const verified = await openssl(
        dir,
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "req.cmc",
        "-CAfile",
        "agent.pem",
        "-purpose",
        "any",
        "-out",
        "pkidata.der",
      );
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stderr).toContain("Verification successful");
      const pkiData = new Uint8Array(await readFile(join(dir, "pkidata.der")));
      expect(Buffer.from(pkcs10InPkiData(pkiData)).equals(Buffer.from(csr))).toBe(true);

      const printed = await openssl(dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "req.cmc");
      expect(printed.stdout).toContain("id-cct-PKIData");
    });
  }

  it("is refused by openssl cms -verify when one byte of the signed content changes", async () => {
    const cmc = await buildCmcFullPkiRequest({
      csr,
      agentCertificate: agents.ec.certificate,
      agentSigner: agents.ec.signer,
    });
    const at = Buffer.from(cmc).indexOf(Buffer.from("Alice Example"));
    expect(at).toBeGreaterThan(0);
    const tampered = cmc.slice();
    tampered[at] = (tampered[at] as number) ^ 0x20;
    await writeFile(join(dir, "tampered.cmc"), tampered);
    const verified = await openssl(dir, "cms", "-verify", "-inform", "DER", "-in", "tampered.cmc", "-noverify");
    expect(verified.code).not.toBe(0);
  });

  it("parses back with pkijs: the same PKCS#10, body part id and signer certificate", async () => {
    const cmc = await buildCmcFullPkiRequest({
      csr,
      agentCertificate: agents.rsa.certificate,
      agentSigner: agents.rsa.signer,
      bodyPartId: 7,
    });
    const read = readCmcFullPkiRequest(cmc);
    expect(read.requests).toHaveLength(1);
    expect(read.requests[0]?.bodyPartId).toBe(7);
    expect(Buffer.from(read.requests[0]?.csr ?? []).equals(Buffer.from(csr))).toBe(true);
    expect(Buffer.from(read.signerCertificate).equals(Buffer.from(agents.rsa.certificate))).toBe(true);
    expect(ID_CCT_PKIDATA).toBe("1.3.6.1.5.5.7.12.2");
  });

  it("refuses a CSR that is not DER and a plain CMS that is not a PKIData", async () => {
    const bad = await buildCmcFullPkiRequest({
      csr: new Uint8Array([1, 2, 3]),
      agentCertificate: agents.ec.certificate,
      agentSigner: agents.ec.signer,
    }).catch((err: unknown) => err);
    expect(isCardwrightError(bad, "CA_INVALID_REQUEST")).toBe(true);

    const data = await openssl(
      dir,
      "cms",
      "-sign",
      "-in",
      "user.csr",
      "-signer",
      "ec-agent.der",
      "-inkey",
      "ec-agent.key",
      "-outform",
      "DER",
      "-out",
      "plain.p7",
      "-nodetach",
      "-binary",
    );
    expect(data.code, data.stderr).toBe(0);
    const plain = new Uint8Array(await readFile(join(dir, "plain.p7")));
    expect(() => readCmcFullPkiRequest(plain)).toThrow(/not id-cct-PKIData/);
  });

  it("refuses an agent certificate that is not a certificate, before signing", async () => {
    let signed = false;
    const err = await buildCmcFullPkiRequest({
      csr,
      agentCertificate: csr,
      agentSigner: async () => {
        signed = true;
        return new Uint8Array();
      },
    }).catch((e: unknown) => e);
    expect(isCardwrightError(err, "CONFIG_INVALID")).toBe(true);
    expect(signed).toBe(false);
  });
});

describe("readCmcResponse (RFC 5272 §3.2.2, §4)", () => {
  it("reads a Simple PKI Response (certs-only, made by openssl crl2pkcs7)", async () => {
    await writeFile(
      join(dir, "simple-agent.pem"),
      `-----BEGIN CERTIFICATE-----\n${Buffer.from(agents.ec.certificate).toString("base64")}\n-----END CERTIFICATE-----\n`,
    );
    const made = await openssl(
      dir,
      "crl2pkcs7",
      "-nocrl",
      "-certfile",
      "simple-agent.pem",
      "-outform",
      "DER",
      "-out",
      "simple.p7",
    );
    expect(made.code, made.stderr).toBe(0);
    const response = readCmcResponse(new Uint8Array(await readFile(join(dir, "simple.p7"))));
    expect(response.status).toBeUndefined();
    expect(response.certificates).toHaveLength(1);
  });

  it("reads the CMCStatusInfoV2 of a Full PKI Response signed by openssl cms", async () => {
    const statusInfo = new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 3 }),
        new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 })] }),
        new asn1js.Utf8String({ value: "held for an officer" }),
      ],
    });
    const pkiResponse = new asn1js.Sequence({
      value: [
        new asn1js.Sequence({
          value: [
            new asn1js.Sequence({
              value: [
                new asn1js.Integer({ value: 1 }),
                new asn1js.ObjectIdentifier({ value: "1.3.6.1.5.5.7.7.25" }),
                new asn1js.Set({ value: [statusInfo] }),
              ],
            }),
          ],
        }),
        new asn1js.Sequence({ value: [] }),
        new asn1js.Sequence({ value: [] }),
      ],
    });
    await writeFile(join(dir, "pkiresponse.der"), new Uint8Array(pkiResponse.toBER(false)));
    const signed = await openssl(
      dir,
      "cms",
      "-sign",
      "-binary",
      "-nodetach",
      "-in",
      "pkiresponse.der",
      "-econtent_type",
      "1.3.6.1.5.5.7.12.3",
      "-signer",
      "ec-agent.der",
      "-inkey",
      "ec-agent.key",
      "-outform",
      "DER",
      "-out",
      "full.p7",
    );
    expect(signed.code, signed.stderr).toBe(0);
    const response = readCmcResponse(new Uint8Array(await readFile(join(dir, "full.p7"))));
    expect(response.status).toEqual({ status: "pending", statusString: "held for an officer" });
    expect(response.certificates).toHaveLength(1);
    expect(() => readCmcResponse(csr)).toThrow(/not a CMC response/);
  });
});
