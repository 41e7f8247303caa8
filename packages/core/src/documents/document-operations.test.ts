import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { rejection } from "../../test/support/errors.js";
import { HashChainAuditLog } from "../audit/hash-chain-audit-log.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import { silentLogger } from "../runtime/logger.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { RecordingNotifier } from "../testing/recording-notifier.js";
import { SeededRandom } from "../testing/seeded-random.js";
import { DocumentOperations } from "./document-operations.js";
import { checkIssueDocuments, documentsApprovalOf } from "./documents-approval.js";

const policy = examplePivPolicy({
  documents: {
    required: [
      { type: "request-form", name: "Certificate request form" },
      { type: "certificate-form", name: "Certificate form" },
    ],
  },
});
const operator = { id: "operator-1", kind: "operator" as const };
const admin = { id: "admin-1", kind: "operator" as const };
const alice = { id: "alice", kind: "user" as const };
const bob = { id: "bob", kind: "user" as const };
const pdf = (text: string) => new TextEncoder().encode(`%PDF-1.7 ${text}`);

describe("document check: upload, review, and the issue step", () => {
  let store: InMemoryStore;
  let notifier: RecordingNotifier;
  let audit: HashChainAuditLog;
  let docs: DocumentOperations;
  let clock: FixedClock;
  const step = {
    operationId: "op-1",
    cardId: "card-1",
    userId: "alice",
    actor: "operator-1",
    policyId: policy.id,
    policyVersion: 1,
  };

  beforeEach(async () => {
    clock = new FixedClock();
    store = new InMemoryStore({ clock });
    notifier = new RecordingNotifier();
    audit = new HashChainAuditLog(store, { clock, random: new SeededRandom(2) });
    const deps = {
      store,
      policies: new PolicyEngine([policy]),
      auditLog: audit,
      notifier,
      logger: silentLogger,
      random: new SeededRandom(1),
      clock,
    };
    docs = new DocumentOperations(deps);
    await store.cards.create({
      id: "card-1",
      deviceSerial: "1",
      deviceType: "piv",
      state: "issuing",
      userId: "alice",
      pendingOperationId: "op-1",
    });
    await store.operations.create({
      id: "op-1",
      kind: "issue",
      cardId: "card-1",
      userId: "alice",
      machineId: "issue",
      machineVersion: "1",
      status: "running",
      snapshot: { value: "checkDocuments", context: { policyId: policy.id, policyVersion: 1 } },
      actor: "operator-1",
    });
    // The issue step runs first: it opens the approval and puts the card in `pending`.
    const check = await checkIssueDocuments(deps, step);
    expect(check.status).toBe("awaiting");
  });

  it("the issue step opens one documents approval, makes the card pending and tells reviewers once", async () => {
    expect((await store.cards.get("card-1"))?.state).toBe("pending");
    const approval = await documentsApprovalOf(store, "op-1");
    expect(approval).toMatchObject({ kind: "documents", status: "pending", userId: "alice", policyId: policy.id });
    await checkIssueDocuments(
      {
        store,
        policies: new PolicyEngine([policy]),
        auditLog: audit,
        notifier,
        logger: silentLogger,
        random: new SeededRandom(3),
      },
      step,
    );
    expect(await store.approvals.list({ kind: "documents" })).toHaveLength(1);
    expect(notifier.ofKind("documents-review-requested")).toHaveLength(1);
    expect(notifier.ofKind("documents-review-requested")[0]?.documentTypes).toEqual([
      "request-form",
      "certificate-form",
    ]);
  });

  it("stores an upload with its SHA-256 and binds it to the issue in progress; audits the hash, not the content", async () => {
    const content = pdf("request form signed by alice");
    const record = await docs.upload({
      cardId: "card-1",
      type: "request-form",
      fileName: "form.pdf",
      contentType: "application/pdf",
      content,
      actor: alice,
    });
    expect(record).toMatchObject({ status: "uploaded", userId: "alice", operationId: "op-1", uploadedBy: "alice" });
    expect(record.sha256).toBe(createHash("sha256").update(content).digest("hex"));
    expect(Buffer.from(record.content, "base64").equals(Buffer.from(content))).toBe(true);
    const event = (await store.audit.list({ cardId: "card-1" })).find((e) => e.action === "document.uploaded");
    expect(event?.details).toMatchObject({ sha256: record.sha256, type: "request-form" });
    expect(JSON.stringify(event)).not.toContain(record.content);
  });

  it("refuses uploads for someone else's card, of an unknown type, or empty — audited, nothing stored", async () => {
    const base = { cardId: "card-1", fileName: "f.pdf", contentType: "application/pdf" };
    expect((await rejection(docs.upload({ ...base, type: "request-form", content: pdf("x"), actor: bob }))).code).toBe(
      "AUTHZ_DENIED",
    );
    const type = await rejection(docs.upload({ ...base, type: "passport", content: pdf("x"), actor: operator }));
    expect(type.code).toBe("DOCUMENT_INVALID");
    expect(type.details.rule).toBe("type");
    expect(
      (await rejection(docs.upload({ ...base, type: "request-form", content: new Uint8Array(), actor: alice }))).details
        .rule,
    ).toBe("size");
    expect(await store.documents.list()).toHaveLength(0);
    const refused = (await store.audit.list({ cardId: "card-1" })).filter((e) => e.action === "operation.refused");
    expect(refused.map((e) => e.details?.code)).toEqual(["AUTHZ_DENIED", "DOCUMENT_INVALID", "DOCUMENT_INVALID"]);
  });

  it("refuses a reviewer who uploaded the document, a user reviewer, and a rejection without a reason", async () => {
    const d = await docs.upload({
      cardId: "card-1",
      type: "request-form",
      fileName: "f.pdf",
      contentType: "application/pdf",
      content: pdf("a"),
      actor: operator,
    });
    const self = await rejection(
      docs.review({ actor: operator, decisions: [{ documentId: d.id, decision: "approve" }] }),
    );
    expect(self.code).toBe("AUTHZ_SEPARATION_OF_DUTIES");
    expect(self.details.rule).toBe("reviewer-is-uploader");
    const user = await rejection(docs.review({ actor: alice, decisions: [{ documentId: d.id, decision: "approve" }] }));
    expect(user.code).toBe("AUTHZ_DENIED");
    expect(user.details.permission).toBe("user:approve-documents:own:pending");
    const noReason = await rejection(
      docs.review({ actor: admin, decisions: [{ documentId: d.id, decision: "reject", reason: " " }] }),
    );
    expect(noReason.details.rule).toBe("reason");
    expect((await store.documents.get(d.id))?.status).toBe("uploaded");
    const refused = (await store.audit.list({ cardId: "card-1" })).filter((e) => e.action === "operation.refused");
    expect(refused).toHaveLength(3);
  });

  it("a rejection marks the approval rejected with the reason and tells the user; re-upload and approval approve it", async () => {
    const form = await docs.upload({
      cardId: "card-1",
      type: "request-form",
      fileName: "r.pdf",
      contentType: "application/pdf",
      content: pdf("r"),
      actor: alice,
    });
    const cert = await docs.upload({
      cardId: "card-1",
      type: "certificate-form",
      fileName: "c.pdf",
      contentType: "application/pdf",
      content: pdf("c"),
      actor: alice,
    });
    const first = await docs.review({
      actor: admin,
      decisions: [
        { documentId: form.id, decision: "approve" },
        { documentId: cert.id, decision: "reject", reason: "not signed" },
      ],
    });
    expect(first.check.status).toBe("rejected");
    expect(await documentsApprovalOf(store, "op-1")).toMatchObject({ status: "rejected", decidedBy: "admin-1" });
    expect((await documentsApprovalOf(store, "op-1"))?.reason).toContain("not signed");
    expect(notifier.ofKind("documents-rejected")[0]).toMatchObject({
      userId: "alice",
      documentTypes: ["certificate-form"],
      reason: "certificate-form: not signed",
    });
    const again = await rejection(
      docs.review({ actor: admin, decisions: [{ documentId: cert.id, decision: "approve" }] }),
    );
    expect(again.details.rule).toBe("reviewed");

    clock.advance(60_000);
    const reupload = await docs.upload({
      cardId: "card-1",
      type: "certificate-form",
      fileName: "c2.pdf",
      contentType: "application/pdf",
      content: pdf("c signed"),
      actor: alice,
    });
    expect((await documentsApprovalOf(store, "op-1"))?.status).toBe("pending");
    const second = await docs.review({ actor: admin, decisions: [{ documentId: reupload.id, decision: "approve" }] });
    expect(second.check.status).toBe("approved");
    expect(await documentsApprovalOf(store, "op-1")).toMatchObject({ status: "approved", decidedBy: "admin-1" });
    expect(notifier.ofKind("documents-approved")).toHaveLength(1);

    const check = await checkIssueDocuments(
      {
        store,
        policies: new PolicyEngine([policy]),
        auditLog: audit,
        notifier,
        logger: silentLogger,
        random: new SeededRandom(4),
      },
      step,
    );
    expect(check.status).toBe("approved");
    expect((await store.cards.get("card-1"))?.state).toBe("issuing");
    expect(
      (await docs.list({ cardId: "card-1", withoutContent: true })).map((d) => [d.type, d.status, d.content]),
    ).toEqual([
      ["request-form", "approved", ""],
      ["certificate-form", "rejected", ""],
      ["certificate-form", "approved", ""],
    ]);
    expect((await audit.verify()).ok).toBe(true);
  });
});
