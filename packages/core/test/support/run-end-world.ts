/**
 * One organisation for the run-end durability tests: the in-memory store, a scripted CA, Ann in
 * the directory and the example PIV policy; `process` makes another Cardwright instance over a
 * store of the caller's (a dying one).
 */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { AesGcmSecretVault, Cardwright, type OperationRecord, type Store } from "../../src/index.js";
import { examplePivPolicy, InMemoryDirectory, InMemoryStore, SoftwareKeyDevice } from "../../src/testing/index.js";
import { crashAfterRelease } from "./crash-after-release.js";
import { ann } from "./fixtures.js";
import { ScriptedCa } from "./scripted-ca.js";

export const operator = { id: "operator-1", kind: "operator" as const };

export function world() {
  const store = new InMemoryStore();
  const kek = new Uint8Array(randomBytes(32));
  const ca = new ScriptedCa("ca");
  const directory = new InMemoryDirectory([ann]);
  const policy = examplePivPolicy();
  const process = (over: Store = store) =>
    new Cardwright({
      store: over,
      vault: AesGcmSecretVault.fromKey("kek-1", kek),
      directory,
      certificateAuthorities: [ca],
      policies: [policy],
    });
  return { store, ca, cw: process(), process };
}

/** An active card of Ann's with the mandatory certificate only, and its random PIN. */
export async function issued(w: World, serial: string) {
  const device = new SoftwareKeyDevice({ serial });
  const result = await w.cw.issueCard({ userId: "ann", device, actor: operator.id });
  if (result.status !== "active" || result.pin === undefined) throw new Error(`expected active, got ${result.status}`);
  return { device, card: result.card, pin: result.pin };
}

/** The one operation of `kind` on card `cardId`, from the store. */
export async function operationOf(
  store: Store,
  cardId: string,
  kind: OperationRecord["kind"],
): Promise<OperationRecord> {
  const ops = (await store.operations.list({ cardId })).filter((o) => o.kind === kind);
  expect(ops).toHaveLength(1);
  return ops[0]!;
}

/** Runs `call` in a process whose store dies right after card `cardId` is released; returns what it threw. */
export async function dyingRun(w: World, cardId: string, call: (cw: Cardwright) => Promise<unknown>): Promise<unknown> {
  const dying = crashAfterRelease(w.store, cardId);
  const error = await call(w.process(dying.store)).then(
    () => undefined,
    (e: unknown) => e,
  );
  // The process died at the runner's save of the final snapshot: that save was refused.
  expect(dying.state.released).toBe(true);
  expect(dying.state.refused).toBeGreaterThan(0);
  return error;
}

/** The card is free in `state`, and the audit chain verifies. */
export async function expectFree(w: World, cardId: string, state: string): Promise<void> {
  const card = await w.store.cards.get(cardId);
  expect(card).toMatchObject({ state });
  expect(card?.pendingOperationId).toBeUndefined();
  expect(await w.cw.verifyAudit()).toMatchObject({ ok: true });
}

/** What {@link world} makes. */
export type World = ReturnType<typeof world>;
