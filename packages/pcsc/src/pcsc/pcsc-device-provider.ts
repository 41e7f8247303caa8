/**
 * `PcscDeviceProvider`: the core `DeviceProvider` port over PC/SC. Lists the readers with a PIV
 * card, opens one as a {@link PivDevice} on an exclusive {@link PcscTransport} (released by
 * `device.close()`), waits for a card, and reports reader and card arrivals and departures.
 */
import { CardwrightError, type DeviceIdentity, type DeviceProvider } from "@cardwright/core";
import { NotFoundError } from "../errors.js";
import { PivDevice, type PivDeviceOptions } from "../piv/piv-device.js";
import { loadPcscBinding, type PcscBinding, type PcscMonitorEvent, type PcscReaderMonitorHandle } from "./binding.js";
import { pcscError, scardCodeOf } from "./pcsc-errors.js";
import { establish, PcscTransport, type PcscTransportOptions } from "./pcsc-transport.js";

/** A reader and whether it holds a card. */
export interface PcscReaderInfo {
  name: string;
  cardPresent: boolean;
  /** ATR of the card, when present. */
  atr?: Uint8Array;
}

/** A change in the PC/SC world. */
export type PcscEvent =
  | { kind: "reader-added" | "reader-removed"; reader: string }
  | { kind: "card-inserted"; reader: string; atr: Uint8Array }
  | { kind: "card-removed"; reader: string }
  | { kind: "error"; error: CardwrightError };

/** Options of {@link PcscDeviceProvider}. */
export interface PcscDeviceProviderOptions {
  /** Passed to every {@link PcscTransport.connect}. */
  transport?: Omit<PcscTransportOptions, "binding">;
  /** Passed to every {@link PivDevice.open}. */
  device?: Omit<PivDeviceOptions, "onClose">;
  /** Only readers whose name contains this text (case-insensitive). */
  readerFilter?: string;
  /** How often {@link PcscDeviceProvider.waitForDevice} re-checks, in ms (default 250). */
  pollMs?: number;
  /** How often {@link PcscDeviceProvider.watch} tries to reach the PC/SC service again after losing it, in ms (default 1000). */
  watchRetryMs?: number;
  /** The binding; loaded lazily when omitted. */
  binding?: PcscBinding;
}

/** Stop watching. */
export type Unwatch = () => void;

/** PIV cards in PC/SC readers as cardwright devices. */
export class PcscDeviceProvider implements DeviceProvider {
  constructor(private readonly options: PcscDeviceProviderOptions = {}) {}

  private binding(): Promise<PcscBinding> {
    return this.options.binding !== undefined ? Promise.resolve(this.options.binding) : loadPcscBinding();
  }

  /**
   * Readers and their card state (SCardListReaders + SCardGetStatusChange).
   * @throws CardwrightError `PCSC_UNAVAILABLE`, `PCSC_NO_SERVICE`.
   */
  async readers(): Promise<PcscReaderInfo[]> {
    const binding = await this.binding();
    const context = establish(binding);
    try {
      const filter = this.options.readerFilter?.toLowerCase();
      const readers = context
        .listReaders()
        .filter((r) => filter === undefined || r.name.toLowerCase().includes(filter));
      if (readers.length === 0) return [];
      const states =
        (await context.waitForChange(
          readers.map((r) => ({ name: r.name, state: 0 })),
          0,
        )) ?? [];
      return readers.map((r) => {
        const state = states.find((s) => s.name === r.name)?.state ?? r.state;
        const present = (state & binding.SCARD_STATE_PRESENT) !== 0 && (state & binding.SCARD_STATE_MUTE) === 0;
        const atr = states.find((s) => s.name === r.name)?.atr ?? r.atr;
        const info: PcscReaderInfo = { name: r.name, cardPresent: present };
        if (present && atr !== null) info.atr = Uint8Array.from(atr);
        return info;
      });
    } catch (err) {
      throw pcscError(err, { action: "listing readers" });
    } finally {
      context.close();
    }
  }

  /**
   * Identities of the PIV cards present. Each card is opened shared and briefly; readers whose
   * card is not a PIV card, or is held exclusively by another application, are skipped.
   */
  async list(): Promise<DeviceIdentity[]> {
    const identities: DeviceIdentity[] = [];
    for (const reader of await this.readers()) {
      if (!reader.cardPresent) continue;
      const identity = await this.identify(reader.name);
      if (identity !== undefined) identities.push(identity);
    }
    return identities;
  }

  /**
   * Open a PIV card exclusively: by reader name, by serial, or the first PIV card present.
   * The exclusive connection lasts until `device.close()`.
   * @throws CardwrightError `DEVICE_NOT_FOUND`, `PCSC_SHARING_VIOLATION`, `PCSC_NO_SERVICE`, `PCSC_UNAVAILABLE`.
   */
  async open(selector: { serial?: string; reader?: string } = {}): Promise<PivDevice> {
    const candidates =
      selector.reader !== undefined
        ? [selector.reader]
        : (await this.readers()).filter((r) => r.cardPresent).map((r) => r.name);
    for (const reader of candidates) {
      const device = await this.openOn(reader, selector.reader !== undefined);
      if (device === undefined) continue;
      if (selector.serial === undefined || device.identity.serial === selector.serial) return device;
      await device.close();
    }
    throw new CardwrightError(
      "DEVICE_NOT_FOUND",
      selector.serial !== undefined
        ? `no PIV card with serial ${selector.serial} in any reader; insert it`
        : "no PIV card in any reader; insert one",
      { details: { deviceSerial: selector.serial, reader: selector.reader } },
    );
  }

  /**
   * Resolve once a PIV card (optionally with `serial`) is present; reject after `timeoutMs`
   * (default: wait forever) with `DEVICE_NOT_FOUND`.
   */
  async waitForDevice(options: { serial?: string; timeoutMs?: number } = {}): Promise<DeviceIdentity> {
    const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    const pollMs = this.options.pollMs ?? 250;
    for (;;) {
      const found = (await this.list()).find((d) => options.serial === undefined || d.serial === options.serial);
      if (found !== undefined) return found;
      if (Date.now() >= deadline) {
        throw new CardwrightError(
          "DEVICE_NOT_FOUND",
          `no PIV card${options.serial === undefined ? "" : ` with serial ${options.serial}`} appeared within ${options.timeoutMs} ms; insert it and retry`,
          { details: { deviceSerial: options.serial, timeoutMs: options.timeoutMs } },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    }
  }

  /**
   * Report readers added and removed and cards inserted and removed, from the binding's
   * monitor thread. Readers present at the start are reported as added (and their cards as
   * inserted). Call the returned function to stop.
   *
   * When the PC/SC service goes away while watching (pcscd stopped or restarted), the listener
   * gets one `error` event with `PCSC_NO_SERVICE`, then `card-removed` and `reader-removed` for
   * what it knew — nothing in them is reachable any more — and watching resumes by itself once
   * the service is back (its readers reported as added again). The binding's monitor keeps its
   * first PC/SC context for life and, once the daemon is gone, only repeats the error every
   * second, even after pcscd returns; so the lost monitor is stopped and a new one (with a new
   * context) is tried every `watchRetryMs`.
   * @throws CardwrightError `PCSC_UNAVAILABLE`, `PCSC_NO_SERVICE` (when the service is down at the start).
   */
  async watch(listener: (event: PcscEvent) => void): Promise<Unwatch> {
    const binding = await this.binding();
    const retryMs = this.options.watchRetryMs ?? 1000;
    /** Readers reported as added, and whether each holds a card as far as the listener knows. */
    const known = new Map<string, boolean>();
    let current: PcscReaderMonitorHandle | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let serviceLost = false;

    const lose = (monitor: PcscReaderMonitorHandle, error: CardwrightError) => {
      current = undefined;
      // Not from inside the binding's callback: stop() joins the monitor thread.
      setTimeout(() => monitor.stop(), 0);
      if (!serviceLost) {
        serviceLost = true;
        listener({ kind: "error", error });
        for (const [reader, present] of known) {
          if (present) listener({ kind: "card-removed", reader });
          listener({ kind: "reader-removed", reader });
        }
        known.clear();
      }
      scheduleRetry();
    };

    const handle = (monitor: PcscReaderMonitorHandle, event: PcscMonitorEvent) => {
      switch (event.type) {
        case "reader-attached": {
          const present = (event.state & binding.SCARD_STATE_PRESENT) !== 0 && event.atr !== null;
          known.set(event.reader, present);
          listener({ kind: "reader-added", reader: event.reader });
          if (present) listener({ kind: "card-inserted", reader: event.reader, atr: Uint8Array.from(event.atr ?? []) });
          return;
        }
        case "reader-detached":
          known.delete(event.reader);
          listener({ kind: "reader-removed", reader: event.reader });
          return;
        case "card-inserted":
          known.set(event.reader, true);
          listener({ kind: "card-inserted", reader: event.reader, atr: Uint8Array.from(event.atr ?? []) });
          return;
        case "card-removed":
          known.set(event.reader, false);
          listener({ kind: "card-removed", reader: event.reader });
          return;
        default: {
          // On error events the binding puts the message where the reader name goes.
          const error = watchError(event.reader);
          if (error.code === "PCSC_NO_SERVICE") lose(monitor, error);
          else listener({ kind: "error", error });
        }
      }
    };

    const start = () => {
      const monitor = new binding.ReaderMonitor();
      current = monitor;
      try {
        monitor.start((event) => {
          // Events queued by a monitor already replaced (or after unwatch) are stale.
          if (!stopped && monitor === current) handle(monitor, event);
        });
      } catch (err) {
        current = undefined;
        throw err;
      }
      serviceLost = false;
    };

    const scheduleRetry = () => {
      if (stopped || retry !== undefined) return;
      retry = setTimeout(() => {
        retry = undefined;
        if (stopped) return;
        try {
          start();
        } catch {
          scheduleRetry();
        }
      }, retryMs);
    };

    try {
      start();
    } catch (err) {
      throw pcscError(err, { action: "watching readers" });
    }
    return () => {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      current?.stop();
      current = undefined;
    };
  }

  private async identify(reader: string): Promise<DeviceIdentity | undefined> {
    let transport: PcscTransport;
    try {
      transport = await PcscTransport.connect(reader, {
        ...this.options.transport,
        share: "shared",
        disposition: "leave",
        binding: await this.binding(),
      });
    } catch (err) {
      if (err instanceof CardwrightError && skippable(err)) return undefined;
      throw err;
    }
    try {
      const device = await PivDevice.open(transport, this.options.device);
      return device.identity;
    } catch (err) {
      if (err instanceof NotFoundError || (err instanceof CardwrightError && err.code === "PIV_NOT_FOUND"))
        return undefined;
      throw err;
    } finally {
      await transport.close();
    }
  }

  private async openOn(reader: string, explicit: boolean): Promise<PivDevice | undefined> {
    let transport: PcscTransport;
    try {
      transport = await PcscTransport.connect(reader, { ...this.options.transport, binding: await this.binding() });
    } catch (err) {
      if (!explicit && err instanceof CardwrightError && skippable(err)) return undefined;
      throw err;
    }
    try {
      return await PivDevice.open(transport, { ...this.options.device, onClose: () => transport.close() });
    } catch (err) {
      await transport.close();
      if (!explicit && err instanceof CardwrightError && err.code === "PIV_NOT_FOUND") return undefined;
      throw err;
    }
  }
}

/**
 * SCard return codes that, reported by the monitor, mean the PC/SC service itself is gone: the
 * client library answers COMM_ERROR on the socket of a daemon that has just died, and
 * NO_SERVICE / SERVICE_STOPPED from then on.
 */
const SERVICE_LOST = new Set(["SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED", "SCARD_F_COMM_ERROR"]);

/** A monitor error as a CardwrightError; losing the service is `PCSC_NO_SERVICE` whatever the code that said so. */
function watchError(message: string): CardwrightError {
  const cause = new Error(message);
  const scard = scardCodeOf(cause);
  if (scard === undefined || !SERVICE_LOST.has(scard)) return pcscError(cause, { action: "watching readers" });
  return new CardwrightError(
    "PCSC_NO_SERVICE",
    `watching readers: the PC/SC service went away (${message}); start pcscd again — watching resumes when it is back`,
    { cause, details: { scard } },
  );
}

/** Readers to pass over while searching: emptied meanwhile, or busy in another application. */
function skippable(err: CardwrightError): boolean {
  return err.code === "APDU_CARD_REMOVED" || err.code === "PCSC_SHARING_VIOLATION" || err.code === "DEVICE_NOT_FOUND";
}
