/**
 * `Pkcs11Device` against a real SoftHSM2 token (private directory), cross-checked with OpenSSL
 * and OpenSC's pkcs11-tool — tools we did not write.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCsr, CardwrightError, type KeyAlgorithm } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireModule, type Pkcs11Device, Pkcs11DeviceProvider, padLabel, releaseModule } from "../src/index.js";
import { createSoftHsm, type SoftHsm } from "../src/testing/index.js";

const NEW_SO_PIN = "so-pin-0123456789";

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

/** openssl signs a CSR the token made into a certificate: proof the CSR's signature is right. */
function certifyWithOpenssl(csr: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "cw-p11-ca-"));
  writeFileSync(join(dir, "csr.pem"), pem("CERTIFICATE REQUEST", csr));
  const sh = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  sh(["req", "-verify", "-noout", "-in", "csr.pem"]);
  sh(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key"].concat([
      "-subj",
      "/CN=Test CA",
      "-days",
      "2",
      "-out",
      "ca.pem",
    ]),
  );
  sh(
    ["x509", "-req", "-in", "csr.pem", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "4242", "-days", "1"].concat(
      ["-outform", "DER", "-out", "cert.der"],
    ),
  );
  return new Uint8Array(readFileSync(join(dir, "cert.der")));
}

function pkcs11Tool(softhsm: SoftHsm, args: string[]): string {
  const r = spawnSync("pkcs11-tool", ["--module", softhsm.module, ...args], { env: softhsm.env, encoding: "utf8" });
  if (r.error) throw r.error;
  return `${r.stdout}${r.stderr}`;
}

describe("Pkcs11Device on SoftHSM2", () => {
  let softhsm: SoftHsm;
  let provider: Pkcs11DeviceProvider;
  let device: Pkcs11Device;

  beforeAll(async () => {
    softhsm = await createSoftHsm({ labels: ["cw-one", "cw-two"] });
    provider = new Pkcs11DeviceProvider({
      module: softhsm.module,
      initialSoPin: softhsm.soPin,
      initialUserPin: softhsm.userPin,
    });
    device = await provider.open({ label: "cw-one" });
  });
  afterAll(async () => {
    await device?.close();
    await provider?.close();
    await softhsm?.close();
  });

  it("lists initialised tokens with serial, model and label, and skips the free slot", async () => {
    const list = await provider.list();
    expect(list.map((d) => d.reader).sort()).toEqual(["cw-one", "cw-two"]);
    const one = list.find((d) => d.reader === "cw-one");
    expect(one).toMatchObject({
      serial: softhsm.tokens[0]?.serial,
      type: "pkcs11",
      model: "SoftHSM project SoftHSM v2",
    });
    expect(device.identity.serial).toBe(softhsm.tokens[0]?.serial);
  });

  it("opens by serial too, and refuses an unknown token with DEVICE_NOT_FOUND", async () => {
    const two = await provider.open({ serial: softhsm.tokens[1]?.serial as string });
    expect(two.identity.reader).toBe("cw-two");
    await two.close();
    await expect(provider.open({ label: "nope" })).rejects.toMatchObject({ code: "DEVICE_NOT_FOUND" });
  });

  it("derives capabilities from the mechanism list: all four key algorithms, no attestation", () => {
    expect([...device.capabilities.keyAlgorithms].sort()).toEqual(["ECCP256", "ECCP384", "RSA2048", "RSA3072"]);
    expect(device.capabilities).toMatchObject({ attestation: false, cardIdentifiers: false, reset: true });
    expect(device.capabilities.slots).toEqual(["01", "02", "03", "04"]);
  });

  it("refuses to generate before the PIN is verified (private objects need a user session)", async () => {
    await expect(device.generateKeyPair("01", "ECCP256")).rejects.toMatchObject({ code: "PKCS11_NOT_LOGGED_IN" });
  });

  it("turns a wrong PIN into PKCS11_PIN_INCORRECT without the PIN in message or JSON", async () => {
    const wrong = "999999";
    const err = await device.verifyPin(wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardwrightError);
    expect((err as CardwrightError).code).toBe("PKCS11_PIN_INCORRECT");
    expect((err as CardwrightError).details.ckr).toBe("CKR_PIN_INCORRECT");
    expect(JSON.stringify((err as CardwrightError).toJSON())).not.toContain(wrong);
    await expect(device.authenticateAdmin({ kind: "so-pin", pin: "00000000" })).rejects.toMatchObject({
      code: "PKCS11_PIN_INCORRECT",
      details: { userType: "so" },
    });
  });

  const cases: Array<[string, KeyAlgorithm]> = [
    ["01", "ECCP256"],
    ["02", "ECCP384"],
    ["03", "RSA2048"],
    ["04", "RSA3072"],
  ];
  for (const [slot, algorithm] of cases) {
    it(`generates ${algorithm} on the token and signs with it (verified by node:crypto)`, async () => {
      await device.verifyPin(softhsm.userPin);
      const key = await device.generateKeyPair(slot, algorithm);
      expect(key.algorithm).toBe(algorithm);
      const publicKey = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
      const data = new TextEncoder().encode(`to be signed in slot ${slot}`);
      for (const hash of ["SHA-256", "SHA-384"] as const) {
        const signature = await device.sign(slot, algorithm, hash, data);
        const nodeHash = hash === "SHA-256" ? "sha256" : "sha384";
        expect(verify(nodeHash, data, publicKey, Buffer.from(signature))).toBe(true);
        expect(verify(nodeHash, Buffer.from("other"), publicKey, Buffer.from(signature))).toBe(false);
      }
    });
  }

  it("builds a CSR openssl verifies and certifies, stores the certificate with its attributes, reads and lists it", async () => {
    await device.verifyPin(softhsm.userPin);
    const key = await device.generateKeyPair("01", "ECCP256");
    const csr = await buildCsr({ subject: "CN=Token User,O=Example", publicKey: key, slot: "01" }, device);
    const certificate = certifyWithOpenssl(csr);
    await device.writeCertificate("01", certificate);
    expect(Buffer.from((await device.readCertificate("01")) as Uint8Array).equals(Buffer.from(certificate))).toBe(true);
    expect(await device.readCertificate("02")).toBeNull();
    const objects = await device.listObjects();
    const one = objects.find((o) => o.slot === "01");
    expect(one?.publicKey?.spki).toEqual(key.spki);
    expect(one?.certificate).toEqual(certificate);
    expect(objects.map((o) => o.slot)).toEqual(["01", "02", "03", "04"]);
    // OpenSC's pkcs11-tool reads the same object: the X.509 certificate with our CKA_ID, subject and serial.
    const listing = pkcs11Tool(softhsm, ["--token-label", "cw-one", "--list-objects", "--type", "cert"]);
    expect(listing).toMatch(/Certificate Object; type = X\.509 cert/);
    expect(listing).toMatch(/subject:\s+DN: O=Example, CN=Token User/);
    expect(listing).toMatch(/serial:\s+1092/);
    expect(listing).toMatch(/ID:\s+01/);
    // Replacing keeps one certificate per slot; deleting leaves none.
    await device.writeCertificate("01", certificate);
    expect(
      pkcs11Tool(softhsm, ["--token-label", "cw-one", "--list-objects", "--type", "cert"]).match(/Certificate Object/g),
    ).toHaveLength(1);
    await device.deleteCertificate("01");
    expect(await device.readCertificate("01")).toBeNull();
  });

  it("changes the SO PIN, unblocks the user PIN with it, changes the PIN, and reports PIN status", async () => {
    await device.authenticateAdmin({ kind: "so-pin", pin: softhsm.soPin });
    await device.setAdminCredential({ kind: "so-pin", pin: NEW_SO_PIN });
    await expect(device.authenticateAdmin({ kind: "so-pin", pin: softhsm.soPin })).rejects.toMatchObject({
      code: "PKCS11_PIN_INCORRECT",
    });
    await device.authenticateAdmin({ kind: "so-pin", pin: NEW_SO_PIN });
    await device.unblockPin(NEW_SO_PIN, "24681357");
    await expect(device.verifyPin(softhsm.userPin)).rejects.toMatchObject({ code: "PKCS11_PIN_INCORRECT" });
    await device.changePin("24681357", "13572468");
    await device.verifyPin("13572468");
    expect(await device.pinStatus()).toMatchObject({ blocked: false });
    // The signature key still works under the new PIN.
    const data = new Uint8Array([1, 2, 3]);
    expect((await device.sign("03", "RSA2048", "SHA-256", data)).length).toBe(256);
  });

  it("re-initialises the token: objects gone, label and serial kept, SO and user PINs back to the initial ones", async () => {
    await device.authenticateAdmin({ kind: "so-pin", pin: NEW_SO_PIN });
    await device.reset();
    expect(await device.listObjects()).toEqual([]);
    await device.authenticateAdmin({ kind: "so-pin", pin: softhsm.soPin });
    await device.verifyPin(softhsm.userPin);
    const again = await provider.open({ serial: device.identity.serial });
    expect(again.identity.reader).toBe("cw-one");
    await again.close();
  });

  it("refuses what PKCS#11 tokens cannot do with DEVICE_CAPABILITY", async () => {
    await expect(device.attest("01")).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
    await expect(device.writeCardIdentifiers()).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
    await expect(device.changePuk("a", "b")).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
    await expect(
      device.authenticateAdmin({ kind: "management-key", algorithm: "AES192", key: new Uint8Array(24) }),
    ).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
    await expect(device.generateKeyPair("zz", "ECCP256")).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
  });

  it("factory credentials are the configured initial PINs, and missing ones are a CONFIG_INVALID", async () => {
    expect(await device.factoryCredentials()).toEqual({
      pin: softhsm.userPin,
      puk: softhsm.soPin,
      admin: { kind: "so-pin", pin: softhsm.soPin },
    });
    const bare = new Pkcs11DeviceProvider({ module: softhsm.module });
    const d = await bare.open({ label: "cw-two" });
    await expect(d.factoryCredentials()).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    await d.close();
    await bare.close();
  });

  it("waits for a token by label: times out clearly, then finds one initialised in the free slot", async () => {
    await expect(provider.waitForDevice({ label: "cw-three", timeoutMs: 300 })).rejects.toMatchObject({
      code: "PKCS11_TOKEN_NOT_PRESENT",
      details: { label: "cw-three", timeoutMs: 300 },
    });
    const waiting = provider.waitForDevice({ label: "cw-three", timeoutMs: 10_000 });
    // Initialise the free slot in-process (SoftHSM2 sees other processes' tokens only after C_Initialize).
    const module = acquireModule(softhsm.module);
    try {
      const free = module.lib.C_GetSlotList(true).find((s) => (module.lib.C_GetTokenInfo(s).flags & 0x400) === 0);
      expect(free).toBeDefined();
      module.lib.C_InitToken(free as Buffer, softhsm.soPin, padLabel("cw-three"));
    } finally {
      releaseModule(module);
    }
    const found = await waiting;
    expect(found.reader).toBe("cw-three");
    expect(found.serial).toMatch(/^[0-9a-f]{16}$/);
  });

  it("a closed device refuses further calls", async () => {
    const d = await provider.open({ label: "cw-two" });
    await d.close();
    await expect(d.verifyPin(softhsm.userPin)).rejects.toMatchObject({ code: "DEVICE_NOT_FOUND" });
  });
});
