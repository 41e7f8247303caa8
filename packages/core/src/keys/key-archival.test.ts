import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isCardwrightError } from "../errors.js";
import type { KeyAlgorithm } from "../ports/device.js";
import { SoftwareKeyDevice } from "../testing/software-key-device.js";
import { AesGcmSecretVault } from "../vault/aes-gcm-vault.js";
import {
  generateOffCardKeyPair,
  importKeyToDevice,
  publicKeyOfPkcs8,
  unwrapArchivedKey,
  wrapArchivedKey,
} from "./key-archival.js";

const vault = AesGcmSecretVault.fromKey("kek-1", randomBytes(32));
const at = { cardId: "card-1", requestId: "req-1" };

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isCardwrightError(err) ? err.code : String(err);
  }
  return undefined;
}

async function adminDevice(options: ConstructorParameters<typeof SoftwareKeyDevice>[0] = {}) {
  const device = new SoftwareKeyDevice(options);
  await device.authenticateAdmin((await device.factoryCredentials()).admin);
  return device;
}

describe("off-card key generation and archival", () => {
  for (const [algorithm, type, size] of [
    ["ECCP256", "ec", "prime256v1"],
    ["ECCP384", "ec", "secp384r1"],
    ["RSA2048", "rsa", 2048],
  ] as const) {
    it(`${algorithm}: PKCS #8 and SPKI of one key, usable for encryption`, async () => {
      const key = await generateOffCardKeyPair(algorithm);
      const priv = createPrivateKey({ key: Buffer.from(key.pkcs8), format: "der", type: "pkcs8" });
      expect(priv.asymmetricKeyType).toBe(type);
      const details = priv.asymmetricKeyDetails ?? {};
      expect(type === "rsa" ? details.modulusLength : details.namedCurve).toBe(size);
      if (type === "rsa") expect(details.publicExponent).toBe(65537n);
      expect(
        Buffer.from(createPublicKey(priv).export({ format: "der", type: "spki" })).equals(Buffer.from(key.spki)),
      ).toBe(true);
      expect(Buffer.from(publicKeyOfPkcs8(algorithm, key.pkcs8)).equals(Buffer.from(key.spki))).toBe(true);
    });
  }

  it("wraps under a context bound to card and request: only the same pair unwraps it", async () => {
    const key = await generateOffCardKeyPair("ECCP256");
    const wrapped = await wrapArchivedKey(vault, key.pkcs8, at);
    expect(wrapped.ciphertext).not.toContain(Buffer.from(key.pkcs8).toString("base64"));
    const clear = await unwrapArchivedKey(vault, wrapped, at);
    expect(Buffer.from(clear).equals(Buffer.from(key.pkcs8))).toBe(true);
    expect(await codeOf(unwrapArchivedKey(vault, wrapped, { ...at, requestId: "req-2" }))).toBe("VAULT_UNWRAP_FAILED");
    expect(await codeOf(unwrapArchivedKey(vault, wrapped, { ...at, cardId: "card-2" }))).toBe("VAULT_UNWRAP_FAILED");
  });

  it("publicKeyOfPkcs8 refuses a key of another algorithm or garbage", async () => {
    const key = await generateOffCardKeyPair("ECCP256");
    for (const algorithm of ["ECCP384", "RSA2048"] as KeyAlgorithm[]) {
      expect(await codeOf(Promise.resolve().then(() => publicKeyOfPkcs8(algorithm, key.pkcs8)))).toBe(
        "VAULT_UNWRAP_FAILED",
      );
    }
    expect(await codeOf(Promise.resolve().then(() => publicKeyOfPkcs8("ECCP256", Uint8Array.of(1, 2))))).toBe(
      "VAULT_UNWRAP_FAILED",
    );
  });

  it("imports to a device, which then holds that key; the clear copy is zeroed", async () => {
    const device = await adminDevice();
    const key = await generateOffCardKeyPair("ECCP256");
    const spki = key.spki.slice();
    const imported = await importKeyToDevice(device, "9d", key);
    expect(Buffer.from(imported.spki).equals(Buffer.from(spki))).toBe(true);
    expect(key.pkcs8.every((b) => b === 0)).toBe(true);
    const listed = (await device.listObjects()).find((o) => o.slot === "9d");
    expect(Buffer.from(listed?.publicKey?.spki ?? []).equals(Buffer.from(spki))).toBe(true);
  });

  it("a device without keyImport is refused and the clear copy still zeroed", async () => {
    const device = await adminDevice({ capabilities: { keyImport: false } });
    const key = await generateOffCardKeyPair("ECCP256");
    expect(await codeOf(importKeyToDevice(device, "9d", key))).toBe("DEVICE_CAPABILITY");
    expect(key.pkcs8.every((b) => b === 0)).toBe(true);
    expect(device.calls).not.toContain("importKeyPair");
  });

  it("the device refuses an import without admin authentication", async () => {
    const device = new SoftwareKeyDevice();
    expect(await codeOf(importKeyToDevice(device, "9d", await generateOffCardKeyPair("ECCP256")))).toBe(
      "PIV_SECURITY_STATUS",
    );
  });
});
