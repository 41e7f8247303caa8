/** The replace machine over counted fake steps: phases in order, and a resumed run never repeats a finished one. */
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, waitFor } from "xstate";
import { CardwrightError } from "../errors.js";
import { type IssueNewCardOutput, type ReplaceContext, type ReplaceInput, replaceMachine } from "./replace-machine.js";
import { DEFAULT_REPLACEMENT_RULES } from "./replacement-rules.js";

const input: ReplaceInput = {
  operationId: "op-1",
  cardId: "old",
  userId: "ann",
  actor: "operator-1",
  actorKind: "operator",
  reason: "lost",
  rule: { ...DEFAULT_REPLACEMENT_RULES.lost, keyRecovery: true },
  fromState: "active",
  newDeviceSerial: "2",
  selection: { templates: ["piv-auth", "digital-signature"] },
  targets: [
    { certificateId: "a", caId: "ca", serialHex: "0a", slot: "9a", change: "revoke", done: false },
    { certificateId: "c", caId: "ca", serialHex: "0c", slot: "9c", change: "revoke", done: false },
  ],
  recoveries: [
    { certificateId: "d", slot: "9d", templateId: "km", keyAlgorithm: "ECCP256", serialHex: "0d", done: false },
  ],
};

/** Fake steps counting calls; `fail` names steps that throw on their next call. */
function fakes(fail: Set<string>, issue: () => IssueNewCardOutput = () => ({ newCardId: "new", status: "active" })) {
  const calls: string[] = [];
  const run = (name: string, out?: () => unknown) =>
    fromPromise(async ({ input: i }: { input: unknown }) => {
      const t = (i as { target?: { certificateId: string } }).target?.certificateId;
      calls.push(t === undefined ? name : `${name}:${t}`);
      if (fail.delete(name)) throw new CardwrightError("APDU_CARD_REMOVED", `injected in ${name}`);
      return out?.();
    });
  const actors = {
    changeCertificate: run("changeCertificate"),
    recordCertificate: run("recordCertificate"),
    handleOldCard: run("handleOldCard"),
    issueNewCard: run("issueNewCard", issue),
    recoverKey: run("recoverKey"),
    complete: run("complete"),
    release: run("release"),
  };
  return { calls, machine: replaceMachine.provide({ actors: actors as never }) };
}

async function settle(actor: ReturnType<typeof createActor>) {
  return waitFor(actor, (s) => s.status === "done" || ["interrupted", "pending"].includes(String(s.value)));
}

describe("replace machine", () => {
  it("handles the old card, issues, recovers and completes, in that order", async () => {
    const { calls, machine } = fakes(new Set());
    const actor = createActor(machine, { input }).start();
    const s = await settle(actor);
    expect(s.value).toBe("done");
    expect(calls).toEqual([
      "changeCertificate:a",
      "recordCertificate:a",
      "changeCertificate:c",
      "recordCertificate:c",
      "handleOldCard",
      "issueNewCard",
      "recoverKey",
      "complete",
    ]);
    const ctx = s.context as ReplaceContext;
    expect(ctx).toMatchObject({ oldCardHandled: true, newCardIssued: true, newCardId: "new" });
  });

  it("releases the card when the first CA call fails (nothing changed)", async () => {
    const { calls, machine } = fakes(new Set(["changeCertificate"]));
    const s = await settle(createActor(machine, { input }).start());
    expect(s.value).toBe("failed");
    expect(calls).toEqual(["changeCertificate:a", "release"]);
    expect((s.context as ReplaceContext).error?.code).toBe("APDU_CARD_REMOVED");
  });

  it("rests interrupted when the issue fails after the old card was handled; a restored run only issues, recovers and completes", async () => {
    const first = fakes(new Set(["issueNewCard"]));
    const actor = createActor(first.machine, { input }).start();
    const s = await settle(actor);
    expect(s.value).toBe("interrupted");
    expect((s.context as ReplaceContext).oldCardHandled).toBe(true);
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    actor.stop();

    const second = fakes(new Set());
    const resumed = createActor(second.machine, { snapshot: persisted } as never).start();
    resumed.send({ type: "RESUME" });
    const r = await settle(resumed);
    expect(r.value).toBe("done");
    expect(second.calls).toEqual(["issueNewCard", "recoverKey", "complete"]);
  });

  it("a CA failure part-way resumes with the certificate not yet done", async () => {
    const first = fakes(new Set());
    let n = 0;
    const failing = first.machine.provide({
      actors: {
        changeCertificate: fromPromise(async () => {
          n += 1;
          if (n === 2) throw new CardwrightError("CA_UNAVAILABLE", "injected");
        }),
      } as never,
    });
    const actor = createActor(failing, { input }).start();
    const s = await settle(actor);
    expect(s.value).toBe("interrupted");
    expect((s.context as ReplaceContext).targets.map((t) => t.done)).toEqual([true, false]);
    const second = fakes(new Set());
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    const resumed = createActor(second.machine, { snapshot: persisted } as never).start();
    resumed.send({ type: "RESUME" });
    expect((await settle(resumed)).value).toBe("done");
    expect(second.calls.slice(0, 3)).toEqual(["changeCertificate:c", "recordCertificate:c", "handleOldCard"]);
  });

  it("waits pending while a CA holds the new card's request, and RESUME asks again", async () => {
    let status: IssueNewCardOutput["status"] = "pending";
    const { calls, machine } = fakes(new Set(), () => ({ newCardId: "new", issueOperationId: "issue-1", status }));
    const actor = createActor(machine, { input }).start();
    const s = await settle(actor);
    expect(s.value).toBe("pending");
    expect(s.context as ReplaceContext).toMatchObject({ newCardIssued: false, issueOperationId: "issue-1" });
    status = "active";
    actor.send({ type: "RESUME" });
    expect((await settle(actor)).value).toBe("done");
    expect(calls.filter((c) => c === "issueNewCard")).toHaveLength(2);
    expect(calls.filter((c) => c === "handleOldCard")).toHaveLength(1);
  });
});
