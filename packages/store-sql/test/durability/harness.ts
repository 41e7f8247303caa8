/**
 * The parts every durability worker builds, the same in each process: the PostgreSQL store, the
 * embedded CA in a shared directory (multi-process safe), the AES-GCM vault with a fixed test KEK,
 * a directory of 100+ users, the example PIV policy (one P-256 authentication certificate).
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import { AesGcmSecretVault, Cardwright, type DirectoryUser } from "@cardwright/core";
import { examplePivPolicy, InMemoryDirectory } from "@cardwright/core/testing";
import type { ApduTransport, TransmitOptions } from "@cardwright/pcsc";
import type { VirtualPivCard } from "@cardwright/simulator";
import { PostgresStore } from "../../src/index.js";

/** A fixed test KEK; never a production value. */
export const TEST_KEK = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
export const CA_ID = "ca";

export function users(count: number): DirectoryUser[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `user-${i}`,
    displayName: `User ${i}`,
    upn: `user-${i}@example.com`,
    email: `user-${i}@example.com`,
    groups: ["staff"],
    attributes: { department: "Personalisation" },
  }));
}

export function cardImagePath(dir: string, index: number): string {
  return join(dir, "cards", `card-${index}.json`);
}

/** Serial of the virtual card at `index` (the store keys cards by serial). */
export function cardSerial(index: number): number {
  return 10_000_000 + index;
}

export async function createCa(dir: string): Promise<EmbeddedCa> {
  return EmbeddedCa.create({
    id: CA_ID,
    subject: "CN=Durability Test CA,O=Example Corp",
    keyAlgorithm: "ECCP256",
    validityDays: 3650,
    directory: join(dir, "ca"),
    approvalMode: "automatic",
  });
}

export async function openSdk(options: {
  dir: string;
  pgUrl: string;
  leaseOwner: string;
  leaseTtlMs: number;
  userCount: number;
}): Promise<{ cardwright: Cardwright; store: PostgresStore; ca: EmbeddedCa }> {
  const store = await PostgresStore.open({ connectionString: options.pgUrl, pool: { max: 4 } });
  const ca = await EmbeddedCa.open({ directory: join(options.dir, "ca"), approvalMode: "automatic" });
  const cardwright = new Cardwright({
    store,
    vault: new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" }),
    directory: new InMemoryDirectory(users(options.userCount)),
    certificateAuthorities: [ca],
    policies: [examplePivPolicy()],
    leaseOwner: options.leaseOwner,
    leaseTtlMs: options.leaseTtlMs,
  });
  return { cardwright, store, ca };
}

/**
 * The card's non-volatile memory on disk: after every command the card processed, its image is
 * written (to a temporary file, then renamed, so a kill leaves the old or the new image, never a
 * torn one) before the response goes back. A host killed at any point leaves the card as a real
 * card would be: every command it answered applied, none half-applied.
 */
export class PersistentCardTransport implements ApduTransport {
  readonly reader = "Durability Virtual Reader";

  constructor(
    private readonly inner: ApduTransport,
    private readonly card: VirtualPivCard,
    private readonly imagePath: string,
  ) {}

  async transmit(command: Uint8Array, options?: TransmitOptions): Promise<Uint8Array> {
    const response = await this.inner.transmit(command, options);
    const tmp = `${this.imagePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.card.toImage()));
    renameSync(tmp, this.imagePath);
    return response;
  }

  getAtr(): Promise<Uint8Array> {
    return this.inner.getAtr();
  }

  reset(): Promise<void> {
    return this.inner.reset();
  }
}
