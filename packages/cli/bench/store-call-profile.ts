/**
 * Where a store's time goes, by repository method: a `Store` decorator that counts the calls of
 * every method (`certificates.create`, `audit.append`, `transaction`…) and the wall time they
 * took, so the bureau throughput can say which of an issue's store calls dominate.
 */
import type { Store } from "@cardwright/core";
import { now } from "./stats.js";

/** Calls and milliseconds of one method. */
export interface MethodProfile {
  calls: number;
  ms: number;
}

/** Every repository of the port: a store decorator that missed one would hand callers `undefined`. */
const REPOSITORIES = [
  "cards",
  "certificates",
  "requests",
  "operations",
  "audit",
  "leases",
  "approvals",
  "documents",
  "agentTasks",
  "securityAnswers",
] as const satisfies readonly Exclude<keyof Store, "transaction" | "close">[];

/** Calls and time per `repository.method`; `transaction` counts BEGIN to COMMIT minus the callback's own time. */
export class StoreCallProfile {
  readonly methods = new Map<string, MethodProfile>();

  /** Adds `ms` to `name`. */
  add(name: string, ms: number): void {
    const m = this.methods.get(name) ?? { calls: 0, ms: 0 };
    m.calls++;
    m.ms += ms;
    this.methods.set(name, m);
  }

  /** Start again from zero. */
  reset(): void {
    this.methods.clear();
  }

  /** `store` with every repository method and `transaction` recorded here. */
  wrap(store: Store): Store {
    const wrapped: Record<string, unknown> = {};
    for (const repo of REPOSITORIES) {
      const inner = store[repo] as unknown as Record<string, unknown>;
      wrapped[repo] = new Proxy(inner, {
        get: (target, key, receiver) => {
          const value = Reflect.get(target, key, receiver);
          if (typeof value !== "function" || typeof key !== "string") return value;
          return async (...args: unknown[]) => {
            const start = now();
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            } finally {
              this.add(`${repo}.${key}`, now() - start);
            }
          };
        },
      });
    }
    wrapped.transaction = async <T>(fn: (tx: Store) => Promise<T>): Promise<T> => {
      let inside = 0;
      const start = now();
      try {
        return await store.transaction(async (tx) => {
          const entered = now();
          try {
            return await fn(this.wrap(tx));
          } finally {
            inside = now() - entered;
          }
        });
      } finally {
        this.add("transaction (BEGIN + COMMIT)", now() - start - inside);
      }
    };
    wrapped.close = () => store.close();
    return wrapped as unknown as Store;
  }
}
