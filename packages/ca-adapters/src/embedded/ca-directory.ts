/**
 * The on-disk layout of an embedded CA: the private key as PKCS#8 PEM readable by its owner
 * only, the CA certificate and chain as PEM, and the JSON state snapshot with its change journal
 * and lock file.
 */

import { access, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CardwrightError } from "@cardwright/core";
import { fromPem, fromPemAll, toPem } from "../pem.js";
import { writeFileAtomic } from "./atomic-file.js";

/** File names inside a CA directory. */
export const CaFile = {
  privateKey: "ca-key.pem",
  certificate: "ca-cert.pem",
  /** The CA chain, this CA first, root last. */
  chain: "ca-chain.pem",
  /** The state snapshot. */
  state: "ca-state.json",
  /** Changes since the snapshot, one JSON line each. */
  journal: "ca-state.journal",
  lock: "ca-state.lock",
} as const;

/** The CA's immutable key material. */
export interface CaMaterial {
  /** DER PKCS#8 PrivateKeyInfo. */
  privateKey: Uint8Array;
  /** DER chain, this CA's certificate first. */
  chain: Uint8Array[];
}

/** Absolute-ish paths of every file in `directory`. */
export function caPaths(directory: string): Record<keyof typeof CaFile, string> {
  return {
    privateKey: join(directory, CaFile.privateKey),
    certificate: join(directory, CaFile.certificate),
    chain: join(directory, CaFile.chain),
    state: join(directory, CaFile.state),
    journal: join(directory, CaFile.journal),
    lock: join(directory, CaFile.lock),
  };
}

/**
 * Create `directory` (mode 0700) for a new CA.
 * @throws CardwrightError `CONFIG_INVALID` when it already holds a CA.
 */
export async function prepareCaDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const exists = await access(caPaths(directory).state).then(
    () => true,
    () => false,
  );
  if (exists) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      `${directory} already holds an embedded CA; open it with EmbeddedCa.open() or choose an empty directory`,
      { details: { directory } },
    );
  }
}

/** Write the key (mode 0600) and certificates, each atomically. */
export async function writeCaMaterial(directory: string, material: CaMaterial): Promise<void> {
  const paths = caPaths(directory);
  const [own] = material.chain;
  if (own === undefined) throw new RangeError("a CA chain holds at least the CA certificate");
  await writeFileAtomic(paths.privateKey, toPem(material.privateKey, "PRIVATE KEY"), 0o600);
  await writeFileAtomic(paths.certificate, toPem(own, "CERTIFICATE"));
  await writeFileAtomic(paths.chain, material.chain.map((der) => toPem(der, "CERTIFICATE")).join(""));
}

/**
 * Read the key and certificates of the CA in `directory`.
 * @throws CardwrightError `CONFIG_INVALID` when a file is missing or is not the expected PEM.
 */
export async function readCaMaterial(directory: string): Promise<CaMaterial> {
  const paths = caPaths(directory);
  const read = async (path: string) => {
    try {
      return await readFile(path, "utf8");
    } catch (cause) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `no embedded CA in ${directory} (cannot read ${path}); create one with EmbeddedCa.create({ directory })`,
        { details: { directory, path }, cause },
      );
    }
  };
  const privateKey = fromPem(await read(paths.privateKey), "PRIVATE KEY");
  const chain = fromPemAll(await read(paths.chain), "CERTIFICATE").map((block) => block.der);
  if (chain.length === 0) {
    throw new CardwrightError("CONFIG_INVALID", `${paths.chain} holds no certificate`, { details: { directory } });
  }
  return { privateKey, chain };
}
