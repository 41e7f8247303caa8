/**
 * `Pkcs11Device` on a TPM virtual smart card: tpm2-pkcs11 over tpm2-abrmd over swtpm, every part
 * real. Its own test file because tpm2-pkcs11 reads its environment when the module is loaded,
 * once per process (vitest runs each file in its own process).
 */
import { createPublicKey, verify } from "node:crypto";
import type { KeyAlgorithm } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Pkcs11Device, Pkcs11DeviceProvider } from "../src/index.js";
import { startTpmVsc, type TpmVsc } from "../src/testing/index.js";

describe("Pkcs11Device on a TPM virtual smart card (tpm2-pkcs11 + swtpm)", () => {
  let vsc: TpmVsc;
  let provider: Pkcs11DeviceProvider;
  let device: Pkcs11Device;

  beforeAll(async () => {
    vsc = await startTpmVsc({ labels: ["vsc-a", "vsc-b"] });
    provider = new Pkcs11DeviceProvider({
      module: vsc.module,
      profile: "tpm-vsc",
      initialSoPin: vsc.soPin,
      initialUserPin: vsc.userPin,
    });
    device = await provider.open({ label: "vsc-a" });
  }, 120_000);
  afterAll(async () => {
    await device?.close();
    await provider?.close();
    await vsc?.close();
  });

  it("lists both tokens as tpm-vsc devices, each with its own serial (TPM serial / label)", async () => {
    const list = await provider.list();
    expect(list.map((d) => d.reader).sort()).toEqual(["vsc-a", "vsc-b"]);
    expect(new Set(list.map((d) => d.serial)).size).toBe(2);
    expect(device.identity).toMatchObject({ type: "tpm-vsc", reader: "vsc-a" });
    expect(device.identity.serial).toMatch(/\/vsc-a$/);
    const again = await provider.open({ serial: device.identity.serial });
    expect(again.identity.reader).toBe("vsc-a");
    await again.close();
  });

  it("reports what the TPM can generate (RSA up to 3072, P-256, P-384) and no re-initialisation", () => {
    expect([...device.capabilities.keyAlgorithms].sort()).toEqual(["ECCP256", "ECCP384", "RSA2048", "RSA3072"]);
    expect(device.capabilities).toMatchObject({ reset: false, attestation: false, cardIdentifiers: false });
  });

  it("refuses reset with DEVICE_CAPABILITY", async () => {
    await expect(device.reset()).rejects.toMatchObject({ code: "DEVICE_CAPABILITY" });
  });

  const cases: Array<[string, KeyAlgorithm]> = [
    ["01", "ECCP256"],
    ["02", "ECCP384"],
    ["03", "RSA2048"],
  ];
  for (const [slot, algorithm] of cases) {
    it(`generates ${algorithm} in the TPM and signs with it (verified by node:crypto)`, async () => {
      await device.verifyPin(vsc.userPin);
      const key = await device.generateKeyPair(slot, algorithm);
      expect(key.algorithm).toBe(algorithm);
      const publicKey = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
      const data = new TextEncoder().encode(`vsc slot ${slot}`);
      const signature = await device.sign(slot, algorithm, "SHA-256", data);
      expect(verify("sha256", data, publicKey, Buffer.from(signature))).toBe(true);
      expect(verify("sha256", Buffer.from("x"), publicKey, Buffer.from(signature))).toBe(false);
    });
  }

  it("lists its keys by CKA_ID", async () => {
    const objects = await device.listObjects();
    expect(objects.map((o) => [o.slot, o.publicKey?.algorithm])).toEqual([
      ["01", "ECCP256"],
      ["02", "ECCP384"],
      ["03", "RSA2048"],
    ]);
  });

  it("changes the SO PIN and unblocks the user PIN with it", async () => {
    await device.authenticateAdmin({ kind: "so-pin", pin: vsc.soPin });
    await device.setAdminCredential({ kind: "so-pin", pin: "new-so-pin-42" });
    await expect(device.authenticateAdmin({ kind: "so-pin", pin: vsc.soPin })).rejects.toMatchObject({
      code: "PKCS11_PIN_INCORRECT",
    });
    await device.unblockPin("new-so-pin-42", "777777");
    await expect(device.verifyPin(vsc.userPin)).rejects.toMatchObject({ code: "PKCS11_PIN_INCORRECT" });
    await device.changePin("777777", "888888");
    await device.verifyPin("888888");
    const data = new Uint8Array([9, 9, 9]);
    expect((await device.sign("01", "ECCP256", "SHA-256", data))[0]).toBe(0x30);
  });
});
