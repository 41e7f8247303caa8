/**
 * End-to-end: PivDevice.importKeyPair (Yubico IMPORT ASYMMETRIC KEY, INS FE) against the virtual
 * card — the card ends up holding the very key that was generated off-card (same public key in
 * GET METADATA, signatures verify under the PKCS #8 key's public half), imported keys are marked
 * imported and cannot be attested, the card refuses without management key authentication, and
 * the APDU trace never shows the key.
 */
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import type { KeyAlgorithm } from "@cardwright/core";
import { type ApduTraceEntry, PivDevice } from "@cardwright/pcsc";
import { beforeAll, describe, expect, it } from "vitest";
import { AttestationAuthority } from "../src/attestation/attestation-authority.js";
import { VirtualPivCard } from "../src/card/virtual-piv-card.js";
import { InMemoryTransport } from "../src/transport/in-memory-transport.js";
import { expectError } from "./expect-error.js";

let authority: AttestationAuthority;
beforeAll(async () => {
  authority = await AttestationAuthority.create();
});

function offCardKey(algorithm: KeyAlgorithm) {
  const pair =
    algorithm === "RSA2048"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: algorithm === "ECCP256" ? "P-256" : "P-384" });
  return {
    pkcs8: new Uint8Array(pair.privateKey.export({ format: "der", type: "pkcs8" })),
    spki: new Uint8Array(pair.publicKey.export({ format: "der", type: "spki" })),
  };
}

async function openDevice(firmware = "5.7.1", trace?: (e: ApduTraceEntry) => void) {
  const card = await VirtualPivCard.create({ attestationAuthority: authority, firmware });
  const device = await PivDevice.open(new InMemoryTransport(card), trace === undefined ? {} : { trace });
  return { card, device };
}

describe("PivDevice.importKeyPair against the virtual card", () => {
  it("reports keyImport on YubiKey firmware", async () => {
    const { device } = await openDevice();
    expect(device.capabilities.keyImport).toBe(true);
  });

  for (const algorithm of ["RSA2048", "ECCP256", "ECCP384"] as const) {
    it(`imports an off-card ${algorithm} key into 9d: metadata, listObjects and signatures match it`, async () => {
      const { device } = await openDevice();
      await device.authenticateAdmin((await device.factoryCredentials()).admin);
      const key = offCardKey(algorithm);
      const imported = await device.importKeyPair("9d", algorithm, key.pkcs8);
      expect(imported.algorithm).toBe(algorithm);
      expect(Buffer.from(imported.spki).equals(Buffer.from(key.spki))).toBe(true);
      const metadata = await device.session.getMetadata(0x9d);
      expect(metadata.origin).toBe("imported");
      expect(Buffer.from(metadata.publicKey ?? []).equals(Buffer.from(key.spki))).toBe(true);
      const listed = (await device.listObjects()).find((o) => o.slot === "9d");
      expect(Buffer.from(listed?.publicKey?.spki ?? []).equals(Buffer.from(key.spki))).toBe(true);
      await device.verifyPin("123456");
      const data = new TextEncoder().encode("signed by the imported key");
      const signature = await device.sign("9d", algorithm, "SHA-256", data);
      const publicKey = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
      const ok = verify(
        "sha256",
        data,
        publicKey.asymmetricKeyType === "ec" ? { key: publicKey, dsaEncoding: "der" } : publicKey,
        signature,
      );
      expect(ok).toBe(true);
    });
  }

  it("an RSA-2048 import (655 bytes) goes through command chaining on a short-APDU card", async () => {
    const card = await VirtualPivCard.create({ attestationAuthority: authority, extendedLength: false });
    const entries: ApduTraceEntry[] = [];
    const device = await PivDevice.open(new InMemoryTransport(card), {
      extendedLength: false,
      trace: (e) => entries.push(e),
    });
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    const key = offCardKey("RSA2048");
    const imported = await device.importKeyPair("9d", "RSA2048", key.pkcs8);
    expect(Buffer.from(imported.spki).equals(Buffer.from(key.spki))).toBe(true);
    const chained = entries.filter((e) => e.instruction === "IMPORT ASYMMETRIC KEY");
    expect(chained.length).toBeGreaterThan(1);
    expect(chained.every((e) => e.redacted && e.command.includes("<redacted"))).toBe(true);
    expect(chained.slice(0, -1).every((e) => e.command.startsWith("10FE079D"))).toBe(true);
  });

  it("an imported key cannot be attested (the card refuses ATTEST)", async () => {
    const { device } = await openDevice();
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    await device.importKeyPair("9d", "ECCP256", offCardKey("ECCP256").pkcs8);
    await expectError(device.attest("9d"), "PIV_WRONG_DATA");
  });

  it("the card refuses an import without management key authentication", async () => {
    const { device } = await openDevice();
    await expectError(device.importKeyPair("9d", "ECCP256", offCardKey("ECCP256").pkcs8), "PIV_SECURITY_STATUS");
  });

  it("refuses a key of another algorithm before sending anything", async () => {
    const { device } = await openDevice();
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    await expectError(device.importKeyPair("9d", "ECCP384", offCardKey("ECCP256").pkcs8), "PIV_WRONG_DATA");
    expect(await device.listObjects()).toEqual([]);
  });

  it("the APDU trace redacts the key components", async () => {
    const entries: ApduTraceEntry[] = [];
    const { device } = await openDevice("5.7.1", (e) => entries.push(e));
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    const key = offCardKey("ECCP256");
    await device.importKeyPair("9d", "ECCP256", key.pkcs8);
    const imports = entries.filter((e) => e.instruction === "IMPORT ASYMMETRIC KEY");
    expect(imports).toHaveLength(1);
    expect(imports[0]?.redacted).toBe(true);
    expect(imports[0]?.command).toMatch(/^00FE119D.*<redacted 34 bytes>/);
  });
});
