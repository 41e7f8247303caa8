/**
 * Issuing on behalf (RFC 5272 CMC Full PKI Request signed by an enrollment agent) in the test
 * servers and tests: an agent identity made with openssl, and the server side's check of the
 * agent's CMS signature (RFC 5652 §5.6) before the PKCS#10 is taken out of the PKIData.
 */
import { createPrivateKey, sign } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CmcAgentSigner, readCmcFullPkiRequest } from "@cardwright/core";
import type { OpensslWorkspace } from "./openssl.js";

/** A self-signed P-256 enrollment agent: its certificate and a signer over its private key. */
export interface EnrollmentAgent {
  /** DER. */
  certificate: Uint8Array;
  signer: CmcAgentSigner;
}

/**
 * Make a self-signed P-256 enrollment agent with `openssl req -x509` (valid 2 days) in `ws`.
 * @throws Error when openssl fails, with its stderr.
 */
export async function makeEnrollmentAgent(ws: OpensslWorkspace, commonName: string): Promise<EnrollmentAgent> {
  const made = await ws.run(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "agent.key",
    "-out",
    "agent.der",
    "-outform",
    "DER",
    "-subj",
    `/CN=${commonName}`,
    "-days",
    "2",
  );
  if (made.code !== 0) throw new Error(`openssl req for the enrollment agent failed: ${made.stderr}`);
  const agentKey = createPrivateKey(await readFile(join(ws.dir, "agent.key")));
  return {
    certificate: new Uint8Array(await readFile(join(ws.dir, "agent.der"))),
    signer: async (data, hash) =>
      new Uint8Array(sign(hash.replace("-", "").toLowerCase(), data, { key: agentKey, dsaEncoding: "der" })),
  };
}

/**
 * The PKCS#10 inside a CMC Full PKI Request whose CMS signature verifies with openssl (the
 * signer's certificate is not chained: `-noverify`); undefined when the signature is broken.
 */
export async function verifiedCmcCsr(
  ws: OpensslWorkspace,
  cmc: Uint8Array,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  await ws.write("cmc.der", cmc);
  const verified = await ws.run("cms", "-verify", "-inform", "DER", "-in", "cmc.der", "-noverify", "-out", "/dev/null");
  if (verified.code !== 0) return undefined;
  return new Uint8Array(readCmcFullPkiRequest(cmc).requests[0]?.csr ?? []);
}
