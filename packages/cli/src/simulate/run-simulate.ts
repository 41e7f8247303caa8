/**
 * `cardwright simulate`: a virtual YubiKey 5 in a real pcscd reader (through vsmartcard's vpcd)
 * until the process is told to stop, so OpenSC, yubico-piv-tool, ykman or your own application
 * can use it. The card comes from an image file when one exists, and goes back to it on exit.
 */
import { existsSync } from "node:fs";
import { CardwrightError } from "@cardwright/core";
import { VirtualPivCard, VPCD_DEFAULT_PORT, VpcdBridge, type VpcdEvent } from "@cardwright/simulator";

/** Options of {@link runSimulate}. */
export interface SimulateOptions {
  /** Card image to load (when it exists) and save on stop; a fresh card is not saved without one. */
  image?: string;
  /** vpcd port (default 35963, reader "Virtual PCD 00 00"; 35964 is "Virtual PCD 00 01"). */
  port?: number;
  /** Firmware of a fresh card (default 5.7.1). */
  firmware?: string;
  /** Serial of a fresh card (default random). */
  serial?: number;
  /** Where lines go. */
  out: (line: string) => void;
  /** Resolves when the simulation should stop (the CLI passes SIGINT/SIGTERM). */
  stopped: Promise<unknown>;
  /** Print each APDU's instruction and lengths (never the bytes: they may carry a PIN). */
  verbose?: boolean;
}

/** What a simulation did. */
export interface SimulateReport {
  serial: number;
  reader: string;
  apdus: number;
  /** The image written on stop, if any. */
  savedImage?: string;
}

/**
 * Insert the card, wait for `stopped`, pull the card and save its image.
 * @throws CardwrightError `APDU_TRANSPORT` when no vpcd listens on the port (pcscd not running
 * or vsmartcard-vpcd missing), `CONFIG_INVALID` for an unreadable image.
 */
export async function runSimulate(options: SimulateOptions): Promise<SimulateReport> {
  const port = options.port ?? VPCD_DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new CardwrightError("CONFIG_INVALID", "--port must be a TCP port", { details: { port } });
  }
  const fromImage = options.image !== undefined && existsSync(options.image);
  const card = fromImage
    ? await VirtualPivCard.loadImage(options.image as string)
    : await VirtualPivCard.create({ firmware: options.firmware, serial: options.serial });
  const onEvent = (event: VpcdEvent) => {
    if (event.kind === "apdu" && options.verbose) {
      options.out(
        `  APDU ${event.index}: INS ${event.ins.toString(16).toUpperCase().padStart(2, "0")}, ${event.commandLength} bytes in, ${event.responseLength} out`,
      );
    } else if (event.kind === "removed" && event.reason === "vpcd-closed") {
      options.out("vpcd closed the connection (pcscd stopped?); stop with Ctrl-C and start again once pcscd runs");
    }
  };
  const bridge = new VpcdBridge(card, { port, onEvent });
  await bridge.insert();
  // vpcd's reader n listens on its base port + n; the default reader.conf starts at 35963.
  const reader = `Virtual PCD 00 ${String(Math.max(0, port - VPCD_DEFAULT_PORT)).padStart(2, "0")}`;
  options.out(
    `Virtual YubiKey ${card.firmware} (serial ${card.serial})${fromImage ? ` from ${options.image}` : ""} is in the vpcd reader on 127.0.0.1:${port}.`,
  );
  options.out(
    `Reader: "${reader}" (with the stock /etc/reader.conf.d/vpcd). Try: opensc-tool -l; yubico-piv-tool -r "Virtual PCD" -a status`,
  );
  options.out("Press Ctrl-C to remove the card and stop.");
  await options.stopped;
  await bridge.remove();
  const report: SimulateReport = { serial: card.serial, reader, apdus: bridge.apduCount };
  if (options.image !== undefined) {
    await card.saveImage(options.image);
    report.savedImage = options.image;
    options.out(
      `Card removed after ${bridge.apduCount} APDUs; image saved to ${options.image} (it holds the card's secrets in clear).`,
    );
  } else {
    options.out(`Card removed after ${bridge.apduCount} APDUs (no --image, nothing saved).`);
  }
  return report;
}
