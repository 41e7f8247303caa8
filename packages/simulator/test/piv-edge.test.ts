/**
 * End-to-end: the host-side PIV edge of @cardwright/pcsc (PivSession, PivDevice) against the
 * virtual card through the in-memory reader — every command of the edge, real keys, signatures
 * verified by node:crypto and attestation chains verified by `openssl verify`.
 */
import { execFile } from "node:child_process";
import { createHash, createPublicKey, verify } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { HashAlgorithm } from "@cardwright/core";
import { buildCcc, buildChuid, PivDevice, PivSession, type PivSessionOptions } from "@cardwright/pcsc";
import { beforeAll, describe, expect, it } from "vitest";
import { AttestationAuthority } from "../src/attestation/attestation-authority.js";
import { issueCertificate } from "../src/attestation/x509-builder.js";
import { VirtualPivCard, type VirtualPivCardOptions } from "../src/card/virtual-piv-card.js";
import { InMemoryTransport } from "../src/transport/in-memory-transport.js";
import { expectError } from "./expect-error.js";

const run = promisify(execFile);
const DEFAULT_KEY = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8);

let authority: AttestationAuthority;
beforeAll(async () => {
  authority = await AttestationAuthority.create();
});

async function open(cardOptions: VirtualPivCardOptions = {}, sessionOptions: PivSessionOptions = {}) {
  const card = await VirtualPivCard.create({ attestationAuthority: authority, ...cardOptions });
  const transport = new InMemoryTransport(card);
  const session = await PivSession.open(transport, sessionOptions);
  return { card, transport, session };
}

function verifySignature(spki: Uint8Array, hash: HashAlgorithm, data: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  const alg = hash.replace("-", "").toLowerCase();
  return verify(alg, data, key.asymmetricKeyType === "ec" ? { key, dsaEncoding: "der" } : key, signature);
}

function pem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

async function opensslVerify(
  leaf: Uint8Array,
  intermediate: Uint8Array,
  root: AttestationAuthority = authority,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-attest-"));
  await writeFile(join(dir, "root.pem"), root.certificatePem);
  await writeFile(join(dir, "f9.pem"), pem(intermediate));
  await writeFile(join(dir, "leaf.pem"), pem(leaf));
  const { stdout } = await run("openssl", [
    "verify",
    "-CAfile",
    join(dir, "root.pem"),
    "-untrusted",
    join(dir, "f9.pem"),
    join(dir, "leaf.pem"),
  ]);
  return stdout.trim();
}

/** A self-signed certificate of about `padding` extra bytes (compressible). */
async function testCertificate(padding = 0): Promise<Uint8Array> {
  const { generateKeyPairSync } = await import("node:crypto");
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  return issueCertificate({
    subjectCommonName: "edge test",
    subjectPublicKeyInfo: spki,
    issuerPublicKeyInfo: spki,
    signingKey: privateKey,
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 86400_000),
    extensions: padding > 0 ? [{ oid: "1.3.6.1.4.1.99999.1", value: new Uint8Array(padding).fill(0x41) }] : [],
  });
}

describe("PivSession against the virtual card", () => {
  it("opens: SELECT answers the PIV PIX, GET VERSION makes it a YubiKey", async () => {
    const { session } = await open({ firmware: "5.7.1" });
    expect(session.firmware).toBe("5.7.1");
    expect(session.isYubiKey).toBe(true);
    const select = await session.selectApplication();
    expect(Buffer.from(select.applicationIdentifier ?? []).toString("hex")).toBe("000010000100");
    expect(await session.getVersion()).toBe("5.7.1");
  });

  it("reads the discovery object, and GET/PUT DATA round-trips an object", async () => {
    const { session } = await open();
    const discovery = await session.readDiscovery();
    expect(discovery).toBeDefined();
    await expectError(session.putData(0x5fc109, Uint8Array.of(1, 2, 3)), "PIV_SECURITY_STATUS");
    await session.authenticateManagementKey("AES192", DEFAULT_KEY);
    await session.putData(0x5fff10, Uint8Array.of(1, 2, 3));
    expect(Array.from(await session.getData(0x5fff10))).toEqual([1, 2, 3]);
    await session.putData(0x5fff10, new Uint8Array(0));
    await expectError(session.getData(0x5fff10), "PIV_NOT_FOUND");
  });

  it("writes and reads CHUID and CCC", async () => {
    const { session } = await open();
    expect(await session.readChuid()).toBeNull();
    expect(await session.readCcc()).toBeNull();
    await session.authenticateManagementKey("AES192", DEFAULT_KEY);
    const chuid = buildChuid();
    const ccc = buildCcc();
    await session.writeChuid(chuid);
    await session.writeCcc(ccc);
    expect(Buffer.from((await session.readChuid())?.guid ?? []).toString("hex")).toBe(
      Buffer.from(chuid.guid).toString("hex"),
    );
    expect(Buffer.from((await session.readCcc())?.cardIdentifier ?? []).toString("hex")).toBe(
      Buffer.from(ccc.cardIdentifier).toString("hex"),
    );
  });

  for (const extendedLength of [false, true]) {
    it(`writes, reads (plain and gzip-compressed) and deletes certificates (extendedLength ${extendedLength})`, async () => {
      const { session, transport } = await open({}, { extendedLength });
      await session.authenticateManagementKey("AES192", DEFAULT_KEY);
      const small = await testCertificate();
      await session.writeCertificate(0x9a, small);
      expect(Buffer.from((await session.readCertificate(0x9a)) ?? []).equals(Buffer.from(small))).toBe(true);
      const large = await testCertificate(3500);
      expect(large.length).toBeGreaterThan(3052);
      await expectError(session.writeCertificate(0x9c, large), "PIV_CARD_FULL");
      await session.writeCertificate(0x9c, large, { compress: true });
      expect(Buffer.from((await session.readCertificate(0x9c)) ?? []).equals(Buffer.from(large))).toBe(true);
      await session.deleteCertificate(0x9a);
      expect(await session.readCertificate(0x9a)).toBeNull();
      const sizes = transport.transcript.map((e) => e.command.length);
      if (extendedLength) expect(Math.max(...sizes)).toBeGreaterThan(261);
      else expect(Math.max(...sizes)).toBeLessThanOrEqual(261);
    });
  }

  it("VERIFY, wrong PIN countdown with typed errors, PIN blocked, PUK unblock, change PIN and PUK", async () => {
    const { session } = await open();
    expect(await session.pinRetries()).toBe(3);
    const wrong = await expectError(session.verifyPin("000000"), "PIV_WRONG_PIN");
    expect(wrong.details.retriesLeft).toBe(2);
    await expectError(session.verifyPin("000000"), "PIV_WRONG_PIN");
    await expectError(session.verifyPin("000000"), "PIV_PIN_BLOCKED");
    await expectError(session.verifyPin("123456"), "PIV_PIN_BLOCKED");
    expect(await session.pinRetries()).toBe(0);
    const wrongPuk = await expectError(session.unblockPin("00000000", "654321"), "PIV_WRONG_PIN");
    expect(wrongPuk.details.retriesLeft).toBe(2);
    await session.unblockPin("12345678", "654321");
    await session.verifyPin("654321");
    await session.changePin("654321", "11223344");
    await session.changePuk("12345678", "87654321");
    await expectError(session.changePuk("12345678", "00000000"), "PIV_WRONG_PIN");
    await session.verifyPin("11223344");
    expect(await session.pinRetries()).toBe(3);
  });

  it("management key: TDES default on 5.4, AES-192 default on 5.7, wrong key is PIV_AUTH_FAILED", async () => {
    const old = await open({ firmware: "5.4.3" });
    expect(await old.session.getManagementKeyAlgorithm()).toBe("TDES");
    await old.session.authenticateManagementKey("TDES", DEFAULT_KEY);
    const fresh = await open({ firmware: "5.7.1" });
    expect(await fresh.session.getManagementKeyAlgorithm()).toBe("AES192");
    await fresh.session.authenticateManagementKey("AES192", DEFAULT_KEY);
    await expectError(fresh.session.authenticateManagementKey("AES192", new Uint8Array(24)), "PIV_AUTH_FAILED");
    await expectError(fresh.session.authenticateManagementKey("TDES", DEFAULT_KEY), "PIV_AUTH_FAILED");
  });

  it("SET MANAGEMENT KEY to AES-256 and AES-128; AES is refused host-side on 5.3", async () => {
    const { session } = await open({ firmware: "5.4.3" });
    await session.authenticateManagementKey("TDES", DEFAULT_KEY);
    const aes256 = new Uint8Array(32).fill(9);
    await session.setManagementKey("AES256", aes256);
    expect(await session.getManagementKeyAlgorithm()).toBe("AES256");
    await session.authenticateManagementKey("AES256", aes256);
    const aes128 = new Uint8Array(16).fill(3);
    await session.setManagementKey("AES128", aes128);
    await session.authenticateManagementKey("AES128", aes128);
    const old = await open({ firmware: "5.3.1" });
    await expectError(old.session.authenticateManagementKey("AES128", aes128), "PIV_UNSUPPORTED");
  });

  for (const [algorithm, hash] of [
    ["RSA2048", "SHA-256"],
    ["ECCP256", "SHA-256"],
    ["ECCP384", "SHA-384"],
    ["ECCP256", "SHA-512"],
  ] as const) {
    it(`generates ${algorithm} and signs with ${hash}; node verifies against the returned SPKI`, async () => {
      const { session } = await open();
      await session.authenticateManagementKey("AES192", DEFAULT_KEY);
      const spki = await session.generateKeyPair(0x9a, algorithm);
      await expectError(session.sign(0x9a, algorithm, hash, Uint8Array.of(1)), "PIV_SECURITY_STATUS");
      await session.verifyPin("123456");
      const data = new TextEncoder().encode(`edge ${algorithm} ${hash}`);
      const signature = await session.sign(0x9a, algorithm, hash, data);
      expect(verifySignature(spki, hash, data, signature)).toBe(true);
      expect(verifySignature(spki, hash, Uint8Array.of(0), signature)).toBe(false);
      const metadata = await session.getMetadata(0x9a);
      expect(metadata.algorithm).toBe(algorithm);
      expect(metadata.origin).toBe("generated");
      expect(Buffer.from(metadata.publicKey ?? []).equals(Buffer.from(spki))).toBe(true);
    });
  }

  it("9C needs the PIN before every signature", async () => {
    const { session } = await open();
    await session.authenticateManagementKey("AES192", DEFAULT_KEY);
    await session.generateKeyPair(0x9c, "ECCP256");
    await session.verifyPin("123456");
    await session.sign(0x9c, "ECCP256", "SHA-256", Uint8Array.of(1));
    await expectError(session.sign(0x9c, "ECCP256", "SHA-256", Uint8Array.of(1)), "PIV_SECURITY_STATUS");
  });

  it("YubiKey extensions: serial, metadata of PIN/PUK/9B, SET PIN RETRIES trap, RESET", async () => {
    const { session } = await open({ serial: 31415926, firmware: "5.7.1" });
    expect(await session.getSerial()).toBe(31415926);
    const pin = await session.getMetadata(0x80);
    expect(pin.isDefault).toBe(true);
    expect(pin.retries).toEqual({ total: 3, remaining: 3 });
    expect((await session.getMetadata(0x9b)).algorithm).toBe("AES192");
    await expectError(session.getMetadata(0x9d), "PIV_NOT_FOUND");
    await session.changePin("123456", "24682468");
    await session.authenticateManagementKey("AES192", DEFAULT_KEY);
    await session.verifyPin("24682468");
    await session.setPinRetries(6, 5);
    expect((await session.getMetadata(0x80)).retries).toEqual({ total: 6, remaining: 6 });
    expect((await session.getMetadata(0x81)).retries).toEqual({ total: 5, remaining: 5 });
    await expectError(session.verifyPin("24682468"), "PIV_WRONG_PIN");
    await session.verifyPin("123456");
    await expectError(session.reset(), "PIV_CONDITIONS_NOT_SATISFIED");
  });

  it("GET METADATA is refused host-side before firmware 5.3", async () => {
    const { session } = await open({ firmware: "5.2.7" });
    expect(session.supportsMetadata).toBe(false);
    await expectError(session.getMetadata(0x80), "PIV_UNSUPPORTED");
  });

  it("attests a generated key; openssl verifies leaf → F9 → simulator root", async () => {
    const { session } = await open({ serial: 22222222 });
    await session.authenticateManagementKey("AES192", DEFAULT_KEY);
    await session.generateKeyPair(0x9d, "ECCP384");
    const leaf = await session.attest(0x9d);
    const f9 = await session.readCertificate(0xf9);
    expect(f9).not.toBeNull();
    expect(await opensslVerify(leaf, f9 as Uint8Array)).toMatch(/leaf\.pem: OK$/);
  });

  it("cards created without an authority are attested by the shared simulator root", async () => {
    const card = await VirtualPivCard.create();
    const session = await PivSession.open(new InMemoryTransport(card));
    await session.authenticateManagementKey("AES192", DEFAULT_KEY);
    await session.generateKeyPair(0x9a, "RSA2048");
    const leaf = await session.attest(0x9a);
    const f9 = (await session.readCertificate(0xf9)) as Uint8Array;
    expect(await opensslVerify(leaf, f9, await AttestationAuthority.shared())).toMatch(/OK$/);
    await expect(opensslVerify(leaf, f9, authority)).rejects.toThrow();
  });

  it("refuses to attest an empty slot", async () => {
    const { session } = await open();
    await expectError(session.attest(0x9a), "PIV_NOT_FOUND");
  });

  it("card full: PUT DATA beyond the total storage is PIV_CARD_FULL", async () => {
    const { session, card } = await open({ totalObjectBytes: 2000 });
    await session.authenticateManagementKey("AES192", DEFAULT_KEY);
    const room = 2000 - card.storageUsed;
    await expectError(session.putData(0x5fc109, new Uint8Array(room + 1)), "PIV_CARD_FULL");
    await session.putData(0x5fc109, new Uint8Array(room));
  });

  it("card removed at APDU k surfaces APDU_CARD_REMOVED; after re-insertion a new session works", async () => {
    const { session, transport } = await open();
    const k = transport.apduCount + 2;
    transport.injectFault({ trigger: { atApdu: k }, action: { kind: "remove-card" } });
    await session.authenticateManagementKey("AES192", DEFAULT_KEY).catch(() => undefined);
    await expectError(session.getVersion(), "APDU_CARD_REMOVED");
    transport.insert();
    const again = await PivSession.open(transport);
    expect(await again.getVersion()).toBe("5.7.1");
  });

  it("an injected timeout surfaces APDU_TIMEOUT", async () => {
    const { session, transport } = await open();
    transport.injectFault({ trigger: { ins: 0xf8 }, action: { kind: "timeout" } });
    await expectError(session.getSerial(), "APDU_TIMEOUT");
  });
});

describe("PivDevice (core Device port) against the virtual card", () => {
  it("identity, capabilities and factory credentials follow the firmware", async () => {
    for (const [firmware, algorithm] of [
      ["5.4.3", "TDES"],
      ["5.7.1", "AES192"],
    ] as const) {
      const card = await VirtualPivCard.create({ attestationAuthority: authority, firmware, serial: 11112222 });
      const device = await PivDevice.open(new InMemoryTransport(card));
      expect(device.identity.serial).toBe("11112222");
      expect(device.identity.firmware).toBe(firmware);
      expect(device.capabilities.attestation).toBe(true);
      expect(device.capabilities.pinRetries).toBe(3);
      const factory = await device.factoryCredentials();
      expect(factory.admin).toMatchObject({ kind: "management-key", algorithm });
      await device.authenticateAdmin(factory.admin);
      await device.close();
    }
  });

  it("issue flow: identifiers, generate, sign, write certificate, list, attest chain, pin status", async () => {
    const card = await VirtualPivCard.create({ attestationAuthority: authority });
    const device = await PivDevice.open(new InMemoryTransport(card));
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    const ids = await device.writeCardIdentifiers();
    expect(ids.guid).toMatch(/^[0-9a-f]{32}$/);
    const key = await device.generateKeyPair("9a", "ECCP256");
    await device.verifyPin("123456");
    const data = new TextEncoder().encode("csr to be signed");
    expect(verifySignature(key.spki, "SHA-256", data, await device.sign("9a", "ECCP256", "SHA-256", data))).toBe(true);
    const cert = await testCertificate();
    await device.writeCertificate("9a", cert);
    expect(Buffer.from((await device.readCertificate("9a")) ?? []).equals(Buffer.from(cert))).toBe(true);
    const listed = await device.listObjects();
    expect(listed.map((o) => o.slot)).toEqual(["9a"]);
    const chain = await device.attest("9a");
    expect(chain).toHaveLength(2);
    expect(await opensslVerify(chain[0] as Uint8Array, chain[1] as Uint8Array)).toMatch(/OK$/);
    expect(await device.pinStatus()).toMatchObject({ retriesLeft: 3, blocked: false });
    await device.deleteCertificate("9a");
    expect(await device.readCertificate("9a")).toBeNull();
  });

  it("reset blocks PIN and PUK, then RESET erases keys and restores defaults", async () => {
    const card = await VirtualPivCard.create({ attestationAuthority: authority, firmware: "5.7.1" });
    const device = await PivDevice.open(new InMemoryTransport(card));
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    await device.generateKeyPair("9c", "ECCP256");
    await device.setAdminCredential({ kind: "management-key", algorithm: "AES256", key: new Uint8Array(32).fill(5) });
    await device.reset();
    await device.verifyPin("123456");
    await device.authenticateAdmin({ kind: "management-key", algorithm: "AES192", key: DEFAULT_KEY });
    expect(await device.listObjects()).toEqual([]);
  });

  it("large certificates are stored compressed and read back whole", async () => {
    const card = await VirtualPivCard.create({ attestationAuthority: authority });
    const device = await PivDevice.open(new InMemoryTransport(card));
    await device.authenticateAdmin((await device.factoryCredentials()).admin);
    const large = await testCertificate(3500);
    await device.writeCertificate("9d", large);
    expect(Buffer.from((await device.readCertificate("9d")) ?? []).equals(Buffer.from(large))).toBe(true);
    expect(createHash("sha256").update(large).digest("hex")).toHaveLength(64);
  });
});
