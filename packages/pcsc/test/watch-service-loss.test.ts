/**
 * `PcscDeviceProvider.watch()` when the PC/SC service goes away, against a scripted binding
 * that replays what the `smartcard` 3.7 monitor does (checked against a real pcscd in
 * packages/cli/test/pcsc/watch-and-timeouts.e2e.test.ts): "Communication error" once the daemon
 * dies, then "PC/SC service not running" every second from the same, now useless, monitor;
 * a new monitor cannot start until the daemon is back.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PcscBinding, PcscMonitorEvent, PcscReaderMonitorHandle } from "../src/pcsc/binding.js";
import { PcscDeviceProvider, type PcscEvent } from "../src/pcsc/pcsc-device-provider.js";

const PRESENT = 0x20;

/** Monitors the test drives by hand; `serviceUp` decides whether a new one can start. */
class ScriptedPcsc {
  serviceUp = true;
  readonly monitors: ScriptedMonitor[] = [];

  binding(): PcscBinding {
    const pcsc = this;
    return {
      ReaderMonitor: class {
        constructor() {
          // biome-ignore lint/correctness/noConstructorReturn: the test keeps each monitor it hands out
          return pcsc.newMonitor();
        }
      },
      SCARD_STATE_PRESENT: PRESENT,
    } as unknown as PcscBinding;
  }

  newMonitor(): ScriptedMonitor {
    const monitor = new ScriptedMonitor(this);
    this.monitors.push(monitor);
    return monitor;
  }

  get latest(): ScriptedMonitor {
    return this.monitors[this.monitors.length - 1]!;
  }
}

class ScriptedMonitor implements PcscReaderMonitorHandle {
  callback: ((event: PcscMonitorEvent) => void) | undefined;
  stopped = false;
  constructor(private readonly pcsc: ScriptedPcsc) {}
  get isRunning(): boolean {
    return this.callback !== undefined && !this.stopped;
  }
  start(callback: (event: PcscMonitorEvent) => void): void {
    if (!this.pcsc.serviceUp) throw new Error("PC/SC service not running");
    this.callback = callback;
  }
  stop(): void {
    this.stopped = true;
  }
  emit(type: PcscMonitorEvent["type"], reader: string, state = 0, atr: Buffer | null = null): void {
    this.callback?.({ type, reader, state, atr });
  }
}

const describeEvent = (e: PcscEvent) => (e.kind === "error" ? `error ${e.error.code}` : `${e.kind} ${e.reader}`);

describe("PcscDeviceProvider.watch() losing the PC/SC service", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reports one PCSC_NO_SERVICE, removes what it knew, retries with a new monitor and resumes", async () => {
    vi.useFakeTimers();
    const pcsc = new ScriptedPcsc();
    const events: PcscEvent[] = [];
    const provider = new PcscDeviceProvider({ binding: pcsc.binding(), watchRetryMs: 1000 });
    const unwatch = await provider.watch((e) => events.push(e));
    const first = pcsc.latest;
    first.emit("reader-attached", "R0", PRESENT, Buffer.from([0x3b, 0x01]));
    first.emit("reader-attached", "R1", 0);
    expect(events.map(describeEvent)).toEqual(["reader-added R0", "card-inserted R0", "reader-added R1"]);

    pcsc.serviceUp = false;
    first.emit("error", "Communication error");
    first.emit("error", "PC/SC service not running");
    expect(events.slice(3).map(describeEvent)).toEqual([
      "error PCSC_NO_SERVICE",
      "card-removed R0",
      "reader-removed R0",
      "reader-removed R1",
    ]);
    const error = (events[3] as Extract<PcscEvent, { kind: "error" }>).error;
    expect(error.details.scard).toBe("SCARD_F_COMM_ERROR");
    expect(error.message).toContain("start pcscd again");
    await vi.advanceTimersByTimeAsync(0);
    expect(first.stopped).toBe(true);

    // Down for three retries: each new monitor fails to start, silently.
    await vi.advanceTimersByTimeAsync(3000);
    expect(pcsc.monitors.length).toBe(4);
    expect(events.length).toBe(7);

    pcsc.serviceUp = true;
    await vi.advanceTimersByTimeAsync(1000);
    const resumed = pcsc.latest;
    expect(resumed.isRunning).toBe(true);
    resumed.emit("reader-attached", "R0", 0);
    // The dead monitor's late events are ignored.
    first.emit("card-inserted", "R1", PRESENT, Buffer.from([0x3b]));
    resumed.emit("card-inserted", "R0", PRESENT, Buffer.from([0x3b, 0x02]));
    expect(events.slice(7).map(describeEvent)).toEqual(["reader-added R0", "card-inserted R0"]);

    // A second outage is reported again.
    resumed.emit("error", "PC/SC service stopped");
    expect(events.slice(9).map(describeEvent)).toEqual([
      "error PCSC_NO_SERVICE",
      "card-removed R0",
      "reader-removed R0",
    ]);

    unwatch();
    const count = pcsc.monitors.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(pcsc.monitors.length).toBe(count);
  });

  it("passes other monitor errors on as they are, and keeps watching", async () => {
    const pcsc = new ScriptedPcsc();
    const events: PcscEvent[] = [];
    const unwatch = await new PcscDeviceProvider({ binding: pcsc.binding() }).watch((e) => events.push(e));
    pcsc.latest.emit("error", "Reader unavailable");
    pcsc.latest.emit("card-removed", "R0");
    expect(events.map(describeEvent)).toEqual(["error DEVICE_NOT_FOUND", "card-removed R0"]);
    expect(pcsc.monitors.length).toBe(1);
    unwatch();
    expect(pcsc.latest.stopped).toBe(true);
  });

  it("fails with PCSC_NO_SERVICE when the service is down at the start", async () => {
    const pcsc = new ScriptedPcsc();
    pcsc.serviceUp = false;
    await expect(new PcscDeviceProvider({ binding: pcsc.binding() }).watch(() => undefined)).rejects.toMatchObject({
      code: "PCSC_NO_SERVICE",
      details: { scard: "SCARD_E_NO_SERVICE" },
    });
  });
});
