import { describe, expect, it } from "vitest";
import type { CardRecord } from "../domain/card.js";
import type { PermissionGrant } from "../domain/policy.js";
import { isCardwrightError } from "../errors.js";
import { validatePolicy } from "../policy/policy-validation.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import {
  assertPermitted,
  DEFAULT_LIFECYCLE_PERMISSIONS,
  LIFECYCLE_OPERATIONS,
  permissionGrants,
} from "./lifecycle-permissions.js";

const card = (state: CardRecord["state"], userId = "ann"): CardRecord => ({
  id: "card-1",
  deviceSerial: "1",
  deviceType: "piv",
  userId,
  state,
  version: 1,
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:00:00Z",
});

function denial(fn: () => void) {
  try {
    fn();
  } catch (err) {
    if (isCardwrightError(err)) return err;
    throw err;
  }
  throw new Error("expected AUTHZ_DENIED");
}

describe("default lifecycle permissions", () => {
  const grants = DEFAULT_LIFECYCLE_PERMISSIONS;

  it("let operators and agents run every operation on any card but see its admin PIN", () => {
    for (const kind of ["operator", "agent"] as const) {
      for (const op of LIFECYCLE_OPERATIONS.filter((o) => o !== "view-admin-pin")) {
        expect(() => assertPermitted(grants, { id: "someone", kind }, op, card("active"))).not.toThrow();
      }
      const err = denial(() => assertPermitted(grants, { id: "someone", kind }, "view-admin-pin", card("active")));
      expect(err.details.permission).toBe(`${kind}:view-admin-pin:any:active`);
    }
  });

  it("let a user suspend, resume and revoke their own card, not someone else's", () => {
    for (const op of ["suspend", "resume", "revoke"] as const) {
      expect(() => assertPermitted(grants, { id: "ann", kind: "user" }, op, card("active"))).not.toThrow();
      const err = denial(() => assertPermitted(grants, { id: "bob", kind: "user" }, op, card("active")));
      expect(err.code).toBe("AUTHZ_DENIED");
      expect(err.details).toMatchObject({ permission: `user:${op}:any:active`, actorKind: "user", operation: op });
    }
  });

  it("do not let a user clear even their own revoked card", () => {
    const err = denial(() => assertPermitted(grants, { id: "ann", kind: "user" }, "retire", card("revoked")));
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:retire:own:revoked");
    expect(err.message).toContain("user:retire:own:revoked");
  });

  it("refuse an actor kind that is not one of operator, user, agent", () => {
    const err = denial(() => assertPermitted(grants, { id: "x", kind: "root" as "user" }, "revoke", card("active")));
    expect(err.code).toBe("AUTHZ_DENIED");
  });
});

describe("a policy's own permissions", () => {
  const own: PermissionGrant[] = [
    { actor: "operator", operations: ["revoke", "retire"] },
    { actor: "user", operations: ["retire"], cardStates: ["revoked"] },
  ];
  const policy = examplePivPolicy({ permissions: own });

  it("replace the defaults: what they do not grant is refused", () => {
    expect(() => validatePolicy(policy)).not.toThrow();
    const grants = permissionGrants(policy);
    expect(() => assertPermitted(grants, { id: "op", kind: "operator" }, "revoke", card("active"))).not.toThrow();
    expect(
      denial(() => assertPermitted(grants, { id: "op", kind: "operator" }, "suspend", card("active"))).details
        .permission,
    ).toBe("operator:suspend:any:active");
    expect(denial(() => assertPermitted(grants, { id: "bot", kind: "agent" }, "revoke", card("active"))).code).toBe(
      "AUTHZ_DENIED",
    );
  });

  it("let a user clear their own card only in the granted state", () => {
    const grants = permissionGrants(policy);
    expect(() => assertPermitted(grants, { id: "ann", kind: "user" }, "retire", card("revoked"))).not.toThrow();
    expect(
      denial(() => assertPermitted(grants, { id: "ann", kind: "user" }, "retire", card("active"))).details.permission,
    ).toBe("user:retire:own:active");
    expect(
      denial(() => assertPermitted(grants, { id: "bob", kind: "user" }, "retire", card("revoked"))).details.permission,
    ).toBe("user:retire:any:revoked");
  });

  it.each([
    ["actor kind", { actor: "admin", operations: ["revoke"] }],
    ["operation", { actor: "user", operations: ["shred"] }],
    ["scope", { actor: "user", operations: ["revoke"], scope: "team" }],
    ["card state", { actor: "user", operations: ["revoke"], cardStates: ["gone"] }],
  ])("are validated: unknown %s is POLICY_INVALID", (_, grant) => {
    const err = denial(() => validatePolicy(examplePivPolicy({ permissions: [grant as unknown as PermissionGrant] })));
    expect(err.code).toBe("POLICY_INVALID");
    expect(err.details.rule).toBe("permissions");
  });
});
