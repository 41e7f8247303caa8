/**
 * Copy-on-write changes to a {@link CaState}. A change function works on a draft whose record
 * maps are views over the committed state: a record is cloned the first time the change reads
 * it by key, so the cost of a change is the records it touches, not the size of the state, and a
 * change that throws leaves the committed state as it was. The draft yields the
 * {@link CaStateChanges} it made, which is what the journal stores and what commit applies.
 */
import type { CaState, CertificateRecord, RequestRecord } from "./ca-state.js";

/** The record maps of a {@link CaState}; every other field is a scalar setting. */
export const RECORD_MAPS = ["requests", "requestIndex", "certificates"] as const;

type RecordMapName = (typeof RECORD_MAPS)[number];
type CaSettings = Omit<CaState, RecordMapName>;

/** What one change did: new values by key, `null` for a removed key or optional field. */
export interface CaStateChanges {
  settings?: { [K in keyof CaSettings]?: CaSettings[K] | null };
  requests?: Record<string, RequestRecord | null>;
  requestIndex?: Record<string, string | null>;
  certificates?: Record<string, CertificateRecord | null>;
}

/** Recursively read-only; what readers of the committed state get. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The committed state as readers see it: shared, so never to be changed in place. */
export type ReadonlyCaState = DeepReadonly<CaState>;

const REMOVED: unique symbol = Symbol("removed");

/** Freeze a committed value and everything in it, so a stray write throws instead of corrupting the cache. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** One record map of a draft: reads fall through to the committed map, writes go to an overlay. */
class RecordMapDraft<V> {
  readonly #base: Readonly<Record<string, V>>;
  readonly #overlay = new Map<string, V | typeof REMOVED>();
  readonly view: Record<string, V>;

  constructor(base: Readonly<Record<string, V>>) {
    this.#base = base;
    const has = (key: string | symbol) => typeof key === "string" && this.#has(key);
    // The target stays empty and extensible, so the proxy invariants hold for any answer below.
    this.view = new Proxy(Object.create(null) as Record<string, V>, {
      get: (_target, key) => (typeof key === "string" ? this.#get(key) : undefined),
      set: (_target, key, value: V) => {
        if (typeof key !== "string") return false;
        this.#overlay.set(key, value);
        return true;
      },
      deleteProperty: (_target, key) => {
        if (typeof key === "string") this.#overlay.set(key, REMOVED);
        return true;
      },
      has: (_target, key) => has(key),
      ownKeys: () => this.#keys(),
      getOwnPropertyDescriptor: (_target, key) =>
        has(key)
          ? { value: this.#get(key as string), writable: true, enumerable: true, configurable: true }
          : undefined,
      defineProperty: () => false,
      setPrototypeOf: () => false,
    });
  }

  #has(key: string): boolean {
    const overlaid = this.#overlay.get(key);
    if (overlaid !== undefined) return overlaid !== REMOVED;
    return this.#overlay.has(key) || Object.hasOwn(this.#base, key);
  }

  #get(key: string): V | undefined {
    if (this.#overlay.has(key)) {
      const overlaid = this.#overlay.get(key);
      return overlaid === REMOVED ? undefined : overlaid;
    }
    if (!Object.hasOwn(this.#base, key)) return undefined;
    const committed = this.#base[key] as V;
    if (typeof committed !== "object" || committed === null) return committed;
    // First read of a record: the change gets its own copy to mutate.
    const copy = structuredClone(committed);
    this.#overlay.set(key, copy);
    return copy;
  }

  #keys(): string[] {
    const keys = Object.keys(this.#base).filter((key) => this.#overlay.get(key) !== REMOVED);
    for (const [key, value] of this.#overlay) {
      if (value !== REMOVED && !Object.hasOwn(this.#base, key)) keys.push(key);
    }
    return keys;
  }

  /** Keys whose value differs from the committed one; records read but left alone are not changes. */
  changes(): Record<string, V | null> | undefined {
    let changes: Record<string, V | null> | undefined;
    for (const [key, value] of this.#overlay) {
      const existed = Object.hasOwn(this.#base, key);
      let changed: V | null | undefined;
      if (value === REMOVED) changed = existed ? null : undefined;
      else if (!existed || JSON.stringify(value) !== JSON.stringify(this.#base[key])) changed = value;
      if (changed !== undefined) {
        changes ??= Object.create(null) as Record<string, V | null>;
        changes[key] = changed;
      }
    }
    return changes;
  }
}

/**
 * A draft of `base`: hand {@link state} to a change function, then take {@link changes}.
 * The committed state is never written through the draft.
 */
export class CaStateDraft {
  /** The mutable view the change function works on. */
  readonly state: CaState;
  readonly #base: ReadonlyCaState;
  readonly #maps: {
    requests: RecordMapDraft<RequestRecord>;
    requestIndex: RecordMapDraft<string>;
    certificates: RecordMapDraft<CertificateRecord>;
  };

  constructor(base: ReadonlyCaState) {
    this.#base = base;
    const committed = base as CaState;
    this.#maps = {
      requests: new RecordMapDraft(committed.requests),
      requestIndex: new RecordMapDraft(committed.requestIndex),
      certificates: new RecordMapDraft(committed.certificates),
    };
    this.state = {
      ...committed,
      requests: this.#maps.requests.view,
      requestIndex: this.#maps.requestIndex.view,
      certificates: this.#maps.certificates.view,
    };
  }

  /**
   * What the change did, or `undefined` when it changed nothing.
   * @throws TypeError when the change replaced a whole record map instead of its entries.
   */
  changes(): CaStateChanges | undefined {
    const changes: CaStateChanges = {};
    const draft = this.state as unknown as Record<string, unknown>;
    const base = this.#base as unknown as Record<string, unknown>;
    let settings: Record<string, unknown> | undefined;
    for (const key of new Set([...Object.keys(base), ...Object.keys(draft)])) {
      if ((RECORD_MAPS as readonly string[]).includes(key)) {
        if (draft[key] !== this.#maps[key as RecordMapName].view) {
          throw new TypeError(`a CA state change must change ${key} entry by entry, not replace the map`);
        }
        continue;
      }
      if (draft[key] !== base[key]) {
        settings ??= {};
        settings[key] = draft[key] ?? null;
      }
    }
    if (settings !== undefined) changes.settings = settings as CaStateChanges["settings"];
    const requests = this.#maps.requests.changes();
    if (requests !== undefined) changes.requests = requests;
    const requestIndex = this.#maps.requestIndex.changes();
    if (requestIndex !== undefined) changes.requestIndex = requestIndex;
    const certificates = this.#maps.certificates.changes();
    if (certificates !== undefined) changes.certificates = certificates;
    return Object.keys(changes).length === 0 ? undefined : changes;
  }
}

/**
 * Apply `changes` to the committed `state` in place, freezing what it adds. Cannot fail for
 * well-formed changes, so a commit is never half done.
 */
export function applyChanges(state: CaState, changes: CaStateChanges): void {
  const settings = state as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(changes.settings ?? {})) {
    if (value === null) delete settings[key];
    else settings[key] = value;
  }
  for (const name of RECORD_MAPS) {
    const target = state[name] as Record<string, unknown>;
    for (const [key, value] of Object.entries(changes[name] ?? {})) {
      if (value === null) delete target[key];
      else target[key] = deepFreeze(value);
    }
  }
}

/**
 * Make a freshly parsed state the committed one: record maps without a prototype (so a key such
 * as `constructor` is just a key) and every record frozen.
 */
export function adoptState(state: CaState): CaState {
  for (const name of RECORD_MAPS) {
    Object.setPrototypeOf(state[name], null);
    for (const record of Object.values(state[name])) deepFreeze(record);
  }
  return state;
}
