import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pkijs from "pkijs";
import { afterAll, describe, expect, it } from "vitest";
import { ScriptedCa } from "../../test/support/scripted-ca.js";
import type { KeyAlgorithm } from "../ports/device.js";
import { SoftwareKeyDevice } from "../testing/software-key-device.js";
import { parseCertificate, spkiEquals } from "./certificate.js";
import { buildCsr } from "./csr.js";

const dir = mkdtempSync(join(tmpdir(), "cardwright-csr-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[], der: Uint8Array): string {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.der`);
  writeFileSync(file, der);
  // openssl req -verify reports on stderr and exits 0 even on failure: read both streams.
  const r = spawnSync("openssl", [...args, "-in", file, "-inform", "DER"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}

async function deviceWithKey(algorithm: KeyAlgorithm, slot = "9a") {
  const device = new SoftwareKeyDevice({ serial: "1" });
  const factory = await device.factoryCredentials();
  await device.authenticateAdmin(factory.admin);
  const publicKey = await device.generateKeyPair(slot, algorithm);
  await device.verifyPin(factory.pin);
  return { device, publicKey };
}

describe("buildCsr (RFC 2986), signed on the device", () => {
  it.each<[KeyAlgorithm, string]>([
    ["ECCP256", "ecdsa-with-SHA256"],
    ["ECCP384", "ecdsa-with-SHA384"],
    ["RSA2048", "sha256WithRSAEncryption"],
  ])("%s: openssl verifies the signature and reads subject, SAN, key usage and EKU", async (alg, sigName) => {
    const { device, publicKey } = await deviceWithKey(alg);
    const csr = await buildCsr(
      {
        subject: "CN=Lee\\, Ann,OU=R&D,O=Example,C=FR",
        publicKey,
        slot: "9a",
        san: { upn: "ann@example.com", email: "ann@example.com" },
        keyUsage: ["digitalSignature", "nonRepudiation"],
        extendedKeyUsage: ["clientAuth", "smartcardLogon"],
      },
      device,
    );
    const out = openssl(["req", "-verify", "-noout", "-text"], csr);
    expect(out).toContain("self-signature verify OK");
    expect(out).toContain(`Signature Algorithm: ${sigName}`);
    // RDNSequence order is the reverse of the RFC 4514 string.
    expect(out).toMatch(/Subject: C\s*=\s*FR, O\s*=\s*Example, OU\s*=\s*R&D, CN\s*=\s*"?Lee\\?, Ann"?/);
    expect(out).toMatch(/othername: (UPN|1\.3\.6\.1\.4\.1\.311\.20\.2\.3)::?ann@example.com/i);
    expect(out).toContain("email:ann@example.com");
    expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation/);
    expect(out).toMatch(/TLS Web Client Authentication, Microsoft Smartcard Login/);
    expect(device.calls.filter((c) => c === "sign")).toHaveLength(1);
  });

  it("is refused by openssl when the signature is not over the request", async () => {
    const { device, publicKey } = await deviceWithKey("ECCP256");
    const other = await deviceWithKey("ECCP256");
    // Signed by another device's key: the signature cannot match the public key inside.
    const csr = await buildCsr({ subject: "CN=x", publicKey, slot: "9a" }, other.device);
    const out = openssl(["req", "-verify", "-noout"], csr);
    expect(out).toContain("verify failure");
    expect(out).not.toContain("verify OK");
    expect(device.calls).not.toContain("sign");
  });

  it("needs the PIN verified on the device", async () => {
    const device = new SoftwareKeyDevice();
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    const publicKey = await device.generateKeyPair("9c", "ECCP256");
    await expect(buildCsr({ subject: "CN=x", publicKey, slot: "9c" }, device)).rejects.toMatchObject({
      code: "PIV_SECURITY_STATUS",
    });
  });
});

describe("parseCertificate and spkiEquals", () => {
  it("reads serial, names, validity and the key of an issued certificate", async () => {
    const { device, publicKey } = await deviceWithKey("ECCP256");
    const csr = await buildCsr({ subject: "CN=Ann,O=Example", publicKey, slot: "9a" }, device);
    const ca = new ScriptedCa();
    const result = await ca.submit({
      requestId: "r1",
      csr,
      profile: { templateId: "t", keyUsage: [], extendedKeyUsage: [], validityDays: 30 },
    });
    if (result.status !== "issued") throw new Error("expected issued");
    const summary = parseCertificate(result.certificate);
    expect(summary.subject).toBe("CN=Ann,O=Example");
    expect(summary.issuer).toBe("CN=Scripted CA ca");
    expect(summary.serialHex).toBe("1000");
    expect(Date.parse(summary.notAfter) - Date.parse(summary.notBefore)).toBeGreaterThan(29 * 86_400_000);
    expect(spkiEquals(summary.spki, publicKey.spki)).toBe(true);
    const other = await deviceWithKey("ECCP256");
    expect(spkiEquals(summary.spki, other.publicKey.spki)).toBe(false);
    expect(pkijs.Certificate.fromBER(new Uint8Array(result.certificate)).serialNumber.valueBlock.valueDec).toBe(0x1000);
    expect(() => parseCertificate(new Uint8Array([1, 2, 3]))).toThrow(/not a DER X.509 certificate/);
  });
});
