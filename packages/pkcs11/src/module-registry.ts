/**
 * One loaded PKCS#11 module per library path per process. A Cryptoki library keeps global state:
 * a second C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED and a C_Finalize by one user
 * would end every other user's sessions (Base v2.40 §5.4). So providers share a module here,
 * counted, and the last release finalizes and unloads it. Modules read their configuration
 * (SOFTHSM2_CONF, TPM2_PKCS11_*) at C_Initialize: set the environment before the first acquire.
 */
import { CardwrightError } from "@cardwright/core";
import { Module } from "graphene-pk11";
import type { PKCS11 } from "pkcs11js";

/** `CKF_OS_LOCKING_OK` (Base §5.4): pkcs11js runs async calls on worker threads. */
const CKF_OS_LOCKING_OK = 0x2;

/** A loaded and initialized module, shared by reference count. */
export interface LoadedModule {
  readonly path: string;
  readonly module: Module;
  /** The raw pkcs11js binding, for calls graphene gets wrong or does not offer. */
  readonly lib: PKCS11;
}

const loaded = new Map<string, { entry: LoadedModule; users: number }>();

/**
 * Load and C_Initialize the module at `path`, or share the one already loaded.
 * @throws CardwrightError `PKCS11_MODULE` when the library cannot be loaded or initialized.
 */
export function acquireModule(path: string): LoadedModule {
  const existing = loaded.get(path);
  if (existing !== undefined) {
    existing.users++;
    return existing.entry;
  }
  let module: Module;
  try {
    module = Module.load(path, path);
  } catch (err) {
    throw new CardwrightError(
      "PKCS11_MODULE",
      `loading PKCS#11 module ${path}: ${err instanceof Error ? err.message : String(err)}; check the path and that the library is installed`,
      { details: { module: path }, cause: err },
    );
  }
  try {
    module.initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (err) {
    try {
      module.close();
    } catch {
      // Unloading after a failed C_Initialize is best effort; the initialize error is the one to report.
    }
    throw new CardwrightError(
      "PKCS11_MODULE",
      `initializing PKCS#11 module ${path}: ${err instanceof Error ? err.message : String(err)}; check the module's configuration`,
      { details: { module: path }, cause: err },
    );
  }
  const entry: LoadedModule = { path, module, lib: module.lib };
  loaded.set(path, { entry, users: 1 });
  return entry;
}

/** Release one use of the module; the last one finalizes and unloads it. */
export function releaseModule(entry: LoadedModule): void {
  const current = loaded.get(entry.path);
  if (current === undefined || current.entry !== entry) return;
  current.users--;
  if (current.users > 0) return;
  loaded.delete(entry.path);
  try {
    entry.module.finalize();
  } finally {
    entry.module.close();
  }
}
