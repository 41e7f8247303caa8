/**
 * `VpcdBridge`: puts a {@link VirtualPivCard} into a real pcscd reader through the vsmartcard
 * virtual reader driver (vpcd). Connecting is inserting the card, disconnecting is pulling it;
 * every PC/SC client (OpenSC, yubico-piv-tool, ykman, cardwright's PcscTransport) then sees a
 * card in "Virtual PCD 00 0n".
 */
import { Socket } from "node:net";
import { CardwrightError } from "@cardwright/core";
import type { VirtualPivCard } from "../card/virtual-piv-card.js";
import { encodeVpcdFrame, VPCD_DEFAULT_PORT, VpcdControl, VpcdFrameDecoder } from "./vpcd-protocol.js";

/** Only loopback: vpcd listens on every interface, and the card's secrets must not leave the host. */
const VPCD_HOST = "127.0.0.1";

/** What the bridge saw, for logs and tests (APDU bytes are not included: they may carry a PIN). */
export type VpcdEvent =
  | { kind: "inserted"; port: number }
  | { kind: "removed"; port: number; reason: "remove" | "armed-removal" | "vpcd-closed" }
  | { kind: "control"; control: "power-off" | "power-on" | "reset" | "get-atr" }
  | { kind: "apdu"; index: number; ins: number; commandLength: number; responseLength: number }
  | { kind: "stall"; index: number; ms: number }
  | { kind: "error"; message: string };

/** Options for {@link VpcdBridge}. */
export interface VpcdBridgeOptions {
  /** vpcd TCP port (reader "Virtual PCD 00 00" is 35963, "00 01" 35964, as reader.conf says). */
  port?: number;
  /** Give up connecting after this many milliseconds (default 5000). */
  connectTimeoutMs?: number;
  /** Observer of protocol events. */
  onEvent?: (event: VpcdEvent) => void;
}

/**
 * A virtual card slot in one vpcd reader.
 *
 * @example
 * const bridge = new VpcdBridge(await VirtualPivCard.create(), { port: 35963 });
 * await bridge.insert(); // pcscd now reports a card in "Virtual PCD 00 00"
 * await bridge.remove();
 */
export class VpcdBridge {
  /** vpcd TCP port this bridge connects to. */
  readonly port: number;
  private currentCard: VirtualPivCard;
  private socket: Socket | undefined;
  private readonly decoder = new VpcdFrameDecoder();
  private readonly connectTimeoutMs: number;
  private readonly onEvent: ((event: VpcdEvent) => void) | undefined;
  /** Serialises frames: the card answers one command at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  private count = 0;
  private removalAt: number | undefined;
  private stall: { at: number; ms: number } | undefined;
  private closed: Promise<void> | undefined;

  constructor(card: VirtualPivCard, options: VpcdBridgeOptions = {}) {
    const port = options.port ?? VPCD_DEFAULT_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new CardwrightError("CONFIG_INVALID", "vpcd port must be 1 to 65535", { details: { port } });
    }
    this.port = port;
    this.currentCard = card;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.onEvent = options.onEvent;
  }

  /** The card this bridge holds (inserted or not). */
  get card(): VirtualPivCard {
    return this.currentCard;
  }

  /** Whether the card is in the reader (connected to vpcd). */
  get inserted(): boolean {
    return this.socket !== undefined;
  }

  /** Command APDUs answered since the bridge was made (control bytes not counted). */
  get apduCount(): number {
    return this.count;
  }

  /**
   * Insert the card (optionally a different one): connect to vpcd. The card starts with fresh
   * volatile state, as after power-up.
   * @throws CardwrightError `APDU_TRANSPORT` when vpcd does not accept the connection (pcscd not
   * running, vsmartcard-vpcd not installed, or another card already in that reader).
   */
  async insert(card?: VirtualPivCard): Promise<void> {
    if (this.socket !== undefined) {
      throw new CardwrightError("CARD_STATE", `a card is already in the vpcd reader on port ${this.port}`, {
        details: { port: this.port },
      });
    }
    if (card !== undefined) this.currentCard = card;
    this.currentCard.reset();
    this.decoder.clear();
    const socket = await this.connect();
    this.socket = socket;
    this.closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.receive(socket, chunk));
    socket.on("close", () => {
      if (this.socket === socket) {
        // vpcd (pcscd) went away: the card is out of the reader.
        this.socket = undefined;
        this.currentCard.reset();
        this.onEvent?.({ kind: "removed", port: this.port, reason: "vpcd-closed" });
      }
    });
    socket.on("error", (err) => this.onEvent?.({ kind: "error", message: err.message }));
    this.onEvent?.({ kind: "inserted", port: this.port });
  }

  /** Pull the card: close the connection. The card loses power (volatile state). No-op when out. */
  async remove(): Promise<void> {
    await this.pull("remove");
  }

  /**
   * Pull the card when the `apdu`-th command APDU from now arrives, before the card sees it —
   * a card yanked mid-operation. One-shot.
   * @throws RangeError for a non-positive count.
   */
  removeAtApdu(apdu: number): void {
    if (!Number.isInteger(apdu) || apdu < 1) throw new RangeError("removeAtApdu needs a positive APDU count");
    this.removalAt = this.count + apdu;
  }

  /**
   * Make the card go silent when the `apdu`-th command APDU from now arrives: it answers that
   * command only after `ms` milliseconds (a card that stalls, then recovers), and every frame
   * behind it waits too. The host's time limit, not the card, ends the wait. One-shot; a removal
   * meanwhile drops the late answer, as a pulled card's would be lost.
   * @throws RangeError for a non-positive count or a negative delay.
   */
  stallAtApdu(apdu: number, ms: number): void {
    if (!Number.isInteger(apdu) || apdu < 1) throw new RangeError("stallAtApdu needs a positive APDU count");
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError("stallAtApdu needs a non-negative delay");
    this.stall = { at: this.count + apdu, ms };
  }

  private async pull(reason: "remove" | "armed-removal"): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    this.currentCard.reset();
    this.decoder.clear();
    socket.destroy();
    await this.closed;
    this.onEvent?.({ kind: "removed", port: this.port, reason });
  }

  private connect(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const socket = new Socket();
      const fail = (cause: Error) => {
        socket.destroy();
        reject(
          new CardwrightError(
            "APDU_TRANSPORT",
            `cannot insert the virtual card: nothing accepts on ${VPCD_HOST}:${this.port}; start pcscd with the vsmartcard-vpcd reader (npm run setup installs it) and check the port in its reader.conf`,
            { cause, details: { port: this.port } },
          ),
        );
      };
      socket.setTimeout(this.connectTimeoutMs, () =>
        fail(new Error(`connect timed out after ${this.connectTimeoutMs} ms`)),
      );
      socket.once("error", fail);
      socket.connect({ host: VPCD_HOST, port: this.port }, () => {
        socket.setTimeout(0);
        socket.removeListener("error", fail);
        socket.setNoDelay(true);
        resolve(socket);
      });
    });
  }

  private receive(socket: Socket, chunk: Buffer): void {
    for (const payload of this.decoder.push(chunk)) {
      this.queue = this.queue
        .then(() => this.handle(socket, payload))
        .catch((err: unknown) => {
          this.onEvent?.({ kind: "error", message: err instanceof Error ? err.message : String(err) });
        });
    }
  }

  private async handle(socket: Socket, payload: Uint8Array): Promise<void> {
    if (this.socket !== socket) return; // pulled meanwhile: the command never reaches the card
    if (payload.length === 1) {
      this.control(socket, payload[0] as number);
      return;
    }
    if (payload.length === 0) return;
    const index = ++this.count;
    if (this.removalAt !== undefined && index >= this.removalAt) {
      this.removalAt = undefined;
      await this.pull("armed-removal");
      return;
    }
    if (this.stall !== undefined && index >= this.stall.at) {
      const { ms } = this.stall;
      this.stall = undefined;
      this.onEvent?.({ kind: "stall", index, ms });
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (this.socket !== socket) return;
    }
    const response = await this.currentCard.process(payload);
    if (this.socket !== socket) return;
    socket.write(encodeVpcdFrame(response));
    this.onEvent?.({
      kind: "apdu",
      index,
      ins: payload[1] ?? 0,
      commandLength: payload.length,
      responseLength: response.length,
    });
  }

  private control(socket: Socket, byte: number): void {
    switch (byte) {
      case VpcdControl.powerOff:
        this.currentCard.reset();
        this.onEvent?.({ kind: "control", control: "power-off" });
        return;
      case VpcdControl.powerOn:
        this.currentCard.reset();
        this.onEvent?.({ kind: "control", control: "power-on" });
        return;
      case VpcdControl.reset:
        this.currentCard.reset();
        this.onEvent?.({ kind: "control", control: "reset" });
        return;
      case VpcdControl.getAtr:
        socket.write(encodeVpcdFrame(this.currentCard.atr));
        this.onEvent?.({ kind: "control", control: "get-atr" });
        return;
      default:
        // vsmartcard's own card ignores unknown controls too; vpcd expects no reply.
        this.onEvent?.({ kind: "error", message: `unknown vpcd control byte ${byte}` });
    }
  }
}
