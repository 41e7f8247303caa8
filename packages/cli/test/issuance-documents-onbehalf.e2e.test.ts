/**
 * End-to-end enroll on behalf (RFC 5272 CMC) and document check on virtual YubiKeys with the
 * embedded CA and the PGlite store, every part real. Enrollment-agent certificates are made with
 * the openssl command line; the CMC the SDK sends is verified by the embedded CA (signature, chain
 * to the trusted agent issuer, Certificate Request Agent EKU) and again by `openssl cms -verify`.
 */

import { spawnSync } from "node:child_process";
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  Cardwright,
  type CertificateAuthority,
  type CertificateRequest,
  type EnrollmentAgent,
  type HashAlgorithm,
  type IssueResult,
  type Policy,
  readCmcFullPkiRequest,
} from "@cardwright/core";
import { InMemoryDirectory, RecordingNotifier } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { PgliteStore } from "@cardwright/store-sql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "../src/index.js";
import { rejection } from "./support/errors.js";
import { verifyCertificate } from "./support/openssl.js";
import { pem } from "./support/pem.js";
import { TEST_KEK } from "./support/stack.js";

const REQUEST_AGENT_EKU = "1.3.6.1.4.1.311.20.2.1";

/** Runs openssl in `dir`, where keys, certificates and messages stay between calls. */
function run(dir: string, args: string[]): { status: number; output: string } {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

function opensslIn(dir: string, args: string[]): void {
  const r = run(
    dir,
    args.map((a) => a.replace(/^@/, "")),
  );
  expect(r.status, r.output).toBe(0);
}

interface Agent {
  certificate: Uint8Array;
  key: KeyObject;
  keyPem: string;
}

/** A P-256 agent key and certificate signed by `issuer` (or self-signed), with the given EKUs. */
function makeAgent(dir: string, name: string, issuer: string | undefined, ekus: string[], ca = false): Agent {
  const ext = join(dir, `${name}.ext`);
  const lines = ca
    ? ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
    : ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"];
  if (ekus.length > 0) lines.push(`extendedKeyUsage=${ekus.join(",")}`);
  writeFileSync(ext, `${lines.join("\n")}\n`);
  opensslIn(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `@${name}.key`]);
  if (issuer === undefined) {
    opensslIn(dir, [
      "req",
      "-x509",
      "-new",
      "-key",
      `@${name}.key`,
      "-subj",
      `/CN=${name}/O=Example Corp`,
      "-days",
      "30",
      ...lines.flatMap((l) => ["-addext", l]),
      "-outform",
      "DER",
      "-out",
      `@${name}.der`,
    ]);
  } else {
    opensslIn(dir, [
      "req",
      "-new",
      "-key",
      `@${name}.key`,
      "-subj",
      `/CN=${name}/O=Example Corp`,
      "-out",
      `@${name}.csr`,
    ]);
    opensslIn(dir, [
      "x509",
      "-req",
      "-in",
      `@${name}.csr`,
      "-CA",
      `@${issuer}.pem`,
      "-CAkey",
      `@${issuer}.key`,
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      ext,
      "-outform",
      "DER",
      "-out",
      `@${name}.der`,
    ]);
  }
  const certificate = new Uint8Array(readFileSync(join(dir, `${name}.der`)));
  writeFileSync(join(dir, `${name}.pem`), pem("CERTIFICATE", certificate));
  const keyPem = readFileSync(join(dir, `${name}.key`), "utf8");
  return { certificate, key: createPrivateKey(keyPem), keyPem };
}

/** The enrollment agent as the embedding app configures it: the key signs through the callback only. */
function agentOf(certificate: Uint8Array, key: KeyObject): EnrollmentAgent {
  return {
    certificate,
    sign: async (data: Uint8Array, hash: HashAlgorithm) =>
      new Uint8Array(sign(hash.replace("-", "").toLowerCase(), data, { key, dsaEncoding: "der" })),
  };
}

/** The real CA, keeping every request it was sent (to check the CMC on the wire). */
class CapturingCa implements CertificateAuthority {
  readonly requests: CertificateRequest[] = [];
  constructor(private readonly ca: EmbeddedCa) {}
  get id() {
    return this.ca.id;
  }
  get renewal() {
    return this.ca.renewal;
  }
  submit: CertificateAuthority["submit"] = (r) => {
    this.requests.push(r);
    return this.ca.submit(r);
  };
  poll: CertificateAuthority["poll"] = (id) => this.ca.poll(id);
  renew: CertificateAuthority["renew"] = (r) => this.ca.renew(r);
  revoke: CertificateAuthority["revoke"] = (s, r) => this.ca.revoke(s, r);
  suspend: CertificateAuthority["suspend"] = (s) => this.ca.suspend(s);
  unsuspend: CertificateAuthority["unsuspend"] = (s) => this.ca.unsuspend(s);
  chain: CertificateAuthority["chain"] = () => this.ca.chain();
}

let serial = 7_300_000;
async function newDevice(): Promise<PivDevice> {
  serial += 1;
  const card = await VirtualPivCard.create({ serial });
  return PivDevice.open(new InMemoryTransport(card));
}

const vault = () => new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" });

describe("enroll on behalf: the request goes to the CA as CMC signed by the enrollment agent", () => {
  let dir: string;
  let store: PgliteStore;
  let ca: EmbeddedCa;
  let capturing: CapturingCa;
  let trusted: Agent;
  let noEku: Agent;
  let rogue: Agent;
  const policy: Policy = { ...staffPivPolicy, id: "staff-piv-on-behalf", issuance: { enrollOnBehalf: true } };
  /** One certificate is enough to see a refusal. */
  const refusalPolicy: Policy = { ...policy, certificates: [staffPivPolicy.certificates[0]!] };

  function sdk(agent: EnrollmentAgent, p: Policy = policy): Cardwright {
    return new Cardwright({
      store,
      vault: vault(),
      directory: new InMemoryDirectory(sampleUsers),
      certificateAuthorities: [capturing],
      policies: [p],
      enrollmentAgent: agent,
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cw-onbehalf-"));
    makeAgent(dir, "agent-issuer", undefined, [], true);
    trusted = makeAgent(dir, "enrollment-agent", "agent-issuer", [REQUEST_AGENT_EKU]);
    noEku = makeAgent(dir, "agent-without-eku", "agent-issuer", ["clientAuth"]);
    makeAgent(dir, "rogue-issuer", undefined, [], true);
    rogue = makeAgent(dir, "rogue-agent", "rogue-issuer", [REQUEST_AGENT_EKU]);
    ca = await EmbeddedCa.create({
      id: DEMO_CA_ID,
      subject: "CN=Cardwright On-Behalf Test CA,O=Example Corp",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
      enrollmentAgentIssuers: [new Uint8Array(readFileSync(join(dir, "agent-issuer.der")))],
    });
    capturing = new CapturingCa(ca);
    store = await PgliteStore.open({ dataDir: join(dir, "store") });
  });
  afterAll(async () => {
    await store?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("issues a card whose requests the embedded CA and openssl cms -verify both accept as signed by the agent", async () => {
    const device = await newDevice();
    const before = capturing.requests.length;
    const r = await sdk(agentOf(trusted.certificate, trusted.key)).issueCard({
      userId: "alice",
      device,
      actor: "operator-1",
    });
    expect(r.status).toBe("active");
    const issued = r as Extract<IssueResult, { status: "active" }>;
    expect(issued.certificates).toHaveLength(2);
    const sent = capturing.requests.slice(before);
    expect(sent).toHaveLength(2);
    const chain = await ca.chain();
    for (const request of sent) {
      expect(request.cmc).toBeDefined();
      const cmc = readCmcFullPkiRequest(request.cmc!);
      expect(Buffer.from(cmc.requests[0]!.csr).equals(Buffer.from(request.csr))).toBe(true);
      expect(Buffer.from(cmc.signerCertificate).equals(Buffer.from(trusted.certificate))).toBe(true);
      // openssl, with the agent issuer as the only trust anchor, must verify the signature and chain.
      writeFileSync(join(dir, "req.cmc"), request.cmc!);
      const verify = (anchor: string) =>
        run(dir, [
          "cms",
          "-verify",
          "-inform",
          "DER",
          "-in",
          "req.cmc",
          "-CAfile",
          anchor,
          "-purpose",
          "any",
          "-out",
          "pkidata.der",
        ]);
      const verified = verify("agent-issuer.pem");
      expect(verified.status, verified.output).toBe(0);
      expect(verified.output).toContain("Verification successful");
      expect(readFileSync(join(dir, "pkidata.der")).includes(Buffer.from(request.csr))).toBe(true);
      // ...and refuse it against the rogue issuer: the check can fail.
      expect(verify("rogue-issuer.pem").status).not.toBe(0);
    }
    for (const cert of issued.certificates) {
      const der = new Uint8Array(Buffer.from(cert.certificate!, "base64"));
      const v = verifyCertificate(der, chain);
      expect(v.status, v.output).toBe(0);
    }
    const onBehalf = (await store.audit.list({ cardId: issued.card.id })).filter(
      (e) => e.action === "request.signed-on-behalf",
    );
    expect(onBehalf).toHaveLength(2);
    expect(onBehalf[0]?.details).toMatchObject({ agentSubject: "O=Example Corp,CN=enrollment-agent" });
    // The agent's key never reaches the store: not in snapshots, operations or audit events.
    const keyB64 = trusted.key.export({ format: "der", type: "pkcs8" }).toString("base64");
    const keyBody = trusted.keyPem
      .split("\n")
      .filter((l) => !l.startsWith("-----"))
      .join("");
    const rows = JSON.stringify([
      await store.operations.list({ cardId: issued.card.id }),
      await store.audit.list({ cardId: issued.card.id }),
      await store.requests.listByOperation(onBehalf[0]!.operationId!),
    ]);
    expect(rows).not.toContain(keyB64.slice(20, 80));
    expect(rows).not.toContain(keyBody.slice(20, 80));
  });

  it("refuses an agent certified by an issuer the CA does not trust (CA_REJECTED), writing nothing to the card", async () => {
    const device = await newDevice();
    const err = await rejection(
      sdk(agentOf(rogue.certificate, rogue.key), refusalPolicy).issueCard({
        userId: "bob",
        device,
        actor: "operator-1",
      }),
    );
    expect(err.code).toBe("CA_REJECTED");
    expect(err.details.reason).toMatch(/is not certified by a trusted enrollment-agent issuer/);
    expect((await device.listObjects()).filter((o) => o.certificate !== undefined)).toEqual([]);
    const card = (await store.cards.list({ deviceSerial: device.identity.serial }))[0]!;
    expect(card.state).toBe("registered");
  });

  it("refuses an agent without the Certificate Request Agent EKU (CA_REJECTED)", async () => {
    const device = await newDevice();
    const err = await rejection(
      sdk(agentOf(noEku.certificate, noEku.key), refusalPolicy).issueCard({
        userId: "bob",
        device,
        actor: "operator-1",
      }),
    );
    expect(err.code).toBe("CA_REJECTED");
    expect(err.details.reason).toContain(`lacks the Certificate Request Agent EKU ${REQUEST_AGENT_EKU}`);
    expect((await device.listObjects()).filter((o) => o.certificate !== undefined)).toEqual([]);
  });

  it("refuses a CMC whose signature does not verify under the agent certificate (CA_INVALID_REQUEST)", async () => {
    const device = await newDevice();
    const err = await rejection(
      sdk(agentOf(trusted.certificate, rogue.key), refusalPolicy).issueCard({
        userId: "bob",
        device,
        actor: "operator-1",
      }),
    );
    expect(err.code).toBe("CA_INVALID_REQUEST");
    expect(err.message).toContain("signature does not verify");
  });

  it("refuses to build an SDK whose policy enrolls on behalf without an agent (CONFIG_INVALID)", () => {
    expect(
      () =>
        new Cardwright({
          store,
          vault: vault(),
          directory: new InMemoryDirectory(sampleUsers),
          certificateAuthorities: [capturing],
          policies: [policy],
        }),
    ).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });

  it("keeps the audit chain intact", async () => {
    expect((await sdk(agentOf(trusted.certificate, trusted.key)).verifyAudit()).ok).toBe(true);
  });
});

describe("document check: certificates are written only after an administrator approves the documents", () => {
  let dir: string;
  let store: PgliteStore;
  let ca: EmbeddedCa;
  let notifier: RecordingNotifier;
  let cardwright: Cardwright;
  const policy: Policy = {
    ...staffPivPolicy,
    id: "staff-piv-documents",
    documents: {
      required: [
        { type: "certificate-request-form", name: "Certificate request form" },
        { type: "certificate-form", name: "Certificate form" },
      ],
    },
  };
  const alice = { id: "alice", kind: "user" as const };
  const admin1 = { id: "admin-1", kind: "operator" as const };
  const admin2 = { id: "admin-2", kind: "operator" as const };
  const pdf = (text: string) => new TextEncoder().encode(`%PDF-1.7\n% ${text}\n`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cw-documents-"));
    ca = await EmbeddedCa.create({
      id: DEMO_CA_ID,
      subject: "CN=Cardwright Documents Test CA,O=Example Corp",
      keyAlgorithm: "ECCP256",
      validityDays: 365,
    });
    store = await PgliteStore.open({ dataDir: join(dir, "store") });
    notifier = new RecordingNotifier();
    cardwright = new Cardwright({
      store,
      vault: vault(),
      directory: new InMemoryDirectory(sampleUsers),
      certificateAuthorities: [ca],
      policies: [policy],
      notifier,
    });
  });
  afterAll(async () => {
    await store?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("pending → rejected → re-upload → approved → resume completes, nothing written before approval", async () => {
    const device = await newDevice();
    const noCertificates = async () =>
      expect((await device.listObjects()).filter((o) => o.certificate !== undefined)).toEqual([]);

    // 1. The issue stops before writing: no document yet.
    const first = await cardwright.issueCard({ userId: "alice", device, actor: "operator-1" });
    expect(first.status).toBe("pending");
    const pending = first as Extract<IssueResult, { status: "pending" }>;
    expect(pending.documents?.status).toBe("awaiting");
    expect(pending.documents?.documents.map((d) => d.status)).toEqual(["missing", "missing"]);
    expect(pending.card.state).toBe("pending");
    await noCertificates();
    expect(notifier.ofKind("documents-review-requested")).toHaveLength(1);
    const cardId = pending.card.id;
    const operationId = pending.operationId;

    // 2. Alice uploads both forms; admin-1 approves one and rejects the other.
    const request = await cardwright.uploadDocument({
      cardId,
      type: "certificate-request-form",
      fileName: "request.pdf",
      contentType: "application/pdf",
      content: pdf("request form, signed"),
      actor: alice,
    });
    const form = await cardwright.uploadDocument({
      cardId,
      type: "certificate-form",
      fileName: "form.pdf",
      contentType: "application/pdf",
      content: pdf("certificate form, unsigned"),
      actor: alice,
    });
    expect(form.operationId).toBe(operationId);
    const review = await cardwright.reviewDocuments({
      actor: admin1,
      decisions: [
        { documentId: request.id, decision: "approve" },
        { documentId: form.id, decision: "reject", reason: "the form is not signed" },
      ],
    });
    expect(review.check.status).toBe("rejected");
    expect(notifier.ofKind("documents-rejected")[0]).toMatchObject({
      userId: "alice",
      documentTypes: ["certificate-form"],
    });

    // 3. Resuming still waits, and tells which document to upload again and why.
    const second = await cardwright.resumeOperation(operationId, { device, actor: "operator-1" });
    expect(second.status).toBe("pending");
    const documents = (second as Extract<IssueResult, { status: "pending" }>).documents;
    expect(documents?.status).toBe("rejected");
    expect(documents?.documents.find((d) => d.type === "certificate-form")).toMatchObject({
      status: "rejected",
      reason: "the form is not signed",
    });
    await noCertificates();

    // 4. admin-1 uploads the signed form for Alice, so admin-1 may not approve it: four-eyes.
    const reupload = await cardwright.uploadDocument({
      cardId,
      type: "certificate-form",
      fileName: "form-signed.pdf",
      contentType: "application/pdf",
      content: pdf("certificate form, signed"),
      actor: admin1,
    });
    const self = await rejection(
      cardwright.reviewDocuments({ actor: admin1, decisions: [{ documentId: reupload.id, decision: "approve" }] }),
    );
    expect(self.code).toBe("AUTHZ_SEPARATION_OF_DUTIES");
    const byUser = await rejection(
      cardwright.reviewDocuments({ actor: alice, decisions: [{ documentId: reupload.id, decision: "approve" }] }),
    );
    expect(byUser.code).toBe("AUTHZ_DENIED");
    expect(byUser.details.permission).toBe("user:approve-documents:own:pending");
    await noCertificates();

    // 5. admin-2 approves; resuming completes the issue.
    const approved = await cardwright.reviewDocuments({
      actor: admin2,
      decisions: [{ documentId: reupload.id, decision: "approve" }],
    });
    expect(approved.check.status).toBe("approved");
    expect(notifier.ofKind("documents-approved")).toHaveLength(1);
    const approvals = await store.approvals.list({ kind: "documents", operationId });
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({ status: "approved", decidedBy: "admin-2" });

    const done = await cardwright.resumeOperation(operationId, { device, actor: "operator-1" });
    expect(done.status).toBe("active");
    const active = done as Extract<IssueResult, { status: "active" }>;
    expect(active.card.state).toBe("active");
    const chain = await ca.chain();
    const objects = await device.listObjects();
    for (const cert of active.certificates) {
      expect(cert.status).toBe("written");
      const der = new Uint8Array(Buffer.from(cert.certificate!, "base64"));
      const v = verifyCertificate(der, chain);
      expect(v.status, v.output).toBe(0);
      const onCard = objects.find((o) => o.slot === cert.slot)?.certificate;
      expect(onCard && Buffer.from(onCard).equals(Buffer.from(der))).toBe(true);
    }

    // Stored with their status and hash; the audit chain verifies and tells the story.
    const stored = await cardwright.listDocuments({ cardId, withoutContent: true });
    expect(stored.map((d) => [d.type, d.status, d.uploadedBy, d.reviewedBy])).toEqual([
      ["certificate-request-form", "approved", "alice", "admin-1"],
      ["certificate-form", "rejected", "alice", "admin-1"],
      ["certificate-form", "approved", "admin-1", "admin-2"],
    ]);
    const actions = (await store.audit.list({ cardId })).map((e) => e.action);
    for (const a of [
      "document.uploaded",
      "document.approved",
      "document.rejected",
      "documents.checked",
      "operation.refused",
    ]) {
      expect(actions).toContain(a);
    }
    expect(actions.lastIndexOf("document.approved")).toBeLessThan(actions.indexOf("certificate.written"));
    expect((await cardwright.verifyAudit()).ok).toBe(true);
  });
});
