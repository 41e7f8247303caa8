/**
 * The software store against OpenSSL 3: the files it writes are read by `openssl pkcs12`, the
 * files `openssl pkcs12 -export` writes are read by the store, and every failure is a typed error.
 */
import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, verify } from "node:crypto";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CardwrightError, isCardwrightError, parseCertificate } from "@cardwright/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METADATA_FILE, MIN_ITERATIONS, SoftwareStoreDevice, SoftwareStoreProvider } from "../src/index.js";
import { issueForSlot, opensslCa, tempDir } from "./support/fixtures.js";
import { openssl, pem, pemBlocks } from "./support/openssl.js";

const PASSWORD = "correct horse battery staple";

async function caught(p: Promise<unknown>): Promise<CardwrightError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CardwrightError) return err;
    throw err;
  }
  throw new Error("expected a CardwrightError");
}

function expectNoSecret(err: CardwrightError, secret = PASSWORD): void {
  expect(JSON.stringify(err.toJSON())).not.toContain(secret);
  expect(err.message).not.toContain(secret);
}

const temps: Array<() => void> = [];
function temp(prefix: string): string {
  const t = tempDir(prefix);
  temps.push(t.cleanup);
  return t.dir;
}
afterAll(() => {
  for (const cleanup of temps) cleanup();
});

let caDir: string;
beforeAll(() => {
  caDir = temp("cw-sw-ca-");
  opensslCa(caDir);
});

async function freshStore(scope: "machine" | "user" = "user"): Promise<SoftwareStoreDevice> {
  return SoftwareStoreDevice.create(join(temp("cw-sw-"), "store"), {
    password: PASSWORD,
    scope,
    iterations: MIN_ITERATIONS,
  });
}

async function unlocked(device: SoftwareStoreDevice): Promise<SoftwareStoreDevice> {
  const factory = await device.factoryCredentials();
  await device.authenticateAdmin(factory.admin);
  await device.verifyPin(factory.pin);
  return device;
}

describe("creating and opening a store", () => {
  it("keeps a stable random serial, no password in clear, and private permissions", async () => {
    const dir = join(temp("cw-sw-"), "store");
    const created = await SoftwareStoreDevice.create(dir, {
      password: PASSWORD,
      scope: "machine",
      iterations: MIN_ITERATIONS,
    });
    expect(created.identity.type).toBe("software");
    expect(created.identity.serial).toMatch(/^[0-9A-F]{16}$/);
    expect(created.scope).toBe("machine");
    const reopened = await SoftwareStoreDevice.open(dir, { password: PASSWORD });
    expect(reopened.identity.serial).toBe(created.identity.serial);
    const other = await freshStore();
    expect(other.identity.serial).not.toBe(created.identity.serial);
    expect(readFileSync(join(dir, METADATA_FILE), "utf8")).not.toContain(PASSWORD);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, METADATA_FILE)).mode & 0o777).toBe(0o600);
  });

  it("refuses a wrong password at open without echoing it", async () => {
    const device = await freshStore();
    const err = await caught(SoftwareStoreDevice.open(device.directory, { password: "wrong password" }));
    expect(err.code).toBe("SOFTSTORE_WRONG_PASSWORD");
    expectNoSecret(err, "wrong password");
    expectNoSecret(err);
  });

  it("names a missing directory, a non-store, an existing store and a scope mismatch", async () => {
    const base = temp("cw-sw-");
    const missing = await caught(SoftwareStoreDevice.open(join(base, "nope"), { password: PASSWORD }));
    expect(missing.code).toBe("SOFTSTORE_UNAVAILABLE");
    expect(missing.details.reason).toBe("missing");
    const device = await freshStore();
    const exists = await caught(SoftwareStoreDevice.create(device.directory, { password: PASSWORD }));
    expect(exists.details.reason).toBe("exists");
    const scope = await caught(SoftwareStoreDevice.open(device.directory, { password: PASSWORD, scope: "machine" }));
    expect(scope.details.reason).toBe("scope-mismatch");
    writeFileSync(join(base, "a-file"), "x");
    const underFile = await caught(SoftwareStoreDevice.create(join(base, "a-file", "store"), { password: PASSWORD }));
    expect(underFile.code).toBe("SOFTSTORE_UNAVAILABLE");
    const empty = await caught(SoftwareStoreDevice.create(join(base, "s"), { password: "" }));
    expect(empty.code).toBe("CONFIG_INVALID");
  });

  it("reports damaged metadata as corrupt", async () => {
    const device = await freshStore();
    writeFileSync(join(device.directory, METADATA_FILE), "{ not json");
    const err = await caught(SoftwareStoreDevice.open(device.directory, { password: PASSWORD }));
    expect(err.code).toBe("SOFTSTORE_CORRUPT");
  });
});

describe("keys and certificates in PKCS#12 files OpenSSL reads", () => {
  it("keeps a generated key only encrypted, in a file openssl pkcs12 opens with PBES2/AES-256-CBC and an SHA-256 MAC", async () => {
    const device = await unlocked(await freshStore());
    const publicKey = await device.generateKeyPair("9a", "RSA2048");
    expect(publicKey.algorithm).toBe("RSA2048");
    const info = openssl(["pkcs12", "-info", "-in", "9a.p12", "-passin", "env:CW_PASS", "-nodes"], {
      cwd: device.directory,
      password: PASSWORD,
    });
    expect(info.status, info.stderr).toBe(0);
    const text = info.stdout + info.stderr;
    expect(text).toContain("MAC: sha256");
    expect(text).toContain("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC");
    expect(text).toContain(`friendlyName: cardwright user store slot 9a`);
    expect(text).toContain("localKeyID:");
    expect(pemBlocks(info.stdout, "CERTIFICATE")).toHaveLength(0);
    const [keyDer] = pemBlocks(info.stdout, "PRIVATE KEY");
    expect(keyDer).toBeDefined();
    const derived = createPublicKey(
      createPrivateKey({ key: Buffer.from(keyDer ?? []), format: "der", type: "pkcs8" }),
    ).export({
      type: "spki",
      format: "der",
    });
    expect(Buffer.from(derived).equals(Buffer.from(publicKey.spki))).toBe(true);
    // The clear private key is nowhere on disk: not in the slot file, not in a leftover temp file.
    const needle = Buffer.from(keyDer ?? []).subarray(40, 104);
    for (const name of readdirSync(device.directory)) {
      expect(readFileSync(join(device.directory, name)).includes(needle), name).toBe(false);
    }
    expect(readdirSync(device.directory).sort()).toEqual(["9a.p12", METADATA_FILE]);
    expect(statSync(join(device.directory, "9a.p12")).mode & 0o777).toBe(0o600);
    const wrong = openssl(["pkcs12", "-info", "-in", "9a.p12", "-passin", "pass:not-it", "-nodes"], {
      cwd: device.directory,
    });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain("Mac verify error");
  });

  it("signs a CSR, stores the issued certificate with its key, and openssl verifies both", async () => {
    const device = await unlocked(await freshStore());
    const publicKey = await device.generateKeyPair("9c", "RSA2048");
    const certificate = await issueForSlot(device, "9c", publicKey, caDir);
    await device.writeCertificate("9c", certificate);
    expect(Buffer.from((await device.readCertificate("9c")) ?? []).equals(Buffer.from(certificate))).toBe(true);
    const out = openssl(["pkcs12", "-in", join(device.directory, "9c.p12"), "-passin", "env:CW_PASS", "-nodes"], {
      cwd: caDir,
      password: PASSWORD,
    });
    expect(out.status, out.stderr).toBe(0);
    const [cert] = pemBlocks(out.stdout, "CERTIFICATE");
    expect(Buffer.from(cert ?? []).equals(Buffer.from(certificate))).toBe(true);
    expect(out.stdout.match(/localKeyID: ([0-9A-F ]+)/g)?.length).toBe(2);
    const ids = [...out.stdout.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]);
    expect(ids[0]).toBe(ids[1]);
    const info = openssl(
      ["pkcs12", "-info", "-noout", "-in", join(device.directory, "9c.p12"), "-passin", `pass:${PASSWORD}`],
      {
        cwd: caDir,
      },
    );
    expect(info.status, info.stderr).toBe(0);
    expect(info.stderr).toContain(
      "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
    );
    expect(info.stderr).toContain("Certificate bag");
    expect(info.stderr).toContain("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256");
    expect(info.stderr).toContain("MAC: sha256, Iteration 2048");
    writeFileSync(join(caDir, "leaf-9c.pem"), pem("CERTIFICATE", certificate));
    const verified = openssl(["verify", "-CAfile", "ca.pem", "leaf-9c.pem"], { cwd: caDir });
    expect(verified.stdout).toContain("leaf-9c.pem: OK");
    // Key and certificate agree as OpenSSL sees them.
    writeFileSync(join(caDir, "bundle-9c.pem"), out.stdout);
    const fromKey = openssl(["pkey", "-in", "bundle-9c.pem", "-pubout"], { cwd: caDir }).stdout;
    const fromCert = openssl(["x509", "-in", "bundle-9c.pem", "-noout", "-pubkey"], { cwd: caDir }).stdout;
    expect(fromKey).toBe(fromCert);
    expect(fromKey).toContain("PUBLIC KEY");
  });

  it("reads a file written by openssl pkcs12 -export and lists its third-party certificate", async () => {
    const device = await unlocked(await freshStore());
    const work = temp("cw-sw-3p-");
    expect(
      openssl(
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          "k.pem",
          "-out",
          "c.pem",
          "-subj",
          "/CN=Third Party",
          "-days",
          "1",
        ],
        { cwd: work },
      ).status,
    ).toBe(0);
    writeFileSync(join(work, "chain.pem"), readFileSync(join(caDir, "ca.pem")));
    const exported = openssl(
      [
        "pkcs12",
        "-export",
        "-inkey",
        "k.pem",
        "-in",
        "c.pem",
        "-certfile",
        "chain.pem",
        "-name",
        "Third Party",
        "-passout",
        "env:CW_PASS",
        "-out",
        join(device.directory, "imported.p12"),
      ],
      { cwd: work, password: PASSWORD },
    );
    expect(exported.status, exported.stderr).toBe(0);
    const thirdParty = pemBlocks(readFileSync(join(work, "c.pem"), "utf8"), "CERTIFICATE")[0] ?? new Uint8Array();
    const objects = await device.listObjects();
    expect(objects.map((o) => o.slot)).toEqual(["imported"]);
    const [imported] = objects;
    expect(Buffer.from(imported?.certificate ?? []).equals(Buffer.from(thirdParty))).toBe(true);
    expect(imported?.publicKey?.algorithm).toBe("RSA2048");
    expect(parseCertificate(imported?.certificate ?? new Uint8Array()).subject).toBe("CN=Third Party");
    // Its key signs, and the signature verifies under the third-party certificate.
    const data = new TextEncoder().encode("signed by an imported key");
    const signature = await device.sign("imported", "RSA2048", "SHA-256", data);
    const certKey = createPublicKey({
      key: Buffer.from(parseCertificate(thirdParty).spki),
      format: "der",
      type: "spki",
    });
    expect(verify("sha256", data, certKey, signature)).toBe(true);
  });

  it("refuses a file under another password, naming the file", async () => {
    const device = await unlocked(await freshStore());
    const work = temp("cw-sw-3p-");
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "k.pem",
        "-out",
        "c.pem",
        "-subj",
        "/CN=Other",
        "-days",
        "1",
      ],
      {
        cwd: work,
      },
    );
    openssl(
      [
        "pkcs12",
        "-export",
        "-inkey",
        "k.pem",
        "-in",
        "c.pem",
        "-passout",
        "pass:another-secret",
        "-out",
        join(device.directory, "other.p12"),
      ],
      {
        cwd: work,
      },
    );
    const err = await caught(device.listObjects());
    expect(err.code).toBe("SOFTSTORE_WRONG_PASSWORD");
    expect(err.details.file).toBe(join(device.directory, "other.p12"));
    expectNoSecret(err, "another-secret");
  });

  it("removes a certificate but keeps the key", async () => {
    const device = await unlocked(await freshStore());
    const publicKey = await device.generateKeyPair("9d", "RSA2048");
    await device.writeCertificate("9d", await issueForSlot(device, "9d", publicKey, caDir));
    await device.deleteCertificate("9d");
    expect(await device.readCertificate("9d")).toBeNull();
    const [object] = await device.listObjects();
    expect(object?.slot).toBe("9d");
    expect(object?.certificate).toBeUndefined();
    expect(Buffer.from(object?.publicKey?.spki ?? []).equals(Buffer.from(publicKey.spki))).toBe(true);
    const signature = await device.sign("9d", "RSA2048", "SHA-384", new Uint8Array([1, 2, 3]));
    const key = createPublicKey({ key: Buffer.from(publicKey.spki), format: "der", type: "spki" });
    expect(verify("sha384", new Uint8Array([1, 2, 3]), key, signature)).toBe(true);
    await device.deleteCertificate("9e"); // a slot without a file: nothing to do
  });

  it("generates RSA-3072 keys with the default iteration count", async () => {
    const device = await unlocked(await SoftwareStoreDevice.create(join(temp("cw-sw-"), "s"), { password: PASSWORD }));
    const publicKey = await device.generateKeyPair("9a", "RSA3072");
    expect(publicKey.algorithm).toBe("RSA3072");
    const signature = await device.sign("9a", "RSA3072", "SHA-512", new Uint8Array([9]));
    expect(signature.length).toBe(384);
    const info = openssl(["pkcs12", "-info", "-in", "9a.p12", "-passin", "env:CW_PASS", "-noout"], {
      cwd: device.directory,
      password: PASSWORD,
    });
    expect(info.status, info.stderr).toBe(0);
    expect(info.stderr + info.stdout).toContain("Iteration 100000");
  });
});

describe("typed errors", () => {
  it("names an empty slot, a key mismatch, a corrupt and a truncated file", async () => {
    const device = await unlocked(await freshStore());
    expect((await caught(device.sign("9a", "RSA2048", "SHA-256", new Uint8Array(1)))).code).toBe(
      "SOFTSTORE_SLOT_EMPTY",
    );
    expect(await device.readCertificate("9a")).toBeNull();
    const a = await device.generateKeyPair("9a", "RSA2048");
    const b = await device.generateKeyPair("9c", "RSA2048");
    const forB = await issueForSlot(device, "9c", b, caDir);
    expect((await caught(device.writeCertificate("9e", forB))).code).toBe("SOFTSTORE_SLOT_EMPTY");
    const before = readFileSync(join(device.directory, "9a.p12"));
    expect((await caught(device.writeCertificate("9a", forB))).code).toBe("SOFTSTORE_KEY_MISMATCH");
    expect(readFileSync(join(device.directory, "9a.p12")).equals(before)).toBe(true);
    expect((await caught(device.sign("9a", "RSA3072", "SHA-256", new Uint8Array(1)))).code).toBe(
      "SOFTSTORE_KEY_MISMATCH",
    );
    expect(a.spki).not.toEqual(b.spki);
    writeFileSync(join(device.directory, "9c.p12"), before.subarray(0, before.length - 40));
    expect((await caught(device.readCertificate("9c"))).code).toBe("SOFTSTORE_CORRUPT");
    writeFileSync(join(device.directory, "9d.p12"), "not a PKCS#12 file");
    const corrupt = await caught(device.listObjects());
    expect(corrupt.code).toBe("SOFTSTORE_CORRUPT");
    const tampered = Buffer.from(before);
    const middle = Math.floor(tampered.length / 2);
    tampered[middle] = (tampered[middle] ?? 0) ^ 0xff;
    writeFileSync(join(device.directory, "9e.p12"), tampered);
    expect(["SOFTSTORE_WRONG_PASSWORD", "SOFTSTORE_CORRUPT"]).toContain(
      (await caught(device.readCertificate("9e"))).code,
    );
  });

  it("enforces admin authentication and PIN verification", async () => {
    const device = await freshStore();
    expect((await caught(device.generateKeyPair("9a", "RSA2048"))).code).toBe("SOFTSTORE_NOT_AUTHENTICATED");
    const wrong = await caught(device.authenticateAdmin({ kind: "so-pin", pin: "guess" }));
    expect(wrong.code).toBe("SOFTSTORE_WRONG_PASSWORD");
    expectNoSecret(wrong, "guess");
    const mgm = await caught(
      device.authenticateAdmin({ kind: "management-key", algorithm: "AES192", key: new Uint8Array(24) }),
    );
    expect(mgm.code).toBe("DEVICE_CAPABILITY");
    await device.authenticateAdmin({ kind: "so-pin", pin: PASSWORD });
    await device.generateKeyPair("9a", "RSA2048");
    expect((await caught(device.sign("9a", "RSA2048", "SHA-256", new Uint8Array(1)))).code).toBe(
      "SOFTSTORE_NOT_AUTHENTICATED",
    );
    expect((await caught(device.verifyPin("123456"))).code).toBe("SOFTSTORE_WRONG_PASSWORD");
    await device.verifyPin(PASSWORD);
    expect((await device.sign("9a", "RSA2048", "SHA-256", new Uint8Array(1))).length).toBe(256);
    await device.close();
    expect((await caught(device.listObjects())).code).toBe("DEVICE_NOT_FOUND");
  });

  it("throws DEVICE_CAPABILITY naming the capability for what a store cannot do", async () => {
    const device = await unlocked(await freshStore());
    const cases: Array<[Promise<unknown>, string]> = [
      [device.changePin(PASSWORD, "new-password"), "pinChange"],
      [device.changePuk("1", "2"), "pinUnblock"],
      [device.unblockPin("1", "2"), "pinUnblock"],
      [device.reset(), "reset"],
      [device.setAdminCredential({ kind: "so-pin", pin: "x" }), "adminCredentialChange"],
      [device.writeCardIdentifiers(), "cardIdentifiers"],
      [device.attest("9a"), "attestation"],
      [device.pinStatus(), "pinRetries"],
      [device.generateKeyPair("9a", "ECCP256"), "keyAlgorithm"],
      [device.generateKeyPair("01", "RSA2048"), "slot"],
      [device.readCertificate("../escape"), "slot"],
    ];
    for (const [call, capability] of cases) {
      const err = await caught(call);
      expect(err.code, capability).toBe("DEVICE_CAPABILITY");
      expect(err.details.capability).toBe(capability);
    }
    expect(device.capabilities).toMatchObject({
      keyAlgorithms: ["RSA2048", "RSA3072"],
      pinChange: false,
      pinUnblock: false,
      reset: false,
      adminCredentialChange: false,
      attestation: false,
      cardIdentifiers: false,
    });
  });

  it("names a directory it cannot write", async (ctx) => {
    const device = await unlocked(await freshStore());
    // Root ignores permission bits; the immutable attribute stops it (ext4 and most Linux file systems).
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      if (spawnSync("chattr", ["+i", device.directory]).status !== 0) ctx.skip();
    } else {
      chmodSync(device.directory, 0o500);
    }
    try {
      const err = await caught(device.generateKeyPair("9a", "RSA2048"));
      expect(err.code).toBe("SOFTSTORE_UNAVAILABLE");
      expect(err.details.reason).toBe("not-writable");
      expect(readdirSync(device.directory)).toEqual([METADATA_FILE]);
    } finally {
      if (asRoot) spawnSync("chattr", ["-i", device.directory]);
      else chmodSync(device.directory, 0o700);
    }
  });

  it("names a store directory removed while open", async () => {
    const t = tempDir("cw-sw-gone-");
    const device = await unlocked(
      await SoftwareStoreDevice.create(join(t.dir, "s"), { password: PASSWORD, iterations: MIN_ITERATIONS }),
    );
    t.cleanup();
    const err = await caught(device.generateKeyPair("9a", "RSA2048"));
    expect(err.code).toBe("SOFTSTORE_UNAVAILABLE");
    expect(err.details.reason).toBe("missing");
  });
});

describe("SoftwareStoreProvider", () => {
  it("lists the machine and user stores and opens them by scope or serial with the password callback", async () => {
    const base = temp("cw-sw-prov-");
    const machine = await SoftwareStoreDevice.create(join(base, "machine"), {
      password: "machine-pw",
      scope: "machine",
      iterations: MIN_ITERATIONS,
    });
    const asked: string[] = [];
    const provider = new SoftwareStoreProvider({
      machine: join(base, "machine"),
      user: join(base, "user"),
      password: ({ scope }) => {
        asked.push(scope);
        return scope === "machine" ? "machine-pw" : "user-pw";
      },
    });
    expect((await provider.list()).map((i) => i.serial)).toEqual([machine.identity.serial]);
    const user = await SoftwareStoreDevice.create(join(base, "user"), {
      password: "user-pw",
      scope: "user",
      iterations: MIN_ITERATIONS,
    });
    expect((await provider.list()).map((i) => i.serial)).toEqual([machine.identity.serial, user.identity.serial]);
    expect((await provider.open({ reader: "user" })).identity.serial).toBe(user.identity.serial);
    expect((await provider.open({ serial: machine.identity.serial })).identity.serial).toBe(machine.identity.serial);
    expect((await provider.open()).identity.serial).toBe(machine.identity.serial);
    expect(asked).toEqual(["user", "machine", "machine"]);
    const none = await caught(provider.open({ serial: "0000000000000000" }));
    expect(none.code).toBe("DEVICE_NOT_FOUND");
    expect(isCardwrightError(none)).toBe(true);
  });
});
