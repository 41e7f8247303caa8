import { describe, expect, it } from "vitest";
import type { DocumentRecord } from "../domain/records.js";
import { checkDocuments, describeDocumentCheck } from "./document-check.js";

const required = [
  { type: "request-form", name: "Certificate request form" },
  { type: "certificate-form", name: "Certificate form" },
];

let n = 0;
function doc(type: string, status: DocumentRecord["status"], reason?: string): DocumentRecord {
  n += 1;
  return {
    id: `d${n}`,
    type,
    userId: "alice",
    cardId: "c1",
    fileName: `${type}.pdf`,
    contentType: "application/pdf",
    content: "AA==",
    sha256: "00",
    uploadedBy: "alice",
    status,
    ...(reason === undefined ? {} : { reason }),
    version: 1,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
  };
}

describe("checkDocuments", () => {
  it("is awaiting while a required document is missing or unreviewed", () => {
    const check = checkDocuments(required, [doc("request-form", "approved")]);
    expect(check.status).toBe("awaiting");
    expect(check.documents.map((d) => d.status)).toEqual(["approved", "missing"]);
    expect(
      checkDocuments(required, [doc("request-form", "approved"), doc("certificate-form", "uploaded")]).status,
    ).toBe("awaiting");
  });

  it("is rejected when the latest upload of a type was rejected, with the reviewer's reason", () => {
    const check = checkDocuments(required, [
      doc("request-form", "approved"),
      doc("certificate-form", "rejected", "unsigned"),
    ]);
    expect(check.status).toBe("rejected");
    expect(check.documents[1]).toMatchObject({ type: "certificate-form", status: "rejected", reason: "unsigned" });
    expect(describeDocumentCheck(check)).toContain("Certificate form rejected (unsigned): upload it again");
  });

  it("lets a re-upload replace a rejected document, and approves when every latest upload is approved", () => {
    const docs = [doc("request-form", "approved"), doc("certificate-form", "rejected", "unsigned")];
    expect(checkDocuments(required, [...docs, doc("certificate-form", "uploaded")]).status).toBe("awaiting");
    const approved = checkDocuments(required, [...docs, doc("certificate-form", "approved")]);
    expect(approved.status).toBe("approved");
    expect(approved.documents[1]?.documentId).toBe(`d${n}`);
    expect(describeDocumentCheck(approved)).toBe("every required document is approved");
  });

  it("ignores documents of types the policy does not require", () => {
    expect(
      checkDocuments([required[0]!], [doc("request-form", "approved"), doc("other", "rejected", "x")]).status,
    ).toBe("approved");
  });
});
