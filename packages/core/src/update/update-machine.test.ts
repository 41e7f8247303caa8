/** The update machine's routing, run with fake steps: pending, cancel guards, rejection, interruption and restore. */
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, waitFor } from "xstate";
import { CardwrightError } from "../errors.js";
import {
  type ItemOutput,
  type UpdateContext,
  type UpdateInput,
  type UpdateItem,
  updateMachine,
} from "./update-machine.js";

function item(kind: "add" | "renew", requestId: string): UpdateItem {
  return {
    kind,
    templateId: `t-${requestId}`,
    slot: kind === "add" ? "9d" : "9a",
    caId: "ca",
    keyAlgorithm: "ECCP256",
    requestId,
    rekey: kind === "add",
    status: "planned",
  };
}

const input: UpdateInput = {
  operationId: "op",
  cardId: "card",
  userId: "ann",
  actor: "operator-1",
  actorKind: "operator",
  deviceSerial: "1",
  fromState: "active",
  policyId: "p",
  policyVersion: 1,
  plan: {
    toPolicy: { id: "p", version: 1 },
    optionalTemplates: [],
    remove: [],
    add: [],
    keep: [],
    renew: [],
    foreign: [],
  },
  items: [item("renew", "r1"), item("add", "a1")],
};

interface Fakes {
  calls: string[];
  submit?: (i: UpdateItem) => UpdateItem["status"];
  fail?: string;
  keyReplaced?: boolean;
}

function machine(f: Fakes) {
  const step = <T>(name: string, out: (c: UpdateContext) => T) =>
    fromPromise<T, UpdateContext>(async ({ input: c }) => {
      f.calls.push(name);
      if (f.fail === name) {
        f.fail = undefined;
        throw new CardwrightError("APDU_CARD_REMOVED", `card removed in ${name}`);
      }
      return out(c);
    });
  const current = (c: UpdateContext) => c.items[c.index]!;
  return updateMachine.provide({
    actors: {
      connectCard: step<void>("connectCard", () => undefined),
      authenticateAdmin: step<void>("authenticateAdmin", () => undefined),
      generateKey: step<ItemOutput>("generateKey", (c) => ({
        item: { ...current(c), status: "keyed", spki: "AA==" },
        keyReplaced: f.keyReplaced === true && current(c).kind === "renew",
      })),
      buildCsr: step<ItemOutput>("buildCsr", (c) => ({ item: { ...current(c), status: "requested" } })),
      submitRequest: step<ItemOutput>("submitRequest", (c) => ({
        item: { ...current(c), status: f.submit?.(current(c)) ?? "issued", caRequestId: `ca-${current(c).requestId}` },
      })),
      markPending: step<void>("markPending", () => undefined),
      pollRequests: step<{ items: UpdateItem[] }>("pollRequests", (c) => ({
        items: c.items.map((i) => (i.status === "pending" ? { ...i, status: "issued" as const } : i)),
      })),
      writeCertificates: step<{ items: UpdateItem[] }>("writeCertificates", (c) => ({
        items: c.items.map((i) => ({ ...i, status: "written" as const })),
      })),
      commit: step<void>("commit", () => undefined),
      cancel: step<void>("cancel", () => undefined),
    },
  });
}

async function settle(actor: ReturnType<typeof createActor<ReturnType<typeof machine>>>) {
  return waitFor(actor, (s) => s.status === "done" || ["pending", "interrupted"].includes(String(s.value)));
}

describe("update machine", () => {
  it("runs every item through key, request and submit, then writes and commits (commitStarted set first)", async () => {
    const f: Fakes = { calls: [] };
    const actor = createActor(machine(f), { input }).start();
    const s = await settle(actor);
    expect(s.value).toBe("done");
    expect(s.context.commitStarted).toBe(true);
    expect(s.context.items.map((i) => i.status)).toEqual(["written", "written"]);
    expect(f.calls).toEqual([
      "connectCard",
      "authenticateAdmin",
      ...["generateKey", "buildCsr", "submitRequest"],
      ...["generateKey", "buildCsr", "submitRequest"],
      "writeCertificates",
      "commit",
    ]);
  });

  it("rests pending while a CA holds a request; the persisted snapshot restores and RESUME polls, then finishes", async () => {
    const f: Fakes = { calls: [], submit: (i) => (i.kind === "renew" ? "pending" : "issued") };
    const actor = createActor(machine(f), { input }).start();
    const s = await settle(actor);
    expect(s.value).toBe("pending");
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    actor.stop();
    const restored = createActor(machine(f), { snapshot: persisted, input }).start();
    restored.send({ type: "RESUME" });
    const end = await settle(restored);
    expect(end.value).toBe("done");
    expect(f.calls.slice(-4)).toEqual(["markPending", "pollRequests", "writeCertificates", "commit"]);
  });

  it("CANCEL from pending runs cancel and ends cancelled, recording who cancelled", async () => {
    const f: Fakes = { calls: [], submit: () => "pending" };
    const actor = createActor(machine(f), { input }).start();
    await settle(actor);
    actor.send({ type: "CANCEL", actor: "operator-2", actorKind: "operator", comment: "wrong card" });
    const end = await waitFor(actor, (s) => s.status === "done");
    expect(end.value).toBe("cancelled");
    expect(end.context.cancel).toEqual({ actor: "operator-2", actorKind: "operator", comment: "wrong card" });
    expect(f.calls.at(-1)).toBe("cancel");
  });

  it("ignores CANCEL once a key the card held was replaced", async () => {
    const f: Fakes = { calls: [], keyReplaced: true, submit: () => "pending" };
    const actor = createActor(machine(f), { input }).start();
    const s = await settle(actor);
    expect(s.context.keysReplaced).toEqual(["9a"]);
    actor.send({ type: "CANCEL", actor: "operator-1", actorKind: "operator" });
    expect(actor.getSnapshot().value).toBe("pending");
    expect(f.calls).not.toContain("cancel");
  });

  it("a CA rejection cancels on its own, keeping CA_REJECTED as the error", async () => {
    const f: Fakes = { calls: [], submit: (i) => (i.kind === "add" ? "rejected" : "issued") };
    const actor = createActor(machine(f), { input }).start();
    const end = await waitFor(actor, (s) => s.status === "done");
    expect(end.value).toBe("cancelled");
    expect(end.context.error?.code).toBe("CA_REJECTED");
    expect(f.calls).not.toContain("writeCertificates");
  });

  it("a failed step rests interrupted; RESUME reconnects and skips items already submitted", async () => {
    const f: Fakes = { calls: [], fail: "buildCsr" };
    const actor = createActor(machine(f), {
      input: { ...input, items: [{ ...item("renew", "r1"), status: "issued" }, item("add", "a1")] },
    }).start();
    const s = await settle(actor);
    expect(s.value).toBe("interrupted");
    expect(s.context.error?.code).toBe("APDU_CARD_REMOVED");
    actor.send({ type: "RESUME" });
    const end = await settle(actor);
    expect(end.value).toBe("done");
    // The issued renewal never went through generateKey: only the add did, twice (before and after the failure).
    expect(f.calls.filter((c) => c === "generateKey")).toHaveLength(2);
    expect(f.calls.filter((c) => c === "connectCard")).toHaveLength(2);
  });

  it("a failure in commit rests interrupted and ignores CANCEL", async () => {
    const f: Fakes = { calls: [], fail: "commit" };
    const actor = createActor(machine(f), { input }).start();
    const s = await settle(actor);
    expect(s.value).toBe("interrupted");
    expect(s.context.commitStarted).toBe(true);
    actor.send({ type: "CANCEL", actor: "operator-1", actorKind: "operator" });
    expect(actor.getSnapshot().value).toBe("interrupted");
  });
});
