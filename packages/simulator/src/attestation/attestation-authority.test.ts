import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { AttestationAuthority } from "./attestation-authority.js";
import { parseCertificate } from "./x509-builder.js";

describe("AttestationAuthority", () => {
  it("creates a self-signed CA root that verifies itself", async () => {
    const authority = await AttestationAuthority.create({ commonName: "Test Root" });
    const root = parseCertificate(authority.certificate);
    expect(root.subject.typesAndValues[0]?.value.valueBlock.value).toBe("Test Root");
    expect(await root.verify()).toBe(true);
    expect(root.extensions?.find((e) => e.extnID === "2.5.29.19")?.critical).toBe(true);
    expect(authority.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  it("issues a device (F9) certificate the root signature verifies", async () => {
    const authority = await AttestationAuthority.create();
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const der = await authority.issueDeviceCertificate({ publicKey, serial: 42, firmware: "5.7.1" });
    const cert = parseCertificate(der);
    expect(cert.subject.typesAndValues[0]?.value.valueBlock.value).toContain("42");
    expect(await cert.verify(parseCertificate(authority.certificate))).toBe(true);
    const other = await AttestationAuthority.create();
    expect(await cert.verify(parseCertificate(other.certificate))).toBe(false);
  });

  it("saves (owner-only) and loads; a mismatched key is CONFIG_INVALID", async () => {
    const authority = await AttestationAuthority.create();
    const dir = await mkdtemp(join(tmpdir(), "cardwright-authority-"));
    const path = join(dir, "root.json");
    await authority.save(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const loaded = await AttestationAuthority.load(path);
    expect(Buffer.from(loaded.certificate).equals(Buffer.from(authority.certificate))).toBe(true);
    const other = await AttestationAuthority.create();
    const mixed = { ...authority.toJSON(), privateKey: other.toJSON().privateKey };
    expect(() => AttestationAuthority.fromJSON(mixed)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
    await expect(AttestationAuthority.load(join(dir, "missing.json"))).rejects.toSatisfy((e) =>
      isCardwrightError(e, "CONFIG_INVALID"),
    );
  });

  it("shared() is one root per process", async () => {
    expect(await AttestationAuthority.shared()).toBe(await AttestationAuthority.shared());
  });

  it("regression: certificate serials are minimal positive DER (openssl rejected 00 7x… serials)", async () => {
    const authority = await AttestationAuthority.create();
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    for (let i = 0; i < 64; i++) {
      const der = await authority.issueDeviceCertificate({ publicKey, serial: i, firmware: "5.7.1" });
      const first = new Uint8Array(parseCertificate(der).serialNumber.valueBlock.valueHexView)[0] as number;
      expect(first & 0xc0).toBe(0x40);
    }
  });
});
