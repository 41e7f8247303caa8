import { describe, expect, it } from "vitest";
import { rejection } from "../../test/support/errors.js";
import { HashChainAuditLog } from "../audit/hash-chain-audit-log.js";
import type { CardRecord, CardState } from "../domain/card.js";
import type { Policy } from "../domain/policy.js";
import { DEFAULT_CARD_STATE_TRANSITIONS } from "../lifecycle/card-state-transitions.js";
import { DEFAULT_LIFECYCLE_PERMISSIONS } from "../lifecycle/lifecycle-permissions.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import type { DirectoryUser } from "../ports/directory.js";
import { silentLogger } from "../runtime/logger.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryDirectory } from "../testing/in-memory-directory.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { RecordingNotifier } from "../testing/recording-notifier.js";
import { IssuanceOperations, type IssueRequest } from "./issuance-operations.js";

const user = (id: string): DirectoryUser => ({
  id,
  displayName: id,
  groups: ["staff"],
  attributes: { department: "R&D" },
});

function world(policy: Policy) {
  const store = new InMemoryStore();
  const notifier = new RecordingNotifier();
  let n = 0;
  const ops = new IssuanceOperations({
    store,
    directory: new InMemoryDirectory([user("ann"), user("bob"), user("olga")]),
    policies: new PolicyEngine([policy]),
    auditLog: new HashChainAuditLog(store),
    notifier,
    clock: new FixedClock("2026-06-01T00:00:00Z"),
    logger: silentLogger,
    uuid: () => `id-${++n}`,
  });
  const card = (id: string, state: CardState, userId?: string): Promise<CardRecord> =>
    store.cards.create({
      id,
      deviceSerial: `serial-${id}`,
      deviceType: "piv",
      state,
      ...(userId === undefined ? {} : { userId }),
    });
  const issue = (c: CardRecord, over: Partial<IssueRequest>): IssueRequest => ({
    userId: "ann",
    actor: "op-1",
    deviceSerial: c.deviceSerial,
    deviceType: "piv",
    optionalTemplates: [],
    ...over,
  });
  return { store, notifier, ops, card, issue };
}

const validated = examplePivPolicy({ issuance: { mode: "validated" } });

describe("validated issuance approvals", () => {
  it("records a request, notifies, and lets another officer approve it (audited with reason)", async () => {
    const w = world(validated);
    const req = await w.ops.request({ userId: "ann", actor: "registrar", comment: "new hire" });
    expect(req).toMatchObject({ kind: "issuance", status: "pending", requestedBy: "registrar", policyId: "piv-staff" });
    expect(w.notifier.ofKind("issuance-approval-requested")).toEqual([
      {
        kind: "issuance-approval-requested",
        approvalId: req.id,
        userId: "ann",
        requestedBy: "registrar",
        policyId: "piv-staff",
      },
    ]);
    const decided = await w.ops.decide({ approvalId: req.id, decision: "approve", reason: "HR ok", actor: "olga" });
    expect(decided).toMatchObject({ status: "approved", decidedBy: "olga", reason: "HR ok" });
    expect(w.notifier.ofKind("issuance-approved")).toEqual([
      { kind: "issuance-approved", approvalId: req.id, userId: "ann", decidedBy: "olga" },
    ]);
    const audit = await w.store.audit.list();
    expect(audit.map((e) => e.action)).toEqual(["issuance.requested", "issuance.approved"]);
    expect(audit[1]).toMatchObject({ actor: "olga", details: { approvalId: req.id, reason: "HR ok" } });
    // Decided once only.
    expect(
      (await rejection(w.ops.decide({ approvalId: req.id, decision: "reject", reason: "x", actor: "o2" }))).code,
    ).toBe("WORKFLOW_STATE");
  });

  it("refuses the requester (and the user) deciding, with the rule named and the refusal audited", async () => {
    const w = world(validated);
    const req = await w.ops.request({ userId: "ann", actor: "registrar" });
    const own = await rejection(
      w.ops.decide({ approvalId: req.id, decision: "approve", reason: "mine", actor: "registrar" }),
    );
    expect(own.code).toBe("AUTHZ_SEPARATION_OF_DUTIES");
    expect(own.details).toMatchObject({ rule: "officer-not-requester", approvalId: req.id });
    const self = await rejection(
      w.ops.decide({ approvalId: req.id, decision: "approve", reason: "me", actor: { id: "ann", kind: "operator" } }),
    );
    expect(self.details.rule).toBe("officer-not-subject");
    expect((await w.store.approvals.get(req.id))?.status).toBe("pending");
    const refused = (await w.store.audit.list()).filter((e) => e.action === "operation.refused");
    expect(refused.map((e) => [e.actor, e.details?.code])).toEqual([
      ["registrar", "AUTHZ_SEPARATION_OF_DUTIES"],
      ["ann", "AUTHZ_SEPARATION_OF_DUTIES"],
    ]);
  });

  it("needs the approve-issuance permission (a user by default, an operator the policy does not name)", async () => {
    const w = world(validated);
    const req = await w.ops.request({ userId: "ann", actor: "registrar" });
    const user = await rejection(
      w.ops.decide({ approvalId: req.id, decision: "approve", reason: "", actor: { id: "bob", kind: "user" } }),
    );
    expect(user.code).toBe("AUTHZ_DENIED");
    expect(user.details.permission).toBe("user:approve-issuance:any");
    const strict = world(
      examplePivPolicy({
        issuance: { mode: "validated" },
        permissions: [{ actor: "operator", operations: ["issue", "bind"], scope: "any" }],
      }),
    );
    const r2 = await strict.ops.request({ userId: "ann", actor: "registrar" });
    const op = await rejection(
      strict.ops.decide({ approvalId: r2.id, decision: "approve", reason: "", actor: "olga" }),
    );
    expect(op.details.permission).toBe("operator:approve-issuance:any");
  });

  it("refuses requests outside validated mode, and a user asking for someone else", async () => {
    const operatorMode = world(examplePivPolicy());
    const err = await rejection(operatorMode.ops.request({ userId: "ann", actor: "registrar" }));
    expect(err.code).toBe("POLICY_RULE");
    expect(err.details.rule).toBe("issuance.mode");
    const w = world(validated);
    const other = await rejection(w.ops.request({ userId: "bob", actor: { id: "ann", kind: "user" } }));
    expect(other.details.rule).toBe("issuance.request.own");
    expect((await w.ops.request({ userId: "ann", actor: { id: "ann", kind: "user" } })).status).toBe("pending");
    expect((await rejection(w.ops.request({ userId: "nobody", actor: "registrar" }))).code).toBe("USER_NOT_FOUND");
  });
});

describe("issue clearance", () => {
  it("a validated issue needs an approved, unused approval for this user, device and templates, not by the issuer", async () => {
    const w = world(validated);
    const c = await w.card("c1", "registered");
    expect((await rejection(w.ops.clearIssue(c, w.issue(c, {})))).details.rule).toBe("issuance.approval.missing");
    const req = await w.ops.request({ userId: "ann", actor: "registrar", deviceSerial: c.deviceSerial });
    const pending = await rejection(w.ops.clearIssue(c, w.issue(c, { approvalId: req.id })));
    expect(pending.details).toMatchObject({ rule: "issuance.approval.status", approvalStatus: "pending" });
    await w.ops.decide({ approvalId: req.id, decision: "approve", reason: "ok", actor: "olga" });
    const other = await w.card("c2", "registered");
    const device = await rejection(w.ops.clearIssue(other, w.issue(other, { approvalId: req.id })));
    expect(device.details.rule).toBe("issuance.approval.device");
    const templates = await rejection(
      w.ops.clearIssue(c, w.issue(c, { approvalId: req.id, optionalTemplates: ["signature"] })),
    );
    expect(templates.details.rule).toBe("issuance.approval.templates");
    const bob = await rejection(w.ops.clearIssue(c, w.issue(c, { approvalId: req.id, userId: "bob" })));
    expect(bob.details.rule).toBe("issuance.approval.user");
    const sod = await rejection(w.ops.clearIssue(c, w.issue(c, { approvalId: req.id, actor: "olga" })));
    expect(sod.code).toBe("AUTHZ_SEPARATION_OF_DUTIES");
    expect(sod.details).toMatchObject({ rule: "officer-not-issuer", officer: "olga" });

    const clearance = await w.ops.clearIssue(c, w.issue(c, { approvalId: req.id }));
    expect(clearance.approval?.id).toBe(req.id);
    await w.store.transaction((tx) => w.ops.claim(tx, clearance, { operationId: "op-1", cardId: c.id, userId: "ann" }));
    expect(await w.store.approvals.get(req.id)).toMatchObject({ operationId: "op-1", cardId: c.id });
    // A second issue that checked the approval before it was used loses at the claim.
    const conflict = await rejection(
      w.store.transaction((tx) => w.ops.claim(tx, clearance, { operationId: "op-2", cardId: c.id, userId: "ann" })),
    );
    expect(conflict.code).toBe("STORE_CONFLICT");
    const used = await rejection(w.ops.clearIssue(c, w.issue(c, { approvalId: req.id })));
    expect(used.details).toMatchObject({ rule: "issuance.approval.used", usedByOperation: "op-1" });
  });

  it("a rejected approval clears nothing", async () => {
    const w = world(validated);
    const c = await w.card("c1", "registered");
    const req = await w.ops.request({ userId: "ann", actor: "registrar" });
    await w.ops.decide({ approvalId: req.id, decision: "reject", reason: "no badge photo", actor: "olga" });
    expect(w.notifier.ofKind("issuance-rejected")[0]).toMatchObject({ reason: "no badge photo", decidedBy: "olga" });
    const err = await rejection(w.ops.clearIssue(c, w.issue(c, { approvalId: req.id })));
    expect(err.details).toMatchObject({ rule: "issuance.approval.status", approvalStatus: "rejected" });
  });

  it("a user issues only in self-service mode, with the issue permission, to themself, on their bound card", async () => {
    const ann = { id: "ann", kind: "user" as const };
    const operatorMode = world(
      examplePivPolicy({ permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "user", operations: ["issue"] }] }),
    );
    const c0 = await operatorMode.card("c0", "bound", "ann");
    expect(
      (await rejection(operatorMode.ops.clearIssue(c0, operatorMode.issue(c0, { actor: ann })))).details.rule,
    ).toBe("issuance.mode");

    const noGrant = world(examplePivPolicy({ issuance: { mode: "self-service" } }));
    const c1 = await noGrant.card("c1", "bound", "ann");
    const denied = await rejection(noGrant.ops.clearIssue(c1, noGrant.issue(c1, { actor: ann })));
    expect(denied.code).toBe("AUTHZ_DENIED");
    expect(denied.details.permission).toBe("user:issue:own:bound");

    const w = world(
      examplePivPolicy({
        issuance: { mode: "self-service", requireBinding: true },
        permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "user", operations: ["issue"], scope: "own" }],
      }),
    );
    const bound = await w.card("mine", "bound", "ann");
    expect((await w.ops.clearIssue(bound, w.issue(bound, { actor: ann }))).actor).toEqual(ann);
    const unbound = await w.card("free", "registered");
    const binding = await rejection(w.ops.clearIssue(unbound, w.issue(unbound, { actor: ann })));
    expect(binding.details).toMatchObject({ rule: "issuance.requireBinding", state: "registered" });
    const bobs = await w.card("bobs", "bound", "bob");
    expect((await rejection(w.ops.clearIssue(bobs, w.issue(bobs, { actor: ann })))).details.permission).toBe(
      "user:issue:any:bound",
    );
    expect(
      (await rejection(w.ops.clearIssue(unbound, w.issue(unbound, { actor: ann, userId: "bob" })))).details.permission,
    ).toBe("user:issue:any:registered");
    // An operator still issues face to face under a self-service policy.
    expect((await w.ops.clearIssue(unbound, w.issue(unbound, {}))).mode).toBe("self-service");
  });

  it("needs select-optional to choose optional certificates on issue", async () => {
    const ann = { id: "ann", kind: "user" as const };
    const policy = examplePivPolicy({
      issuance: { mode: "self-service" },
      permissions: [{ actor: "user", operations: ["issue"], scope: "own" }],
    });
    const optional = policy.certificates.find((t) => !t.mandatory)!.id;
    const w = world(policy);
    const mine = await w.card("mine", "bound", "ann");
    expect((await w.ops.clearIssue(mine, w.issue(mine, { actor: ann }))).actor).toEqual(ann);
    const denied = await rejection(
      w.ops.clearIssue(mine, w.issue(mine, { actor: ann, optionalTemplates: [optional] })),
    );
    expect(denied.code).toBe("AUTHZ_DENIED");
    expect(denied.details.permission).toBe("user:select-optional:own:bound");
  });

  it("checks registered|bound → issuing against the policy's transition table", async () => {
    const w = world(
      examplePivPolicy({
        cardStateTransitions: DEFAULT_CARD_STATE_TRANSITIONS.filter(
          (r) => !(r.from === "registered" && r.to === "issuing"),
        ),
      }),
    );
    const c = await w.card("c", "registered");
    const err = await rejection(w.ops.clearIssue(c, w.issue(c, {})));
    expect(err.code).toBe("CARD_TRANSITION");
    expect(err.details).toMatchObject({ from: "registered", to: "issuing", operation: "issue" });
    const b = await w.card("b", "bound", "ann");
    expect((await w.ops.clearIssue(b, w.issue(b, {}))).mode).toBe("operator");
  });
});

describe("binding", () => {
  it("binds by an operator; a user only when the policy grants bind, and only to themself", async () => {
    const w = world(examplePivPolicy());
    const c = await w.card("c", "registered");
    const user = await rejection(w.ops.bind(c.id, "ann", { actor: { id: "ann", kind: "user" } }));
    expect(user.code).toBe("AUTHZ_DENIED");
    expect(user.details.permission).toBe("user:bind:own:registered");
    expect((await w.store.cards.get(c.id))?.state).toBe("registered");
    const bound = await w.ops.bind(c.id, "ann", { actor: "op-1", comment: "desk 4" });
    expect(bound).toMatchObject({ state: "bound", userId: "ann" });
    expect((await w.store.audit.list()).at(-1)).toMatchObject({
      actor: "op-1",
      action: "card.state",
      details: { from: "registered", to: "bound", actorKind: "operator", comment: "desk 4" },
    });

    const granted = world(
      examplePivPolicy({ permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "user", operations: ["bind"] }] }),
    );
    const d = await granted.card("d", "registered");
    const forBob = await rejection(granted.ops.bind(d.id, "bob", { actor: { id: "ann", kind: "user" } }));
    expect(forBob.details.permission).toBe("user:bind:any:registered");
    expect((await granted.ops.bind(d.id, "ann", { actor: { id: "ann", kind: "user" } })).state).toBe("bound");
  });

  it("refuses binding when the transition table lacks registered → bound", async () => {
    const w = world(
      examplePivPolicy({
        cardStateTransitions: DEFAULT_CARD_STATE_TRANSITIONS.filter((r) => r.to !== "bound"),
      }),
    );
    const c = await w.card("c", "registered");
    const err = await rejection(w.ops.bind(c.id, "ann", { actor: "op-1" }));
    expect(err.code).toBe("CARD_TRANSITION");
    expect((await w.store.audit.list()).at(-1)).toMatchObject({
      action: "operation.refused",
      details: { operation: "bind", code: "CARD_TRANSITION" },
    });
  });
});
