/**
 * The document check of a policy (`Policy.documents`): which of the required signed documents
 * (certificate request form, certificate form...) are approved, which wait for review, which were
 * rejected and must be uploaded again, and which are missing. Pure: the workflow step and the
 * review API both decide from the same function, so they cannot disagree.
 */
import type { RequiredDocument } from "../domain/policy.js";
import type { DocumentRecord } from "../domain/records.js";

/** Where one required document stands. */
export interface DocumentStanding {
  type: string;
  name: string;
  /** `missing`: never uploaded; otherwise the status of the latest upload of this type. */
  status: "missing" | "uploaded" | "approved" | "rejected";
  /** The latest upload of this type. */
  documentId?: string;
  /** The reviewer's reason, for a rejected document: what to fix before uploading again. */
  reason?: string;
}

/**
 * The outcome of a document check: `approved` when every required document is; `rejected` when
 * one is (the user must upload it again); otherwise `awaiting` (missing or unreviewed documents).
 */
export interface DocumentCheck {
  status: "approved" | "awaiting" | "rejected";
  documents: DocumentStanding[];
}

/**
 * Check `documents` against `required`: for each type the latest upload (by `createdAt`) counts, so
 * a re-upload after a rejection replaces the rejected document.
 */
export function checkDocuments(
  required: readonly RequiredDocument[],
  documents: readonly DocumentRecord[],
): DocumentCheck {
  const standings: DocumentStanding[] = required.map((r) => {
    const latest = documents
      .filter((d) => d.type === r.type)
      // Stable sort: upload time first; in the same millisecond an unreviewed upload is the newer
      // one, since a document is reviewed before the user is asked for a new one.
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || rank(a) - rank(b))
      .at(-1);
    if (latest === undefined) return { type: r.type, name: r.name, status: "missing" };
    return {
      type: r.type,
      name: r.name,
      status: latest.status,
      documentId: latest.id,
      ...(latest.status === "rejected" && latest.reason !== undefined ? { reason: latest.reason } : {}),
    };
  });
  const status = standings.some((s) => s.status === "rejected")
    ? "rejected"
    : standings.every((s) => s.status === "approved")
      ? "approved"
      : "awaiting";
  return { status, documents: standings };
}

function rank(d: DocumentRecord): number {
  return d.status === "uploaded" ? 1 : 0;
}

/** One line for people: what is still needed, e.g. for a notification or an approval's reason. */
export function describeDocumentCheck(check: DocumentCheck): string {
  if (check.status === "approved") return "every required document is approved";
  return check.documents
    .filter((d) => d.status !== "approved")
    .map((d) =>
      d.status === "rejected"
        ? `${d.name} rejected${d.reason === undefined ? "" : ` (${d.reason})`}: upload it again`
        : d.status === "missing"
          ? `${d.name} missing: upload it`
          : `${d.name} awaiting review`,
    )
    .join("; ");
}
