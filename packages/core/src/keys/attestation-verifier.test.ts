/**
 * The attestation verifier against chains built by OpenSSL (an independent X.509 implementation):
 * root → device attestation certificate (F9) → slot attestation with Yubico's extensions. Every
 * verdict is cross-checked with `openssl verify -partial_chain`.
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CardwrightError, isCardwrightError } from "../errors.js";
import { parseCertificate } from "../pki/certificate.js";
import { verifyPivAttestation } from "./attestation-verifier.js";

const run = promisify(execFile);
let dir: string;

const openssl = (...args: string[]) => run("openssl", args, { cwd: dir });
const derOf = async (name: string) => {
  await openssl("x509", "-in", `${name}.pem`, "-outform", "DER", "-out", `${name}.der`);
  return new Uint8Array(await readFile(join(dir, `${name}.der`)));
};

async function ca(name: string, subject: string): Promise<void> {
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-subj",
    subject,
    "-days",
    "3650",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
}

/** Issue `name` for the key in `name.key` under `issuer`, with the extensions of `ext`. */
async function issue(name: string, subject: string, issuer: string, ext: string, days = 365): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl("req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`);
  await openssl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${issuer}.pem`,
    "-CAkey",
    `${issuer}.key`,
    "-set_serial",
    String(Math.floor(Math.random() * 1e9)),
    "-days",
    String(days),
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  );
}

async function newKey(name: string): Promise<Uint8Array> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  await writeFile(join(dir, `${name}.key`), privateKey.export({ format: "pem", type: "pkcs8" }));
  return new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
}

async function opensslVerdict(root: string, intermediate: string, leaf: string): Promise<boolean> {
  try {
    await openssl(
      "verify",
      "-partial_chain",
      "-CAfile",
      `${root}.pem`,
      "-untrusted",
      `${intermediate}.pem`,
      `${leaf}.pem`,
    );
    return true;
  } catch {
    return false;
  }
}

const YUBICO_EXT = [
  "1.3.6.1.4.1.41482.3.3=DER:05:07:01", // firmware 5.7.1
  "1.3.6.1.4.1.41482.3.7=DER:02:04:00:98:96:80", // serial 10000000
  "1.3.6.1.4.1.41482.3.8=DER:01:01", // PIN policy 1 (never), touch policy 1 (never)
].join("\n");

let root: Uint8Array;
let otherRoot: Uint8Array;
let f9: Uint8Array;
let leaf: Uint8Array;
let leafKey: Uint8Array;
let forged: Uint8Array;
/** Set once the certificates exist: OpenSSL dates them from the second they were made. */
let now: Date;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cardwright-attestation-"));
  await ca("root", "/CN=Test PIV Attestation Root");
  await ca("other", "/CN=Another Root");
  await newKey("f9");
  await issue("f9", "/CN=Yubico PIV Attestation", "root", "basicConstraints=critical,CA:TRUE\n", 3650);
  leafKey = await newKey("leaf");
  await issue("leaf", "/CN=YubiKey PIV Attestation 9d", "f9", YUBICO_EXT);
  // A leaf claiming the F9 issuer name but signed by another key.
  await newKey("evilf9");
  await issue("evilf9", "/CN=Yubico PIV Attestation", "other", "basicConstraints=critical,CA:TRUE\n", 3650);
  await newKey("forged");
  await issue("forged", "/CN=YubiKey PIV Attestation 9d", "evilf9", YUBICO_EXT);
  root = await derOf("root");
  otherRoot = await derOf("other");
  f9 = await derOf("f9");
  leaf = await derOf("leaf");
  forged = await derOf("forged");
  now = new Date(Date.now() + 1000);
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function check(p: Promise<unknown>): Promise<CardwrightError> {
  try {
    await p;
  } catch (err) {
    if (isCardwrightError(err)) return err;
    throw err;
  }
  throw new Error("expected ATTESTATION_FAILED, nothing was thrown");
}

describe("verifyPivAttestation", () => {
  it("accepts leaf → F9 → root, reads Yubico's extensions; openssl agrees", async () => {
    const facts = await verifyPivAttestation([leaf, f9], {
      roots: [otherRoot, root],
      publicKey: leafKey,
      slot: "9D",
      now,
      serial: "10000000",
    });
    expect(facts).toMatchObject({ slot: "9d", serial: 10000000, firmware: "5.7.1", pinPolicy: 1, touchPolicy: 1 });
    expect(Buffer.from(facts.root).equals(Buffer.from(root))).toBe(true);
    expect(await opensslVerdict("root", "f9", "leaf")).toBe(true);
  });

  it("refuses a chain to a root that is not configured; openssl agrees", async () => {
    const err = await check(
      verifyPivAttestation([leaf, f9], { roots: [otherRoot], publicKey: leafKey, slot: "9d", now }),
    );
    expect(err.code).toBe("ATTESTATION_FAILED");
    expect(err.details.check).toBe("root");
    expect(await opensslVerdict("other", "f9", "leaf")).toBe(false);
  });

  it("refuses a leaf whose issuer name matches but whose signature does not; openssl agrees", async () => {
    const forgedKeyErr = await check(
      verifyPivAttestation([forged, f9], {
        roots: [root],
        publicKey: parseCertificate(forged).spki,
        slot: "9d",
        now,
      }),
    );
    expect(forgedKeyErr.details.check).toBe("signature");
    expect(await opensslVerdict("root", "f9", "forged")).toBe(false);
  });

  it("refuses an attestation of another key, another slot, another device, or out of validity", async () => {
    const other = new Uint8Array(
      generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" }),
    );
    const base = { roots: [root], publicKey: leafKey, slot: "9d", now };
    expect((await check(verifyPivAttestation([leaf, f9], { ...base, publicKey: other }))).details.check).toBe(
      "publicKey",
    );
    expect((await check(verifyPivAttestation([leaf, f9], { ...base, slot: "9a" }))).details.check).toBe("slot");
    expect((await check(verifyPivAttestation([leaf, f9], { ...base, serial: "12345" }))).details.check).toBe("serial");
    const later = new Date(now.getTime() + 2 * 365 * 24 * 3600 * 1000);
    expect((await check(verifyPivAttestation([leaf, f9], { ...base, now: later }))).details.check).toBe("validity");
  });

  it("refuses an empty chain, no roots, a chain missing its F9 certificate, and garbage", async () => {
    const base = { roots: [root], publicKey: leafKey, slot: "9d", now };
    expect((await check(verifyPivAttestation([], base))).details.check).toBe("chain");
    expect((await check(verifyPivAttestation([leaf, f9], { ...base, roots: [] }))).details.check).toBe("root");
    expect((await check(verifyPivAttestation([leaf], base))).details.check).toBe("root");
    expect((await check(verifyPivAttestation([Uint8Array.of(1, 2, 3)], base))).details.check).toBe("chain");
  });
});
