/**
 * Worker-thread side of {@link RemoteVpcdCard}: a VirtualPivCard behind a VpcdBridge, on its own
 * event loop. The PC/SC client in the test's main thread makes synchronous calls
 * (SCardDisconnect) that pcscd can only finish once the card has answered vpcd; a card on the
 * same event loop could never answer, so it lives here, as a real card lives outside the host.
 */
import { parentPort, workerData } from "node:worker_threads";
import { VirtualPivCard, type VirtualPivCardOptions, VpcdBridge } from "@cardwright/simulator";

type Request =
  | { id: number; op: "insert" | "remove" | "state" }
  | { id: number; op: "removeAtApdu"; apdu: number }
  | { id: number; op: "stallAtApdu"; apdu: number; ms: number }
  | { id: number; op: "saveImage"; path: string };

const { port, card: cardOptions } = workerData as { port: number; card: VirtualPivCardOptions };
const card = await VirtualPivCard.create(cardOptions);
const bridge = new VpcdBridge(card, { port });

const state = () => ({
  serial: card.serial,
  firmware: card.firmware,
  atr: Buffer.from(card.atr).toString("hex"),
  inserted: bridge.inserted,
  apduCount: bridge.apduCount,
});

parentPort?.on("message", async (request: Request) => {
  try {
    if (request.op === "insert") await bridge.insert();
    else if (request.op === "remove") await bridge.remove();
    else if (request.op === "removeAtApdu") bridge.removeAtApdu(request.apdu);
    else if (request.op === "stallAtApdu") bridge.stallAtApdu(request.apdu, request.ms);
    else if (request.op === "saveImage") await card.saveImage(request.path);
    parentPort?.postMessage({ id: request.id, ok: true, state: state() });
  } catch (err) {
    parentPort?.postMessage({ id: request.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
parentPort?.postMessage({ id: 0, ok: true, state: state() });
