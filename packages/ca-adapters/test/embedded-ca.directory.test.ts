/**
 * A CA kept in a directory: key file permissions, reopening, idempotency and the manual
 * approval flow across instances that share the directory (as a resumed workflow in another
 * process would).
 */

import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCardwrightError } from "@cardwright/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CaFile, EmbeddedCa, fromPem, toPem } from "../src/index.js";
import { makeCsr } from "./support/csr.js";
import { type OpensslWorkspace, opensslWorkspace } from "./support/openssl.js";
import { pivAuthProfile, serialHexOf } from "./support/x509.js";

let ws: OpensslWorkspace;
beforeAll(async () => {
  ws = await opensslWorkspace();
});
afterAll(async () => {
  await ws.dispose();
});
const dirs: string[] = [];
async function caDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-ca-"));
  dirs.push(dir);
  return join(dir, "ca");
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  return isCardwrightError(error) ? error.code : `not a CardwrightError: ${String(error)}`;
}

describe("embedded CA in a directory", () => {
  it("writes the key as PKCS#8 PEM with mode 0600 that OpenSSL pairs with the certificate", async () => {
    const directory = await caDirectory();
    const ca = await EmbeddedCa.create({
      id: "disk",
      subject: "CN=Disk Root",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
      directory,
    });
    const keyPath = join(directory, CaFile.privateKey);
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(directory)).mode & 0o777).toBe(0o700);
    expect((await stat(join(directory, CaFile.state))).mode & 0o777).toBe(0o600);
    const keyPem = await readFile(keyPath, "utf8");
    expect(keyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    expect(await readFile(join(directory, CaFile.certificate), "utf8")).toBe(ca.certificatePem());

    const fromKey = await ws.run("pkey", "-in", keyPath, "-pubout");
    await ws.write("disk-root.pem", ca.certificatePem());
    const fromCert = await ws.run("x509", "-in", "disk-root.pem", "-noout", "-pubkey");
    expect(fromKey.code).toBe(0);
    expect(fromKey.stdout).toBe(fromCert.stdout);
  });

  it("reopens the same CA: same certificate, same outcomes for known requestIds, no second issue", async () => {
    const directory = await caDirectory();
    const first = await EmbeddedCa.create({
      id: "reuse",
      subject: "CN=Reuse Root",
      keyAlgorithm: "RSA2048",
      validityDays: 365,
      directory,
    });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Repeat", upn: "repeat@corp.example" });
    const issued = await first.submit({ requestId: "repeat-1", csr: csr.der, profile: pivAuthProfile });
    expect(issued.status).toBe("issued");

    const second = await EmbeddedCa.open({ directory });
    expect(second.id).toBe("reuse");
    expect(second.certificate).toEqual(first.certificate);
    expect(await second.chain()).toEqual([first.certificate]);
    expect(await second.submit({ requestId: "repeat-1", csr: csr.der, profile: pivAuthProfile })).toEqual(issued);
    // What is on disk (snapshot and journal, read by a fresh instance) holds one certificate.
    expect(await (await EmbeddedCa.open({ directory })).listIssued()).toHaveLength(1);

    // A certificate issued by the reopened CA validates against the original root.
    const more = await second.submit({ requestId: "repeat-2", csr: csr.der, profile: pivAuthProfile });
    if (more.status !== "issued") throw new Error("expected issued");
    await ws.write("reuse-root.pem", first.certificatePem());
    await ws.write("reuse-leaf.pem", toPem(more.certificate, "CERTIFICATE"));
    expect((await ws.run("verify", "-CAfile", "reuse-root.pem", "reuse-leaf.pem")).stdout).toBe("reuse-leaf.pem: OK\n");

    // Revocation made through one instance is on the CRL the other signs.
    await second.revoke(serialHexOf(more.certificate), "superseded");
    await ws.write("reuse.crl", toPem(await first.crl(), "X509 CRL"));
    const check = await ws.run(
      "verify",
      "-crl_check",
      "-CAfile",
      "reuse-root.pem",
      "-CRLfile",
      "reuse.crl",
      "reuse-leaf.pem",
    );
    expect(check.stdout + check.stderr).toMatch(/certificate revoked/);
  });

  it("holds requests for approval; another instance approves or rejects; the first sees the outcome", async () => {
    const directory = await caDirectory();
    const workflowSide = await EmbeddedCa.create({
      id: "manual",
      subject: "CN=Manual Root",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
      directory,
      approvalMode: "manual",
      retryAfterSeconds: 30,
    });
    const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=Waiting,O=Example" });
    const pending = await workflowSide.submit({ requestId: "wait-1", csr: csr.der, profile: pivAuthProfile });
    expect(pending).toMatchObject({ status: "pending", retryAfterSeconds: 30 });
    if (pending.status !== "pending") return;
    expect(await workflowSide.submit({ requestId: "wait-1", csr: csr.der, profile: pivAuthProfile })).toEqual(pending);
    const doomed = await workflowSide.submit({ requestId: "wait-2", csr: csr.der, profile: pivAuthProfile });
    if (doomed.status !== "pending") throw new Error("expected pending");

    const operatorSide = await EmbeddedCa.open({ directory });
    expect(await operatorSide.listPending()).toEqual([
      expect.objectContaining({
        caRequestId: pending.caRequestId,
        requestId: "wait-1",
        subject: "CN=Waiting,O=Example",
        templateId: "piv-auth",
      }),
      expect.objectContaining({ caRequestId: doomed.caRequestId, requestId: "wait-2" }),
    ]);
    const approved = await operatorSide.approve(pending.caRequestId);
    expect(approved.status).toBe("issued");
    expect(await operatorSide.approve(pending.caRequestId)).toEqual(approved);
    expect(await operatorSide.reject(doomed.caRequestId, "identity not verified")).toEqual({
      status: "rejected",
      caRequestId: doomed.caRequestId,
      reason: "identity not verified",
    });

    // A resumed workflow (fresh instance) polls and resubmits: same answers.
    const resumed = await EmbeddedCa.open({ directory });
    expect(await resumed.poll(pending.caRequestId)).toEqual(approved);
    expect(await workflowSide.poll(pending.caRequestId)).toEqual(approved);
    expect(await resumed.submit({ requestId: "wait-1", csr: csr.der, profile: pivAuthProfile })).toEqual(approved);
    expect(await resumed.poll(doomed.caRequestId)).toMatchObject({
      status: "rejected",
      reason: "identity not verified",
    });
    expect(await resumed.listPending()).toEqual([]);
    expect(await codeOf(resumed.approve(doomed.caRequestId))).toBe("CA_WRONG_STATE");
    expect(await codeOf(resumed.reject(pending.caRequestId, "too late"))).toBe("CA_WRONG_STATE");

    if (approved.status !== "issued") return;
    await ws.write("manual-root.pem", workflowSide.certificatePem());
    await ws.write("manual-leaf.pem", toPem(approved.certificate, "CERTIFICATE"));
    expect((await ws.run("verify", "-CAfile", "manual-root.pem", "manual-leaf.pem")).stdout).toBe(
      "manual-leaf.pem: OK\n",
    );
  });

  it("keeps an issuing CA's chain across a reopen", async () => {
    const rootDirectory = await caDirectory();
    const issuingDirectory = await caDirectory();
    const root = await EmbeddedCa.create({
      id: "root",
      subject: "CN=Disk Root",
      keyAlgorithm: "ECCP384",
      validityDays: 365,
      directory: rootDirectory,
    });
    const issuing = await EmbeddedCa.createIssuing({
      parent: root,
      id: "issuing",
      subject: "CN=Disk Issuing",
      keyAlgorithm: "ECCP256",
      validityDays: 200,
      directory: issuingDirectory,
    });
    const reopened = await EmbeddedCa.open({ directory: issuingDirectory });
    expect(await reopened.chain()).toEqual([issuing.certificate, root.certificate]);
    const chainPem = await readFile(join(issuingDirectory, CaFile.chain), "utf8");
    expect(fromPem(chainPem, "CERTIFICATE")).toEqual(issuing.certificate);
    // The root's own directory remembers the issuing CA it signed.
    const reopenedRoot = await EmbeddedCa.open({ directory: rootDirectory });
    expect((await reopenedRoot.certificateStatus(serialHexOf(issuing.certificate))).subject).toBe("CN=Disk Issuing");
  });

  it("refuses to create over an existing CA, to open an empty directory, or a key that is not the CA's", async () => {
    const directory = await caDirectory();
    await EmbeddedCa.create({ id: "one", subject: "CN=One", keyAlgorithm: "ECCP256", validityDays: 365, directory });
    expect(
      await codeOf(
        EmbeddedCa.create({ id: "two", subject: "CN=Two", keyAlgorithm: "ECCP256", validityDays: 365, directory }),
      ),
    ).toBe("CONFIG_INVALID");
    expect(await codeOf(EmbeddedCa.open({ directory: await caDirectory() }))).toBe("CONFIG_INVALID");

    const other = await caDirectory();
    await EmbeddedCa.create({
      id: "other",
      subject: "CN=Other",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
      directory: other,
    });
    const { copyFile } = await import("node:fs/promises");
    await copyFile(join(other, CaFile.privateKey), join(directory, CaFile.privateKey));
    expect(await codeOf(EmbeddedCa.open({ directory }))).toBe("CONFIG_INVALID");
  });

  it("validates create options with CONFIG_INVALID", async () => {
    const base = { id: "x", subject: "CN=X", keyAlgorithm: "ECCP256" as const, validityDays: 365 };
    expect(await codeOf(EmbeddedCa.create({ ...base, id: " " }))).toBe("CONFIG_INVALID");
    expect(await codeOf(EmbeddedCa.create({ ...base, subject: "nonsense" }))).toBe("CONFIG_INVALID");
    expect(await codeOf(EmbeddedCa.create({ ...base, keyAlgorithm: "ED25519" as never }))).toBe("CONFIG_INVALID");
    expect(await codeOf(EmbeddedCa.create({ ...base, validityDays: 1.5 }))).toBe("CONFIG_INVALID");
    expect(await codeOf(EmbeddedCa.create({ ...base, crlUrl: "not a url" }))).toBe("CONFIG_INVALID");
  });
});
