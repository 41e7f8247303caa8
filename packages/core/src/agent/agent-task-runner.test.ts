import { describe, expect, it } from "vitest";
import { HashChainAuditLog } from "../audit/hash-chain-audit-log.js";
import type { AgentTaskRecord } from "../domain/records.js";
import { CardwrightError, isCardwrightError } from "../errors.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import type { Device, DeviceIdentity, DeviceProvider } from "../ports/device.js";
import type { Clock } from "../ports/runtime.js";
import { systemClock } from "../runtime/clock.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { SoftwareKeyDevice } from "../testing/software-key-device.js";
import { AgentTaskClaim } from "./agent-task-claim.js";
import { AgentTaskQueue } from "./agent-task-queue.js";
import { type AgentTaskHandlers, AgentTaskRunner } from "./agent-task-runner.js";

/** The readers of one workstation: the devices inserted in it, by serial. */
class Readers implements DeviceProvider {
  readonly inserted = new Map<string, Device>();
  opened = 0;

  insert(device: Device): this {
    this.inserted.set(device.identity.serial, device);
    return this;
  }

  async list(): Promise<DeviceIdentity[]> {
    return [...this.inserted.values()].map((d) => d.identity);
  }

  async open(selector: { serial?: string } = {}): Promise<Device> {
    const device = this.inserted.get(selector.serial ?? "");
    if (device === undefined) {
      throw new CardwrightError("DEVICE_NOT_FOUND", `no card with serial ${selector.serial} in a reader`, {
        details: { deviceSerial: selector.serial ?? "" },
      });
    }
    this.opened++;
    return device;
  }
}

const operator = { id: "operator-1", kind: "operator" as const };

async function setup(clock: Clock = new FixedClock("2030-01-01T00:00:00Z")) {
  const store = new InMemoryStore({ clock });
  const auditLog = new HashChainAuditLog(store, { clock });
  let n = 0;
  const queue = new AgentTaskQueue({ store, auditLog, policies: new PolicyEngine([]), uuid: () => `task-${++n}` });
  const cards = [];
  for (const serial of ["1001", "2002"]) {
    cards.push(
      await store.cards.create({
        id: `card-${serial}`,
        deviceSerial: serial,
        deviceType: "piv",
        state: "active",
        userId: "alice",
      }),
    );
  }
  const runner = (name: string, devices: DeviceProvider, handlers: AgentTaskHandlers, claimTtlMs = 60_000) =>
    new AgentTaskRunner({ store, auditLog, devices, agentName: name, handlers, clock, claimTtlMs });
  return { store, auditLog, queue, cards, runner, clock };
}

const actions = async (store: InMemoryStore, taskId: string) =>
  (await store.audit.list()).filter((e) => e.details?.taskId === taskId).map((e) => `${e.action}:${e.actor}`);

describe("AgentTaskRunner", () => {
  it("claims a task for a present card, runs its handler once, records completed — and never runs it again", async () => {
    const { store, queue, runner } = await setup();
    const device = new SoftwareKeyDevice({ serial: "1001" });
    const ran: string[] = [];
    const agent = runner("ws-1", new Readers().insert(device), {
      "unblock-pin": async (task, d, ctx) => {
        ran.push(`${task.id}:${d.identity.serial}:${ctx.actor.kind}:${ctx.actor.id}`);
        return { operationId: "op-7" };
      },
    });
    const task = await queue.queue({
      cardId: "card-1001",
      kind: "unblock-pin",
      actor: operator,
      comment: "PIN blocked",
    });
    await queue.queue({ cardId: "card-2002", kind: "unblock-pin", actor: operator });
    expect(task).toMatchObject({ status: "queued", deviceSerial: "1001", queuedBy: "operator-1", version: 1 });

    expect(await agent.runPending()).toEqual([
      { taskId: task.id, kind: "unblock-pin", status: "completed", operationId: "op-7" },
    ]);
    expect(ran).toEqual([`${task.id}:1001:agent:ws-1`]);
    const done = (await store.agentTasks.get(task.id))!;
    expect(done).toMatchObject({ status: "completed", claimedBy: "ws-1", operationId: "op-7" });
    expect(done).not.toHaveProperty("claimExpiresAt");
    expect(await actions(store, task.id)).toEqual([
      "agent-task.queued:operator-1",
      "agent-task.claimed:ws-1",
      "agent-task.completed:ws-1",
    ]);
    // The task for the card that is not here stays queued; a second pass runs nothing.
    expect(await agent.runPending()).toEqual([]);
    expect(await agent.runTask(done)).toMatchObject({ status: "skipped", reason: "claimed-elsewhere" });
    expect(ran).toHaveLength(1);
    expect((await store.agentTasks.list({ status: "queued" })).map((t) => t.deviceSerial)).toEqual(["2002"]);
  });

  it("lets exactly one of two agents racing for one task claim and run it", async () => {
    const { store, queue, runner } = await setup();
    const ran: string[] = [];
    const handlers = (name: string): AgentTaskHandlers => ({
      update: async () => {
        ran.push(name);
        await new Promise((r) => setTimeout(r, 5));
        return {};
      },
    });
    const device = new SoftwareKeyDevice({ serial: "1001" });
    const a = runner("ws-a", new Readers().insert(device), handlers("ws-a"));
    const b = runner("ws-b", new Readers().insert(device), handlers("ws-b"));
    for (let round = 0; round < 10; round++) {
      const task = await queue.queue({ cardId: "card-1001", kind: "update", actor: operator });
      // Both hold the same read of the task: the record version decides.
      const outcomes = await Promise.all([a.runTask(task), b.runTask(task)]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(["completed", "skipped"]);
      const claims = (await store.audit.list()).filter(
        (e) => e.action === "agent-task.claimed" && e.details?.taskId === task.id,
      );
      expect(claims).toHaveLength(1);
    }
    expect(ran).toHaveLength(10);
  });

  it("runs many tasks exactly once in total when two agents pass over them at the same time", async () => {
    const { store, queue, runner } = await setup();
    const runs = new Map<string, number>();
    const handlers: AgentTaskHandlers = {
      "unblock-pin": async (task) => {
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 1));
        return {};
      },
    };
    const readers = new Readers().insert(new SoftwareKeyDevice({ serial: "1001" }));
    for (let i = 0; i < 12; i++) await queue.queue({ cardId: "card-1001", kind: "unblock-pin", actor: operator });
    const [ra, rb] = await Promise.all([
      runner("ws-a", readers, handlers).runPending(),
      runner("ws-b", readers, handlers).runPending(),
    ]);
    const completed = [...ra, ...rb].filter((o) => o.status === "completed");
    expect(completed).toHaveLength(12);
    expect([...runs.values()]).toEqual(Array(12).fill(1));
    expect(await store.agentTasks.list({ status: "completed" })).toHaveLength(12);
  });

  it("records a handler's typed failure on the task and in the audit log, secret-free", async () => {
    const { store, queue, runner } = await setup();
    const agent = runner("ws-1", new Readers().insert(new SoftwareKeyDevice({ serial: "1001" })), {
      "unblock-pin": async () => {
        throw new CardwrightError("PIV_WRONG_PIN", "the PUK was refused", {
          details: { retriesLeft: 2, operationId: "op-3" },
        });
      },
    });
    const task = await queue.queue({ cardId: "card-1001", kind: "unblock-pin", actor: operator });
    const [outcome] = await agent.runPending();
    expect(outcome).toMatchObject({ status: "failed", error: { code: "PIV_WRONG_PIN", details: { retriesLeft: 2 } } });
    const failed = (await store.agentTasks.get(task.id))!;
    expect(failed).toMatchObject({
      status: "failed",
      operationId: "op-3",
      error: { name: "CardwrightError", code: "PIV_WRONG_PIN", message: "the PUK was refused" },
    });
    const event = (await store.audit.list()).find((e) => e.action === "agent-task.failed");
    expect(event).toMatchObject({
      actor: "ws-1",
      operationId: "op-3",
      details: { taskId: task.id, code: "PIV_WRONG_PIN" },
    });
    // Failed is final: the next pass leaves it alone.
    expect(await agent.runPending()).toEqual([]);
  });

  it("wraps a handler's untyped error, and fails a kind it has no handler for with AGENT_TASK_UNSUPPORTED", async () => {
    const { store, queue, runner } = await setup();
    const agent = runner("ws-1", new Readers().insert(new SoftwareKeyDevice({ serial: "1001" })), {
      update: async () => {
        throw new TypeError("boom");
      },
    });
    const update = await queue.queue({ cardId: "card-1001", kind: "update", actor: operator });
    const cancel = await queue.queue({ cardId: "card-1001", kind: "cancel-update", actor: operator });
    const outcomes = await agent.runPending();
    expect(outcomes.map((o) => o.status)).toEqual(["failed", "failed"]);
    expect((await store.agentTasks.get(update.id))?.error).toMatchObject({
      code: "WORKFLOW_FAILED",
      message: `running update task ${update.id}: boom`,
    });
    expect((await store.agentTasks.get(cancel.id))?.error).toMatchObject({
      code: "AGENT_TASK_UNSUPPORTED",
      details: { taskId: cancel.id, kind: "cancel-update" },
    });
  });

  it("takes over a claim whose agent stopped renewing once it expired; the old claim then writes nothing", async () => {
    const clock = new FixedClock("2030-01-01T00:00:00Z");
    const { store, auditLog, queue, runner } = await setup(clock);
    const task = await queue.queue({ cardId: "card-1001", kind: "unblock-pin", actor: operator });
    // An agent that claimed the task, then crashed.
    const crashed = await AgentTaskClaim.take(
      { store, auditLog, clock, logger: { log: () => undefined }, agentName: "ws-crashed", claimTtlMs: 60_000 },
      task,
    );
    expect(crashed?.task).toMatchObject({
      status: "claimed",
      claimedBy: "ws-crashed",
      claimExpiresAt: "2030-01-01T00:01:00.000Z",
    });
    let ran = 0;
    const agent = runner("ws-2", new Readers().insert(new SoftwareKeyDevice({ serial: "1001" })), {
      "unblock-pin": async (_task, _device, context) => {
        ran++;
        expect(context.takenOverFrom).toBe("ws-crashed");
        return {};
      },
    });
    expect(await agent.runPending()).toEqual([]);
    clock.advance(59_999);
    expect(await agent.runPending()).toEqual([]);
    clock.advance(1);
    expect(await agent.runPending()).toMatchObject([{ taskId: task.id, status: "completed" }]);
    expect(ran).toBe(1);
    const claimed = (await store.audit.list()).filter((e) => e.action === "agent-task.claimed");
    expect(claimed.at(-1)).toMatchObject({ actor: "ws-2", details: { takenOverFrom: "ws-crashed" } });
    // The crashed agent comes back: its stale version cannot overwrite the result.
    expect(
      await crashed!.finish({ status: "failed", error: new CardwrightError("APDU_CARD_REMOVED", "gone").toJSON() }),
    ).toBe(false);
    expect(crashed!.lost).toBe(true);
    expect(await store.agentTasks.get(task.id)).toMatchObject({ status: "completed", claimedBy: "ws-2" });
  });

  it("keeps its claim alive while a long task runs, so no other agent takes it", async () => {
    const { store, queue, runner } = await setup(systemClock);
    const device = new SoftwareKeyDevice({ serial: "1001" });
    let release!: () => void;
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finish!: () => void;
    const slow = runner(
      "ws-slow",
      new Readers().insert(device),
      {
        update: async () => {
          release();
          await new Promise<void>((resolve) => {
            finish = resolve;
          });
          return {};
        },
      },
      60,
    );
    let stolen = 0;
    const other = runner("ws-other", new Readers().insert(device), {
      update: async () => {
        stolen++;
        return {};
      },
    });
    const task = await queue.queue({ cardId: "card-1001", kind: "update", actor: operator });
    const running = slow.runPending();
    await started;
    // Four claim durations: without renewal the claim would have expired three times over.
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 20));
      expect(await other.runPending()).toEqual([]);
    }
    finish();
    expect(await running).toMatchObject([{ taskId: task.id, status: "completed" }]);
    expect(stolen).toBe(0);
    expect((await store.agentTasks.get(task.id))!.version).toBeGreaterThan(3);
  });

  it("gives a task back to the queue when its card cannot be opened", async () => {
    const { store, queue, runner } = await setup();
    const readers = new Readers().insert(new SoftwareKeyDevice({ serial: "1001" }));
    const listedButGone: DeviceProvider = {
      list: () => readers.list(),
      open: async () => {
        throw new CardwrightError("APDU_CARD_REMOVED", "the card was removed");
      },
    };
    let ran = 0;
    const handlers: AgentTaskHandlers = {
      update: async () => {
        ran++;
        return {};
      },
    };
    const task = await queue.queue({ cardId: "card-1001", kind: "update", actor: operator });
    expect(await runner("ws-1", listedButGone, handlers).runPending()).toMatchObject([
      { status: "skipped", reason: "device-unavailable" },
    ]);
    const back = (await store.agentTasks.get(task.id))!;
    expect(back.status).toBe("queued");
    expect(back).not.toHaveProperty("claimedBy");
    expect(await actions(store, task.id)).toContain("agent-task.released:ws-1");
    expect(await runner("ws-1", readers, handlers).runPending()).toMatchObject([{ status: "completed" }]);
    expect(ran).toBe(1);
  });

  it("does nothing with no card present, and refuses a bad configuration", async () => {
    const { queue, runner } = await setup();
    await queue.queue({ cardId: "card-1001", kind: "update", actor: operator });
    expect(await runner("ws-1", new Readers(), {}).runPending()).toEqual([]);
    expect(() => runner("", new Readers(), {})).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
    expect(() => runner("ws", new Readers(), {}, 1.5)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });
});

describe("AgentTaskQueue", () => {
  it("refuses a user queuing a task (no queue-task permission), audited, storing nothing", async () => {
    const { store, queue } = await setup();
    const err = await queue
      .queue({ cardId: "card-1001", kind: "unblock-pin", actor: { id: "alice", kind: "user" } })
      .catch((e: unknown) => e);
    expect(isCardwrightError(err, "AUTHZ_DENIED")).toBe(true);
    expect((err as CardwrightError).details.permission).toBe("user:queue-task:own:active");
    expect(await store.agentTasks.list()).toEqual([]);
    const refused = (await store.audit.list()).find((e) => e.action === "operation.refused");
    expect(refused).toMatchObject({
      actor: "alice",
      details: { operation: "queue-task", taskKind: "unblock-pin", code: "AUTHZ_DENIED" },
    });
  });

  it("refuses unknown kinds, unknown cards and parameters that look like secrets", async () => {
    const { store, queue } = await setup();
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "none",
        (e: CardwrightError) => e.code,
      );
    expect(await codeOf(queue.queue({ cardId: "card-1001", kind: "reset" as "update", actor: operator }))).toBe(
      "AGENT_TASK_UNSUPPORTED",
    );
    expect(await codeOf(queue.queue({ cardId: "nope", kind: "update", actor: operator }))).toBe("STORE_NOT_FOUND");
    expect(
      await codeOf(
        queue.queue({ cardId: "card-1001", kind: "unblock-pin", actor: operator, params: { newPin: "123456" } }),
      ),
    ).toBe("CONFIG_INVALID");
    expect(
      await codeOf(
        queue.queue({
          cardId: "card-1001",
          kind: "update",
          actor: operator,
          params: { options: [{ puk: "12345678" }] },
        }),
      ),
    ).toBe("CONFIG_INVALID");
    expect(await store.agentTasks.list()).toEqual([]);
    const ok = await queue.queue({ cardId: "card-1001", kind: "update", actor: operator, params: { policyId: "p2" } });
    expect(ok.params).toEqual({ policyId: "p2" });
  });

  it("cancels a queued task (no agent runs it then) but not a claimed one", async () => {
    const { store, queue, runner } = await setup();
    let ran = 0;
    const agent = runner("ws-1", new Readers().insert(new SoftwareKeyDevice({ serial: "1001" })), {
      update: async () => {
        ran++;
        return {};
      },
    });
    const a = await queue.queue({ cardId: "card-1001", kind: "update", actor: operator });
    const cancelled = await queue.cancel({ taskId: a.id, actor: operator, comment: "user came to the desk" });
    expect(cancelled.status).toBe("cancelled");
    expect(await agent.runPending()).toEqual([]);
    expect(ran).toBe(0);
    expect(await actions(store, a.id)).toEqual(["agent-task.queued:operator-1", "agent-task.cancelled:operator-1"]);
    const again = await queue.cancel({ taskId: a.id, actor: operator }).catch((e: CardwrightError) => e);
    expect(again).toMatchObject({ code: "WORKFLOW_STATE", details: { status: "cancelled" } });

    const b = await queue.queue({ cardId: "card-1001", kind: "update", actor: operator });
    const claimed: AgentTaskRecord = await store.agentTasks.update({ ...b, status: "claimed", claimedBy: "ws-9" });
    const refused = await queue.cancel({ taskId: b.id, actor: operator }).catch((e: CardwrightError) => e);
    expect(refused).toMatchObject({ code: "WORKFLOW_STATE", details: { status: "claimed" } });
    expect(await store.agentTasks.get(b.id)).toEqual(claimed);
    expect(await queue.list({ cardId: "card-1001", status: "claimed" })).toEqual([claimed]);
  });
});
