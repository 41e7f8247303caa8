/**
 * The Node PC/SC binding (`smartcard`, N-API), loaded lazily: importing `@cardwright/pcsc`
 * never touches native code, so the card edge works without a PC/SC stack, and only opening a
 * real reader needs one. These interfaces are the subset of the binding cardwright uses, so
 * the package type-checks without the optional dependency installed.
 */
import { CardwrightError } from "@cardwright/core";

/** A connected card (an SCARDHANDLE). */
export interface PcscCardHandle {
  readonly protocol: number;
  readonly connected: boolean;
  transmit(command: Buffer, options?: { maxRecvLength?: number; autoGetResponse?: boolean }): Promise<Buffer>;
  getStatus(): { state: number; protocol: number; atr: Buffer };
  disconnect(disposition?: number): void;
  reconnect(shareMode?: number, protocol?: number, initialization?: number): Promise<number>;
}

/** A reader as SCardListReaders / SCardGetStatusChange report it. */
export interface PcscReaderHandle {
  readonly name: string;
  readonly state: number;
  readonly atr: Buffer | null;
  connect(shareMode?: number, protocol?: number): Promise<PcscCardHandle>;
}

/** Reader state from SCardGetStatusChange. */
export interface PcscReaderState {
  name: string;
  state: number;
  changed: boolean;
  atr: Buffer | null;
}

/** An SCARDCONTEXT. */
export interface PcscContextHandle {
  readonly isValid: boolean;
  listReaders(): PcscReaderHandle[];
  waitForChange(
    readers?: Array<PcscReaderHandle | { name: string; state?: number }>,
    timeout?: number,
  ): Promise<PcscReaderState[] | null>;
  cancel(): void;
  close(): void;
}

/** Event of the binding's native monitor thread. */
export interface PcscMonitorEvent {
  type: "reader-attached" | "reader-detached" | "card-inserted" | "card-removed" | "error";
  reader: string;
  state: number;
  atr: Buffer | null;
}

/** The binding's native reader monitor (SCardGetStatusChange with PnP notification on a thread). */
export interface PcscReaderMonitorHandle {
  readonly isRunning: boolean;
  start(callback: (event: PcscMonitorEvent) => void): void;
  stop(): void;
}

/** The module surface cardwright uses (PC/SC Workgroup constants as the platform defines them). */
export interface PcscBinding {
  Context: new () => PcscContextHandle;
  ReaderMonitor: new () => PcscReaderMonitorHandle;
  SCARD_SHARE_EXCLUSIVE: number;
  SCARD_SHARE_SHARED: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_LEAVE_CARD: number;
  SCARD_RESET_CARD: number;
  SCARD_UNPOWER_CARD: number;
  SCARD_STATE_PRESENT: number;
  SCARD_STATE_EMPTY: number;
  SCARD_STATE_MUTE: number;
  SCARD_STATE_EXCLUSIVE: number;
}

/** The npm package the PC/SC transport runs on. */
export const PCSC_BINDING_MODULE = "smartcard";

let loaded: Promise<PcscBinding> | undefined;

/**
 * Load the PC/SC binding once (later calls share the result).
 * @param load how to import it; tests pass a failing loader. Defaults to `import("smartcard")`.
 * @throws CardwrightError `PCSC_UNAVAILABLE` when the module or its native part is missing.
 */
export function loadPcscBinding(load?: () => Promise<unknown>): Promise<PcscBinding> {
  if (load !== undefined) return importBinding(load);
  loaded ??= importBinding(() => import(/* @vite-ignore */ PCSC_BINDING_MODULE)).catch((err: unknown) => {
    // A failed load is not cached: the user may install the binding and try again.
    loaded = undefined;
    throw err;
  });
  return loaded;
}

async function importBinding(load: () => Promise<unknown>): Promise<PcscBinding> {
  let module: unknown;
  try {
    module = await load();
  } catch (cause) {
    throw new CardwrightError(
      "PCSC_UNAVAILABLE",
      `the PC/SC binding "${PCSC_BINDING_MODULE}" cannot be loaded; run \`npm run setup\` (or install libpcsclite-dev and pcscd), then \`npm rebuild ${PCSC_BINDING_MODULE}\` with install scripts allowed`,
      { cause, details: { module: PCSC_BINDING_MODULE } },
    );
  }
  // CommonJS through import(): the exports sit on `default`.
  const candidate = (module as { default?: unknown }).default ?? module;
  const binding = candidate as Partial<PcscBinding>;
  if (typeof binding.Context !== "function" || typeof binding.SCARD_SHARE_EXCLUSIVE !== "number") {
    throw new CardwrightError(
      "PCSC_UNAVAILABLE",
      `"${PCSC_BINDING_MODULE}" loaded but does not look like the PC/SC binding cardwright expects (smartcard 3.x)`,
      { details: { module: PCSC_BINDING_MODULE } },
    );
  }
  return binding as PcscBinding;
}
