/**
 * A virtual card in a vpcd reader, run in a worker thread (see vpcd-card-worker.ts for why).
 * The same operations as {@link VpcdBridge}, asynchronous because they cross threads.
 */
import { Worker } from "node:worker_threads";
import type { VirtualPivCardOptions } from "@cardwright/simulator";

interface CardState {
  serial: number;
  firmware: string;
  atr: string;
  inserted: boolean;
  apduCount: number;
}

type Reply = { id: number; ok: true; state: CardState } | { id: number; ok: false; error: string };

export class RemoteVpcdCard {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private last!: CardState;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (reply: Reply) => {
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  /** Start the worker with a fresh card for vpcd port `port` (not inserted yet). */
  static async start(port: number, card: VirtualPivCardOptions = {}): Promise<RemoteVpcdCard> {
    const worker = new Worker(new URL("./vpcd-card-worker.mjs", import.meta.url), {
      workerData: { port, card },
      // The worker loads TypeScript sources like the tests do.
      execArgv: ["--conditions", "source"],
    });
    const remote = new RemoteVpcdCard(worker);
    const first = await new Promise<Reply>((resolve, reject) => {
      remote.pending.set(0, resolve);
      worker.once("error", reject);
    });
    if (!first.ok) throw new Error(first.error);
    remote.last = first.state;
    return remote;
  }

  get serial(): number {
    return this.last.serial;
  }

  get atr(): Uint8Array {
    return Uint8Array.from(Buffer.from(this.last.atr, "hex"));
  }

  get inserted(): boolean {
    return this.last.inserted;
  }

  insert(): Promise<CardState> {
    return this.call({ op: "insert" });
  }

  remove(): Promise<CardState> {
    return this.call({ op: "remove" });
  }

  /** Pull the card when the `apdu`-th command APDU from now arrives. */
  removeAtApdu(apdu: number): Promise<CardState> {
    return this.call({ op: "removeAtApdu", apdu });
  }

  /** Hold the answer to the `apdu`-th command APDU from now for `ms` milliseconds (a stalled card). */
  stallAtApdu(apdu: number, ms: number): Promise<CardState> {
    return this.call({ op: "stallAtApdu", apdu, ms });
  }

  /** Command APDUs answered so far. */
  async apduCount(): Promise<number> {
    return (await this.call({ op: "state" })).apduCount;
  }

  async stop(): Promise<void> {
    await this.remove().catch(() => undefined);
    await this.worker.terminate();
  }

  private call(request: Record<string, unknown>): Promise<CardState> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => {
        if (reply.ok) {
          this.last = reply.state;
          resolve(reply.state);
        } else reject(new Error(reply.error));
      });
      this.worker.postMessage({ id, ...request });
    });
  }
}
