/**
 * What makes an issuance approval usable for one issue (validated issuance): approved by a
 * validation officer, not used before, for this user, device and templates — and the issuing
 * operator is not the officer who approved it (four-eyes rule, as HID ActivID CMS and Indeed CM
 * require of a validation officer and an issuing operator).
 */
import type { ApprovalRecord } from "../domain/records.js";
import { CardwrightError } from "../errors.js";
import type { LifecycleActor } from "../lifecycle/lifecycle-permissions.js";

/** What an issuance request asked to be approved (kept in {@link ApprovalRecord.subject}). */
export interface IssuanceApprovalSubject {
  /** The device serial the card is to be issued on, when the request named one. */
  deviceSerial?: string;
  /** Optional templates of the policy the request asked for. */
  optionalTemplates: string[];
  /** The requester's words. */
  comment?: string;
}

/** The issue an approval is checked against. */
export interface ApprovalUse {
  approvalId: string;
  userId: string;
  deviceSerial: string;
  optionalTemplates: readonly string[];
  /** The issuing operator. */
  actor: LifecycleActor;
}

/** The subject of an issuance approval, read defensively (it is stored JSON). */
export function approvalSubject(approval: ApprovalRecord): IssuanceApprovalSubject {
  const s = approval.subject ?? {};
  return {
    ...(typeof s.deviceSerial === "string" ? { deviceSerial: s.deviceSerial } : {}),
    optionalTemplates: Array.isArray(s.optionalTemplates)
      ? s.optionalTemplates.filter((t): t is string => typeof t === "string")
      : [],
    ...(typeof s.comment === "string" ? { comment: s.comment } : {}),
  };
}

/**
 * Refuse an approval that does not clear this issue.
 * @throws CardwrightError `AUTHZ_APPROVAL_REQUIRED` with `details.rule` — `issuance.approval.missing`
 * (none found), `.kind`, `.status` (pending, rejected or cancelled: `details.approvalStatus`), `.used`
 * (already used by `details.usedByOperation`), `.user`, `.device`, `.templates`;
 * `AUTHZ_SEPARATION_OF_DUTIES` with `details.rule` `officer-not-issuer` when the issuing operator
 * approved it themself.
 */
export function assertApprovalClears(approval: ApprovalRecord | null, use: ApprovalUse): ApprovalRecord {
  const refuse = (rule: string, message: string, extra: Record<string, string | readonly string[]> = {}): never => {
    throw new CardwrightError("AUTHZ_APPROVAL_REQUIRED", `approval ${use.approvalId} ${message}`, {
      details: { rule: `issuance.approval.${rule}`, approvalId: use.approvalId, userId: use.userId, ...extra },
    });
  };
  if (approval === null) return refuse("missing", "does not exist; request issuance and have it approved first");
  if (approval.kind !== "issuance") return refuse("kind", `is a ${approval.kind} approval, not an issuance approval`);
  if (approval.status !== "approved") {
    return refuse("status", `is ${approval.status}; only an approved issuance request lets an operator issue`, {
      approvalStatus: approval.status,
    });
  }
  if (approval.operationId !== undefined) {
    return refuse("used", `was already used by operation ${approval.operationId}; request issuance again`, {
      usedByOperation: approval.operationId,
    });
  }
  if (approval.userId !== use.userId) {
    return refuse("user", `approves issuance to user ${approval.userId}, not ${use.userId}`, {
      approvedUserId: approval.userId,
    });
  }
  const subject = approvalSubject(approval);
  if (subject.deviceSerial !== undefined && subject.deviceSerial !== use.deviceSerial) {
    return refuse(
      "device",
      `approves device ${subject.deviceSerial}, not the one in the reader (${use.deviceSerial})`,
      {
        approvedSerial: subject.deviceSerial,
        deviceSerial: use.deviceSerial,
      },
    );
  }
  const extra = use.optionalTemplates.filter((t) => !subject.optionalTemplates.includes(t));
  if (extra.length > 0) {
    return refuse("templates", `does not approve the optional template(s) ${extra.join(", ")}`, {
      templates: extra,
    });
  }
  if (approval.decidedBy === use.actor.id) {
    throw new CardwrightError(
      "AUTHZ_SEPARATION_OF_DUTIES",
      `${use.actor.id} approved issuance request ${approval.id} as validation officer and may not also issue the card: another operator must personalise it`,
      {
        details: {
          rule: "officer-not-issuer",
          approvalId: approval.id,
          actor: use.actor.id,
          officer: approval.decidedBy,
          userId: use.userId,
        },
      },
    );
  }
  return approval;
}
