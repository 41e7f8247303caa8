/**
 * The bench stack, assembled like the e2e tests' (packages/cli/test/support/stack.ts): the
 * demo's staff PIV policy, the embedded CA on disk, the AES-GCM vault, and fresh virtual
 * YubiKeys behind in-memory readers. Every part is real; only the users are generated, so
 * each issued card belongs to its own user.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  Cardwright,
  type CertificateAuthority,
  type DirectoryUser,
  type IssueResult,
  type Policy,
  type ProgressEvent,
  type Store,
} from "@cardwright/core";
import { InMemoryDirectory } from "@cardwright/core/testing";
import { type ApduTransport, PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "../src/index.js";

/** Key of the CA the bench creates; the demo's choice. */
export const BENCH_CA_KEY_ALGORITHM = "ECCP256";

/** The vault's KEK in the bench; a fixed bench value, never a production key. */
const BENCH_KEK = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 ^ i);

const workDirs: string[] = [];

/** A fresh temporary directory, removed by {@link removeWorkDirs}. */
export function workDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cw-bench-${label}-`));
  workDirs.push(dir);
  return dir;
}

/** Removes every directory {@link workDir} made (an on-disk store of 10⁵ certificates is ~400 MB). */
export function removeWorkDirs(): void {
  for (const dir of workDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** `count` staff users shaped like the demo's, ids `${prefix}-0001`… */
export function benchUsers(count: number, prefix = "user"): DirectoryUser[] {
  const model = sampleUsers[0]!;
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}-${String(i + 1).padStart(4, "0")}`;
    return {
      ...model,
      id,
      displayName: `User ${id}`,
      upn: `${id}@corp.example.com`,
      email: `${id}@example.com`,
    };
  });
}

/** The embedded CA in `dir`, issuing automatically under the demo's CA id. */
export function openBenchCa(dir: string): Promise<EmbeddedCa> {
  return EmbeddedCa.create({
    id: DEMO_CA_ID,
    subject: "CN=Cardwright Bench CA,O=Example Corp",
    keyAlgorithm: BENCH_CA_KEY_ALGORITHM,
    validityDays: 3650,
    directory: join(dir, "ca"),
    approvalMode: "automatic",
  });
}

/**
 * The demo's staff PIV policy cut to its P-256 certificate (9A PIV Authentication): the bureau
 * throughput of issue 8 is measured on P-256 only, so one card costs one key generation, one CSR
 * signature and one CA signature.
 */
export const benchP256Policy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-p256",
  name: "Staff PIV card (P-256 only)",
  certificates: staffPivPolicy.certificates.filter((t) => t.keyAlgorithm === "ECCP256"),
};

/** The SDK over `store` and `ca`, with the demo's staff PIV policy unless `policy` is given. */
export function benchSdk(parts: {
  store: Store;
  ca: CertificateAuthority;
  users: DirectoryUser[];
  policy?: Policy;
}): Cardwright {
  return new Cardwright({
    store: parts.store,
    vault: new AesGcmSecretVault({ keys: { bench: BENCH_KEK }, currentKekId: "bench" }),
    directory: new InMemoryDirectory(parts.users),
    certificateAuthorities: [parts.ca],
    policies: [parts.policy ?? staffPivPolicy],
  });
}

/** A factory-fresh virtual YubiKey 5 in its own reader, not yet opened. */
export interface BlankCard {
  card: VirtualPivCard;
  transport: InMemoryTransport;
}

/** Manufactures a card (key material of the card itself is made here, outside any timing). */
export async function blankCard(reader: string): Promise<BlankCard> {
  const card = await VirtualPivCard.create();
  // Sub-millisecond transcript timestamps: the card's share of an issue is summed from them.
  const transport = new InMemoryTransport(card, { reader, now: () => performance.timeOrigin + performance.now() });
  return { card, transport };
}

/** What one issue did. */
export interface IssuedCard {
  result: Extract<IssueResult, { status: "active" }>;
  /** Transcript length when each progress event fired: the APDUs of a step follow its event. */
  marks: { step: string; templateId: string | undefined; apdus: number }[];
}

/**
 * Opens the card's PIV application and issues it to `userId`, as an operator at a bureau would.
 * @throws Error when the issue does not end active (the bench measures successful issues only).
 */
export async function issueOn(
  cardwright: Cardwright,
  blank: BlankCard,
  userId: string,
  options: { extendedLength?: boolean; transport?: ApduTransport } = {},
): Promise<IssuedCard> {
  const marks: IssuedCard["marks"] = [];
  const device = await PivDevice.open(options.transport ?? blank.transport, {
    extendedLength: options.extendedLength ?? false,
  });
  try {
    const result = await cardwright.issueCard({
      userId,
      device,
      actor: "bench-operator",
      onProgress: (e: ProgressEvent) =>
        marks.push({ step: e.step, templateId: e.templateId, apdus: blank.transport.transcript.length }),
    });
    if (result.status !== "active") throw new Error(`bench issue for ${userId} ended ${result.status}`);
    return { result, marks };
  } finally {
    await device.close();
  }
}
