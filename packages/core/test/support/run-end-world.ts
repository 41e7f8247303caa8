/**
 * One organisation for the run-end durability tests: the in-memory store, a scripted CA, Ann in
 * the directory and the example PIV policy; `process` makes another Cardwright instance over a
 * store of the caller's (a dying one).
 */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { AesGcmSecretVault, Cardwright, type OperationRecord, type Store } from "../../src/index.js";
import { examplePivPolicy, InMemoryDirectory, InMemoryStore, SoftwareKeyDevice } from "../../src/testing/index.js";
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

/** What {@link world} makes. */
export type World = ReturnType<typeof world>;
