/**
 * Interop: after cardwright issues a card through pcscd, tools nobody here wrote — OpenSC
 * (pkcs11-tool, pkcs15-tool), yubico-piv-tool and ykman — read and use what it wrote; and
 * cardwright reads a card personalised by yubico-piv-tool. Where a tool refuses the virtual
 * card, the fix belongs in the card (packages/simulator), never in these expectations.
 */
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type IssueResult, parseCertificate } from "@cardwright/core";
import { PcscDeviceProvider, type PivDevice } from "@cardwright/pcsc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cardPresent, createPcscStack, type PcscStack } from "../support/pcsc-stack.js";
import { type Pcscd, showApdusOnFailure, startPcscd } from "../support/pcscd.js";
import { RemoteVpcdCard } from "../support/remote-vpcd-card.js";
import { describeRun, OPENSC_PKCS11, type ToolResult, tool } from "../support/tools.js";

const b64 = (s: string) => Uint8Array.from(Buffer.from(s, "base64"));

let pcscd: Pcscd;
beforeAll(async () => {
  pcscd = await startPcscd();
}, 320_000);
afterAll(async () => pcscd?.stop());

function expectOk(result: ToolResult): void {
  expect(result.status, describeRun(result)).toBe(0);
}

describe.sequential("tools read a card cardwright issued through pcscd", () => {
  let stack: PcscStack;
  let result: Extract<IssueResult, { status: "active" }>;
  let reader: string;

  beforeAll(async () => {
    stack = await createPcscStack(pcscd);
    reader = stack.reader;
    const device: PivDevice = await stack.open();
    try {
      const r = await stack.cardwright.issueCard({ userId: "alice", device, actor: "operator-1" });
      expect(r.status).toBe("active");
      result = r as typeof result;
    } finally {
      // Release the exclusive connection: the tools need the card.
      await device.close();
    }
  }, 120_000);
  afterAll(async () => stack?.close());

  const subjectOf = (slot: string) => {
    const record = result.certificates.find((c) => c.slot === slot)!;
    return parseCertificate(b64(record.certificate!));
  };

  it("pkcs11-tool --list-objects lists the certificates and keys cardwright wrote", async () => {
    showApdusOnFailure(pcscd);
    const run = await tool("pkcs11-tool", ["--module", OPENSC_PKCS11, "--slot-index", "0", "--list-objects"]);
    expectOk(run);
    expect(run.stdout).toMatch(/Certificate Object; type = X\.509 cert\s+label:\s+Certificate for PIV Authentication/);
    expect(run.stdout).toMatch(/Certificate for Digital Signature/);
    expect(run.stdout).toMatch(/Public Key Object; EC\s+EC_POINT 256 bits/);
    expect(run.stdout).toMatch(/Public Key Object; RSA 2048 bits/);
    expect(run.stdout).toContain("Alice Example");
  });

  it("pkcs15-tool --list-certificates shows both certificates", async () => {
    showApdusOnFailure(pcscd);
    const run = await tool("pkcs15-tool", ["--reader", reader, "--list-certificates"]);
    expectOk(run);
    expect(run.stdout).toContain("Certificate for PIV Authentication");
    expect(run.stdout).toContain("Certificate for Digital Signature");
    expect(run.stdout).toMatch(/ID\s+: 01/);
    expect(run.stdout).toMatch(/ID\s+: 02/);
  });

  it("yubico-piv-tool -a status shows the slots and certificates", async () => {
    showApdusOnFailure(pcscd);
    const run = await tool("yubico-piv-tool", ["--reader", reader, "-a", "status"]);
    expectOk(run);
    expect(run.stdout).toContain("Version:\t5.7.1");
    expect(run.stdout).toMatch(/Slot 9a:/);
    expect(run.stdout).toMatch(/Slot 9c:/);
    expect(run.stdout).toContain(`Serial Number:\t${stack.card.serial}`);
    expect(run.stdout).toMatch(/Subject DN:\s+.*CN=Alice Example/);
    expect(subjectOf("9a").subject).toContain("Alice");
  });

  it("ykman piv info works against the card answering as a YubiKey 5", async () => {
    showApdusOnFailure(pcscd);
    const run = await tool("ykman", ["--reader", "Virtual PCD 00 00", "piv", "info"]);
    expectOk(run);
    expect(run.stdout).toMatch(/PIV version:\s+5\.7\.1/);
    expect(run.stdout).toMatch(/Slot 9A/i);
    expect(run.stdout).toMatch(/Slot 9C/i);
  });

  it("a signature made with the user PIN through OpenSC's PKCS#11 verifies with the certificate cardwright wrote", async () => {
    showApdusOnFailure(pcscd);
    const dir = mkdtempSync(join(tmpdir(), "cw-p11-"));
    const message = join(dir, "message.bin");
    const signature = join(dir, "signature.bin");
    const data = Buffer.from(`signed through OpenSC at ${new Date().toISOString()}`);
    writeFileSync(message, data);
    const run = await tool("pkcs11-tool", [
      "--module",
      OPENSC_PKCS11,
      "--slot-index",
      "0",
      "--login",
      "--pin",
      result.pin!,
      "--sign",
      "--id",
      "01",
      "--mechanism",
      "ECDSA-SHA256",
      "--signature-format",
      "openssl",
      "--input-file",
      message,
      "--output-file",
      signature,
    ]);
    expectOk(run);
    const key = createPublicKey({ key: Buffer.from(subjectOf("9a").spki), format: "der", type: "spki" });
    expect(verify("sha256", data, key, readFileSync(signature))).toBe(true);
    // A wrong message does not verify: the check can fail.
    expect(verify("sha256", Buffer.concat([data, Buffer.of(0)]), key, readFileSync(signature))).toBe(false);
  });
});

describe.sequential("cardwright reads a card personalised by yubico-piv-tool", () => {
  it("lists the certificate of the key yubico-piv-tool generated and imported, after its PIN change", async () => {
    showApdusOnFailure(pcscd);
    // yubico-piv-tool 2.2 (Debian bookworm) knows only 3DES management keys; YubiKeys ship the
    // 3DES default key before firmware 5.7, so the card is a 5.4.3, as a real 5.7 would refuse too.
    const bridge = await RemoteVpcdCard.start(pcscd.ports[1], { firmware: "5.4.3" });
    await bridge.insert();
    const dir = mkdtempSync(join(tmpdir(), "cw-ypt-"));
    const stack = { provider: new PcscDeviceProvider() };
    try {
      await cardPresent(stack.provider, pcscd.readers[1]);
      const r = ["--reader", pcscd.readers[1]];
      const mgm = ["--key=010203040506070801020304050607080102030405060708"];
      const pub = join(dir, "pub.pem");
      const cert = join(dir, "cert.pem");
      expectOk(await tool("yubico-piv-tool", [...r, ...mgm, "-a", "generate", "-s", "9a", "-A", "ECCP256", "-o", pub]));
      // yubico-piv-tool 2.2 with OpenSSL 3 fails selfsign-certificate ("Failed signing certificate")
      // and request-certificate ("Failed signing request.") on the host right after the VERIFY,
      // with no signature APDU sent (pcscd's log), so OpenSSL certifies the key it generated instead.
      const caKey = join(dir, "ca.key");
      expectOk(
        await tool("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", caKey]),
      );
      expectOk(
        await tool("openssl", [
          "x509",
          "-new",
          "-subj",
          "/CN=ypt-user",
          "-force_pubkey",
          pub,
          "-key",
          caKey,
          "-days",
          "30",
          "-out",
          cert,
        ]),
      );
      expectOk(await tool("yubico-piv-tool", [...r, ...mgm, "-a", "import-certificate", "-s", "9a", "-i", cert]));
      expectOk(await tool("yubico-piv-tool", [...r, "-a", "change-pin", "-P", "123456", "-N", "24682468"]));

      const device = await stack.provider.open({ reader: pcscd.readers[1] });
      try {
        const objects = await device.listObjects();
        const slot9a = objects.find((o) => o.slot === "9a");
        expect(slot9a?.certificate).toBeDefined();
        const parsed = parseCertificate(slot9a!.certificate!);
        expect(parsed.subject).toContain("ypt-user");
        const pem = readFileSync(cert, "utf8").replace(/-----[^-]+-----|\s/g, "");
        expect(Buffer.from(slot9a!.certificate!).toString("base64")).toBe(pem);
        expect(slot9a?.publicKey?.algorithm).toBe("ECCP256");
        // The certificate certifies the key yubico-piv-tool generated on the card.
        expect(Buffer.from(parsed.spki).equals(Buffer.from(slot9a!.publicKey!.spki))).toBe(true);
        // The PIN yubico-piv-tool set works through cardwright; the old one no longer does.
        await expect(device.verifyPin("123456")).rejects.toMatchObject({ code: "PIV_WRONG_PIN" });
        await device.verifyPin("24682468");
      } finally {
        await device.close();
      }
    } finally {
      await bridge.stop();
      await cardPresent(stack.provider, pcscd.readers[1], false);
    }
  });
});
