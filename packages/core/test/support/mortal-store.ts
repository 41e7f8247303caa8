/**
 * A view of a store for a "process" that can die: after `kill()` every call through it fails, as
 * calls from a crashed process never reach the database. Its card leases stop being renewed and
 * expire, which is what lets another process take its operations over.
 */
import { CardwrightError, type Store } from "../../src/index.js";

const REPOSITORIES = new Set(["cards", "certificates", "requests", "operations", "audit", "leases"]);

export interface MortalStore {
  store: Store;
  kill(): void;
}

export function mortalStore(inner: Store): MortalStore {
  let dead = false;
  const check = () => {
    if (dead) throw new CardwrightError("STORE_FAILURE", "this process is dead");
  };
  const wrapRepository = (repo: object): object =>
    new Proxy(repo, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          check();
          const result = await value.apply(target, args);
          check();
          return result;
        };
      },
    });
  const wrap = (s: Store): Store =>
    new Proxy(s, {
      get(target, prop, receiver) {
        if (typeof prop === "string" && REPOSITORIES.has(prop)) return wrapRepository(Reflect.get(target, prop));
        if (prop === "transaction") {
          return async <T>(fn: (tx: Store) => Promise<T>) => {
            check();
            return target.transaction(async (tx) => {
              const result = await fn(wrap(tx));
              // Dying before COMMIT: nothing of the transaction lands.
              check();
              return result;
            });
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
  return {
    store: wrap(inner),
    kill: () => {
      dead = true;
    },
  };
}
