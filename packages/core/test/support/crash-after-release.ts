/**
 * A store for a "process" that dies right after the transaction that releases a card commits —
 * the crash window between the step that frees the card and the runner's own, separate save of
 * the operation's final snapshot.
 */
import { CardwrightError, type OperationRecord, type Store } from "../../src/index.js";

/** What the dying store saw. */
export interface CrashState {
  /** The card's release (an update without `pendingOperationId`) has committed. */
  released: boolean;
  /** `operations.update` calls refused since, as writes of a dead process. */
  refused: number;
}

/**
 * Wraps `inner`: once an update of card `cardId` without `pendingOperationId` has committed
 * (inside a transaction: when the transaction returns; outside: when the update does), every
 * later `operations.update` issued outside a transaction throws `STORE_FAILURE`, as writes of a
 * process that died never land. Writes inside a transaction still go through: saving the final
 * status in the transaction that releases the card is what closes the window.
 */
export function crashAfterRelease(inner: Store, cardId: string): { store: Store; state: CrashState } {
  const state: CrashState = { released: false, refused: 0 };
  const wrap = (s: Store, inTransaction: boolean, releases: { seen: boolean }): Store =>
    new Proxy(s, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === "cards") {
          return new Proxy(value as Store["cards"], {
            get(cards, name, r) {
              const fn = Reflect.get(cards, name, r);
              if (name !== "update" || typeof fn !== "function") return fn;
              return async (record: Parameters<Store["cards"]["update"]>[0]) => {
                const saved = await fn.call(cards, record);
                if (record.id === cardId && record.pendingOperationId === undefined) {
                  if (inTransaction) releases.seen = true;
                  else state.released = true;
                }
                return saved;
              };
            },
          });
        }
        if (prop === "operations" && !inTransaction) {
          return new Proxy(value as Store["operations"], {
            get(operations, name, r) {
              const fn = Reflect.get(operations, name, r);
              if (name !== "update" || typeof fn !== "function") return fn;
              return async (record: OperationRecord) => {
                if (state.released) {
                  state.refused++;
                  throw new CardwrightError("STORE_FAILURE", "the process died before this write");
                }
                return fn.call(operations, record);
              };
            },
          });
        }
        if (prop === "transaction") {
          return async <T>(fn: (tx: Store) => Promise<T>): Promise<T> => {
            const seen = { seen: false };
            const result = await (target as Store).transaction((tx) => fn(wrap(tx, true, seen)));
            // Committed: the card is free in the store, and the process dies now.
            if (seen.seen) state.released = true;
            return result;
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return { store: wrap(inner, false, { seen: false }), state };
}
