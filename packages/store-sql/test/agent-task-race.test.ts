/**
 * Agents racing for agent tasks over the SQL stores: two `AgentTaskRunner`s (two workstations with
 * the same card serial listed — e.g. a card moved between them) claim over one PGlite database, and
 * over one PostgreSQL database through separate connection pools (separate processes, as far as the
 * database can tell). The task's version makes the claim a compare-and-set: exactly one wins.
 */
import {
  type AgentTaskHandlers,
  AgentTaskQueue,
  AgentTaskRunner,
  CardwrightError,
  type Device,
  type DeviceIdentity,
  type DeviceProvider,
  HashChainAuditLog,
  PolicyEngine,
  type Store,
} from "@cardwright/core";
import { SoftwareKeyDevice } from "@cardwright/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgliteStore, PostgresStore } from "../src/index.js";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";

/** One workstation's readers, holding `device`. */
function readers(device: Device): DeviceProvider {
  return {
    list: async (): Promise<DeviceIdentity[]> => [device.identity],
    open: async (selector = {}) => {
      if (selector.serial !== device.identity.serial) {
        throw new CardwrightError("DEVICE_NOT_FOUND", `no card ${selector.serial} here`);
      }
      return device;
    },
  };
}

const operator = { id: "operator-1", kind: "operator" as const };

/** Queues tasks through `queueStore`, then lets one runner per store race over them. */
async function race(queueStore: Store, agentStores: readonly Store[], rounds: number) {
  const audit = new HashChainAuditLog(queueStore);
  const queue = new AgentTaskQueue({
    store: queueStore,
    auditLog: audit,
    policies: new PolicyEngine([]),
    uuid: () => globalThis.crypto.randomUUID(),
  });
  const card = await queueStore.cards.create({
    id: `card-${globalThis.crypto.randomUUID()}`,
    deviceSerial: `serial-${globalThis.crypto.randomUUID()}`,
    deviceType: "piv",
    state: "active",
  });
  const device = new SoftwareKeyDevice({ serial: card.deviceSerial });
  const runs = new Map<string, string[]>();
  const handlers = (agent: string): AgentTaskHandlers => ({
    "unblock-pin": async (task) => {
      runs.set(task.id, [...(runs.get(task.id) ?? []), agent]);
      return {};
    },
  });
  const runners = agentStores.map(
    (store, i) =>
      new AgentTaskRunner({
        store,
        auditLog: new HashChainAuditLog(store),
        devices: readers(device),
        agentName: `ws-${i}`,
        handlers: handlers(`ws-${i}`),
      }),
  );
  // Same read of one task in every runner: only the version decides.
  for (let round = 0; round < rounds; round++) {
    const task = await queue.queue({ cardId: card.id, kind: "unblock-pin", actor: operator });
    const outcomes = await Promise.all(runners.map((r) => r.runTask(task)));
    expect(outcomes.filter((o) => o.status === "completed")).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === "skipped")).toHaveLength(runners.length - 1);
    expect(runs.get(task.id)).toHaveLength(1);
    const stored = (await queueStore.agentTasks.get(task.id))!;
    expect(stored.status).toBe("completed");
    expect(stored.claimedBy).toBe(runs.get(task.id)![0]);
  }
  // Whole passes at once over a backlog: every task run exactly once in total.
  for (let i = 0; i < 8; i++) await queue.queue({ cardId: card.id, kind: "unblock-pin", actor: operator });
  const passes = (await Promise.all(runners.map((r) => r.runPending()))).flat();
  expect(passes.filter((o) => o.status === "completed")).toHaveLength(8);
  expect(runs.size).toBe(rounds + 8);
  for (const agents of runs.values()) expect(agents).toHaveLength(1);
  const claimed = (await queueStore.audit.list({ cardId: card.id })).filter((e) => e.action === "agent-task.claimed");
  expect(claimed).toHaveLength(rounds + 8);
  expect((await audit.verify()).ok).toBe(true);
}

describe("agents racing for tasks over PGlite", () => {
  it("lets exactly one of two agents claim and run each task", async () => {
    const store = await PgliteStore.open();
    try {
      await race(store, [store, store], 5);
    } finally {
      await store.close();
    }
  });
});

describe("agents racing for tasks over PostgreSQL from separate pools", () => {
  let cluster: PostgresCluster;
  const stores: Store[] = [];
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    cluster?.stop();
  });

  it("lets exactly one of three agents claim and run each task", async () => {
    const url = cluster.createDatabase("agent_race");
    for (let i = 0; i < 4; i++) stores.push(await PostgresStore.open({ connectionString: url, pool: { max: 2 } }));
    const [queueStore, ...agentStores] = stores;
    await race(queueStore!, agentStores, 5);
  });
});
