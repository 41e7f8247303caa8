/**
 * The demo workspace: one directory holding the embedded CA, the embedded store and the vault's
 * key-encryption key, created on first use and reused after, so a second run (or a second
 * process resuming a pending issue) sees the same cards, requests and CA.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import { AesGcmSecretVault, CardwrightError } from "@cardwright/core";
import { PgliteStore } from "@cardwright/store-sql";
import { DEMO_CA_ID } from "./sample-policy.js";

/** The parts of an opened workspace. */
export interface DemoWorkspace {
  directory: string;
  ca: EmbeddedCa;
  store: PgliteStore;
  vault: AesGcmSecretVault;
  /** Where virtual card images are saved. */
  cardsDirectory: string;
  /** True when this call created the workspace. */
  created: boolean;
}

const KEK_ID = "demo-kek-1";

async function exists(path: string): Promise<boolean> {
  try {
    await readFile(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The demo keeps its KEK in a 0600 file beside the store. A deployment gives the vault its KEK
 * from configuration (an HSM, a KMS, an environment secret) and never stores it with the data.
 */
async function loadOrCreateKek(path: string): Promise<Uint8Array> {
  if (await exists(path)) {
    const hex = (await readFile(path, "utf8")).trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `the key-encryption key file ${path} is damaged; delete the workspace`,
      );
    }
    return Uint8Array.from(Buffer.from(hex, "hex"));
  }
  const kek = randomBytes(32);
  await writeFile(path, `${kek.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  return Uint8Array.from(kek);
}

/**
 * Opens the workspace in `directory`, creating what is missing.
 * @param approval hold every request for the CA operator's approval.
 * @throws CardwrightError `CONFIG_INVALID`, `STORE_FAILURE`, or the CA's errors.
 */
export async function openWorkspace(directory: string, approval: boolean): Promise<DemoWorkspace> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const caDirectory = join(directory, "ca");
  const cardsDirectory = join(directory, "cards");
  await mkdir(cardsDirectory, { recursive: true });
  const approvalMode = approval ? "manual" : "automatic";
  const created = !(await exists(join(directory, "kek.hex")));
  const kek = await loadOrCreateKek(join(directory, "kek.hex"));
  const ca = (await exists(join(caDirectory, "ca-cert.pem")))
    ? await EmbeddedCa.open({ directory: caDirectory, approvalMode })
    : await EmbeddedCa.create({
        id: DEMO_CA_ID,
        subject: "CN=Example Corp Demo Issuing CA,O=Example Corp",
        keyAlgorithm: "ECCP384",
        validityDays: 3650,
        directory: caDirectory,
        approvalMode,
      });
  const store = await PgliteStore.open({ dataDir: join(directory, "store") });
  const vault = new AesGcmSecretVault({ keys: { [KEK_ID]: kek }, currentKekId: KEK_ID });
  return { directory, ca, store, vault, cardsDirectory, created };
}
