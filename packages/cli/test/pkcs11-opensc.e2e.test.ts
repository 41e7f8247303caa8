/**
 * OpenSC's PKCS#11 module on a virtual PIV card behind the real pcscd (vpcd): what a PKCS#11
 * application can do with a card cardwright issued over APDUs, and what OpenSC refuses.
 * OpenSC is driven through its own pkcs11-tool in a child process.
 *
 * Findings (OpenSC 0.23, Debian 12): login with the PIN, listing keys and certificates under
 * CKA_IDs 01 (9A) and 02 (9C), reading certificates and signing with the card's keys work. Key
 * generation and writing objects do not: the PIV token lists no CKM_RSA_PKCS_KEY_PAIR_GEN or
 * CKM_EC_KEY_PAIR_GEN, and C_CreateObject answers CKR_FUNCTION_NOT_SUPPORTED — OpenSC ships no PIV
 * pkcs15-init profile (no piv.profile in /usr/share/opensc) through which it could authenticate
 * with the management key; PIV key generation is only in piv-tool (PIV_EXT_AUTH_KEY). Issuing to
 * a PIV card therefore stays on the APDU path (PivDevice); a Pkcs11DeviceProvider over OpenSC
 * derives keyAlgorithms [] from that mechanism list.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type IssueResult, parseCertificate } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openssl } from "./support/openssl.js";
import { createPcscStack, type PcscStack } from "./support/pcsc-stack.js";
import { type Pcscd, startPcscd } from "./support/pcscd.js";
import { pkcs11Tool } from "./support/pkcs11-tool.js";
import { describeRun } from "./support/tools.js";

const OPENSC = "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so";

describe.sequential("OpenSC PKCS#11 on a virtual PIV card issued by cardwright", () => {
  let pcscd: Pcscd;
  let stack: PcscStack;
  let result: Extract<IssueResult, { status: "active" }>;
  const dir = mkdtempSync(join(tmpdir(), "cw-opensc-"));
  const p11 = (args: string[]) => pkcs11Tool(OPENSC, ["--slot-index", "0", ...args], process.env);

  beforeAll(async () => {
    pcscd = await startPcscd();
    stack = await createPcscStack(pcscd);
    const device = await stack.open();
    const r = await stack.cardwright.issueCard({ userId: "alice", device, actor: "operator-1" });
    await device.close();
    expect(r.status).toBe("active");
    result = r as typeof result;
  }, 320_000);
  afterAll(async () => {
    await stack?.close();
    await pcscd?.stop();
  });

  it("lists the issued keys and certificates under CKA_ID 01 (9A) and 02 (9C) after login", async () => {
    const run = await p11(["--login", "--pin", result.pin as string, "--list-objects"]);
    expect(run.status, describeRun(run)).toBe(0);
    expect(run.stdout).toMatch(/Private Key Object; EC[\s\S]*?ID:\s+01/);
    expect(run.stdout).toMatch(/Private Key Object; RSA[\s\S]*?ID:\s+02/);
    expect(run.stdout).toMatch(/Certificate for PIV Authentication[\s\S]*?CN=Alice Example/);
  });

  it("reads the 9A certificate cardwright wrote, byte for byte", async () => {
    const out = join(dir, "cert.der");
    const run = await p11(["--read-object", "--type", "cert", "--id", "01", "--output-file", out]);
    expect(run.status, describeRun(run)).toBe(0);
    const record = result.certificates.find((c) => c.slot === "9a");
    expect(readFileSync(out).toString("base64")).toBe(record?.certificate);
  });

  it("signs with the card's 9A key under the PIN; openssl verifies with the issued certificate", async () => {
    const data = join(dir, "data.bin");
    const sig = join(dir, "sig.der");
    writeFileSync(data, "signed through OpenSC's PKCS#11 module");
    const run = await p11([
      "--login",
      "--pin",
      result.pin as string,
      "--sign",
      "--id",
      "01",
      "--mechanism",
      "ECDSA-SHA256",
      "--signature-format",
      "openssl",
      "--input-file",
      data,
      "--output-file",
      sig,
    ]);
    expect(run.status, describeRun(run)).toBe(0);
    const record = result.certificates.find((c) => c.slot === "9a");
    const spki = parseCertificate(Uint8Array.from(Buffer.from(record?.certificate as string, "base64"))).spki;
    const pubPem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(spki).toString("base64")}\n-----END PUBLIC KEY-----\n`;
    const v = openssl(["dgst", "-sha256", "-verify", "pub.pem", "-signature", sig, data], { "pub.pem": pubPem });
    expect(v.output).toContain("Verified OK");
  });

  it("refuses to generate a key pair: OpenSC has no PIV pkcs15-init profile", async () => {
    const run = await p11([
      "--login",
      "--pin",
      result.pin as string,
      "--keypairgen",
      "--key-type",
      "EC:prime256v1",
      "--id",
      "03",
    ]);
    expect(run.status, describeRun(run)).not.toBe(0);
    // The module lists no CKM_EC_KEY_PAIR_GEN (0x1040) for the PIV token, so pkcs11-tool stops there.
    expect(run.stderr).toContain("Generate EC key mechanism 1040 not supported");
  });

  it("refuses to write a certificate object", async () => {
    const record = result.certificates.find((c) => c.slot === "9a");
    const file = join(dir, "write.der");
    writeFileSync(file, Buffer.from(record?.certificate as string, "base64"));
    const run = await p11([
      "--login",
      "--pin",
      result.pin as string,
      "--write-object",
      file,
      "--type",
      "cert",
      "--id",
      "03",
    ]);
    expect(run.status, describeRun(run)).not.toBe(0);
    expect(run.stderr).toContain("C_CreateObject failed: rv = CKR_FUNCTION_NOT_SUPPORTED");
  });
});
