/**
 * The end-to-end stack of `stack.ts` with the card behind the real PC/SC stack:
 * PcscTransport → pcscd → vpcd → VpcdBridge → VirtualPivCard (in a worker thread). CA, store and
 * vault are the same.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EmbeddedCa } from "@cardwright/ca-adapters";
import type { AesGcmSecretVault, Cardwright } from "@cardwright/core";
import type { RecordingNotifier } from "@cardwright/core/testing";
import { PcscDeviceProvider, type PivDevice } from "@cardwright/pcsc";
import type { VirtualPivCardOptions } from "@cardwright/simulator";
import type { PgliteStore } from "@cardwright/store-sql";
import type { Pcscd } from "./pcscd.js";
import { until } from "./pcscd.js";
import { RemoteVpcdCard } from "./remote-vpcd-card.js";
import { openParts, sdkOver } from "./stack.js";

export interface PcscStack {
  dir: string;
  ca: EmbeddedCa;
  store: PgliteStore;
  vault: AesGcmSecretVault;
  notifier: RecordingNotifier;
  cardwright: Cardwright;
  /** The virtual card in its vpcd reader (in a worker thread). */
  card: RemoteVpcdCard;
  reader: string;
  provider: PcscDeviceProvider;
  /** Open the card exclusively (close the device to release it). */
  open(): Promise<PivDevice>;
  close(): Promise<void>;
}

/** Wait until pcscd reports the card in `reader` (vpcd polls about twice a second). */
export async function cardPresent(provider: PcscDeviceProvider, reader: string, present = true): Promise<void> {
  await until(
    async () => (await provider.readers()).some((r) => r.name === reader && r.cardPresent === present),
    `pcscd to see the card ${present ? "in" : "leave"} ${reader}`,
  );
}

/** A fresh virtual card inserted into vpcd reader `index` of `pcscd`, and the SDK over a new CA and store. */
export async function createPcscStack(
  pcscd: Pcscd,
  options: { card?: VirtualPivCardOptions; index?: 0 | 1 } = {},
): Promise<PcscStack> {
  const index = options.index ?? 0;
  const dir = mkdtempSync(join(tmpdir(), "cw-pcsc-e2e-"));
  const parts = await openParts(dir);
  const sdk = sdkOver(parts);
  const card = await RemoteVpcdCard.start(pcscd.ports[index], options.card);
  await card.insert();
  const reader = pcscd.readers[index];
  const provider = new PcscDeviceProvider();
  await cardPresent(provider, reader);
  return {
    dir,
    ...parts,
    ...sdk,
    card,
    reader,
    provider,
    open: () => provider.open({ reader }),
    close: async () => {
      await card.stop();
      // Let pcscd notice, so the next card in this reader is not taken for this one.
      await cardPresent(provider, reader, false);
      await parts.store.close();
    },
  };
}
