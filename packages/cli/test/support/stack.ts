/**
 * The whole stack for end-to-end tests, every part real: a virtual YubiKey behind the PIV card
 * edge, the embedded CA and the PGlite store in a temp directory, the AES-GCM vault, the
 * hash-chained audit log. Nothing here is a mock.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  Cardwright,
  type CardwrightOptions,
  type CertificateAuthority,
  type Policy,
} from "@cardwright/core";
import { InMemoryDirectory, RecordingNotifier } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard, type VirtualPivCardOptions } from "@cardwright/simulator";
import { PgliteStore } from "@cardwright/store-sql";
import { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "../../src/index.js";

/** A fixed test KEK; the vault's key in a test, never a production value. */
export const TEST_KEK = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

export interface Stack {
  dir: string;
  ca: EmbeddedCa;
  store: PgliteStore;
  vault: AesGcmSecretVault;
  notifier: RecordingNotifier;
  cardwright: Cardwright;
  card: VirtualPivCard;
  transport: InMemoryTransport;
  device: PivDevice;
  close(): Promise<void>;
}

export interface StackOptions {
  approval?: boolean;
  card?: VirtualPivCardOptions;
  policy?: Policy;
  /** Reuse a directory made by an earlier stack (CA and store are reopened). */
  dir?: string;
}

/** Opens the CA and store in `dir` (created when new). */
export async function openParts(dir: string, approval = false): Promise<{ ca: EmbeddedCa; store: PgliteStore }> {
  const caDir = join(dir, "ca");
  const approvalMode = approval ? "manual" : "automatic";
  let ca: EmbeddedCa;
  try {
    ca = await EmbeddedCa.open({ directory: caDir, approvalMode });
  } catch {
    ca = await EmbeddedCa.create({
      id: DEMO_CA_ID,
      subject: "CN=Cardwright Test CA,O=Example Corp",
      keyAlgorithm: "ECCP256",
      validityDays: 3650,
      directory: caDir,
      approvalMode,
    });
  }
  const store = await PgliteStore.open({ dataDir: join(dir, "store") });
  return { ca, store };
}

/** Builds the SDK over given parts. */
export function sdkOver(parts: { ca: EmbeddedCa; store: PgliteStore }, policy: Policy = staffPivPolicy) {
  const vault = new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" });
  const notifier = new RecordingNotifier();
  const cardwright = new Cardwright({
    store: parts.store,
    vault,
    directory: new InMemoryDirectory(sampleUsers),
    certificateAuthorities: [parts.ca],
    policies: [policy],
    notifier,
  });
  return { vault, notifier, cardwright };
}

/**
 * A second SDK over the stack's store with `ca` in its place (usually the stack's CA behind a wrapper that
 * counts calls or injects a fault): a fresh vault with the test KEK, the sample users, the demo policy
 * unless `options` say otherwise.
 */
export function sdkWith(
  stack: Pick<Stack, "store">,
  ca: CertificateAuthority,
  options: Partial<CardwrightOptions> = {},
): Cardwright {
  return new Cardwright({
    store: stack.store,
    vault: new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" }),
    directory: new InMemoryDirectory(sampleUsers),
    certificateAuthorities: [ca],
    policies: [staffPivPolicy],
    ...options,
  });
}

/** A fresh stack with a new virtual card inserted. */
export async function createStack(options: StackOptions = {}): Promise<Stack> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "cw-e2e-"));
  const parts = await openParts(dir, options.approval);
  const { vault, notifier, cardwright } = sdkOver(parts, options.policy);
  const card = await VirtualPivCard.create(options.card);
  const transport = new InMemoryTransport(card);
  const device = await PivDevice.open(transport);
  return {
    dir,
    ...parts,
    vault,
    notifier,
    cardwright,
    card,
    transport,
    device,
    close: async () => {
      await device.close().catch(() => undefined);
      await parts.store.close();
    },
  };
}
