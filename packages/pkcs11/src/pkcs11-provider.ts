/**
 * `Pkcs11DeviceProvider`: the core `DeviceProvider` port over one PKCS#11 module (SoftHSM2,
 * OpenSC, tpm2-pkcs11...). Tokens are found by serial or label on every call, never by a
 * remembered slot id: SoftHSM2 renumbers its slots whenever a token is initialised.
 */
import type { DeviceCapabilities, DeviceIdentity, DeviceProvider, SlotId } from "@cardwright/core";
import { CardwrightError } from "@cardwright/core";
import type { Handle, TokenInfo } from "pkcs11js";
import { capabilitiesOf, type MechanismInfo, signAlgorithmsOf } from "./capabilities.js";
import { pkcs11Error } from "./errors.js";
import { acquireModule, type LoadedModule, releaseModule } from "./module-registry.js";
import { Pkcs11Device } from "./pkcs11-device.js";
import { identityOf, isInitialised, serialOf, unpad } from "./token-info.js";

/**
 * How the provider presents its tokens. `"tpm-vsc"` is a TPM virtual smart card (tpm2-pkcs11):
 * device type `tpm-vsc`, and no re-initialisation (tpm2-pkcs11 cannot C_InitToken a token that
 * exists; a new one is made with `tpm2_ptool addtoken`).
 */
export type Pkcs11DeviceProfile = "pkcs11" | "tpm-vsc";

/** Options of {@link Pkcs11DeviceProvider}. */
export interface Pkcs11ProviderOptions {
  /** Path of the PKCS#11 library, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  module: string;
  /** Device profile; default `"pkcs11"`. */
  profile?: Pkcs11DeviceProfile;
  /**
   * The SO PIN the tokens were initialised with. PKCS#11 has no factory SO PIN: whoever ran
   * C_InitToken chose it. Issue replaces it with a random per-card SO PIN wrapped by the
   * SecretVault, so this is needed only for tokens cardwright has not yet personalised. Secret.
   */
  initialSoPin?: string;
  /** The user PIN the tokens were initialised with (C_InitPIN); issue replaces it. Secret. */
  initialUserPin?: string;
  /** CKA_IDs (lowercase hex) offered as slots; default `01`–`04`. */
  slots?: readonly SlotId[];
  /** The token's configured PIN retry count, where known (PKCS#11 does not report it). */
  pinRetries?: number;
  /** Whether tokens may be re-initialised (C_InitToken); default true, false for `"tpm-vsc"`. */
  reset?: boolean;
  /** CKA_LABEL for keys and certificates in a slot; default `cardwright <slot>`. */
  objectLabel?: (slot: SlotId) => string;
  /** Interval of slot-list polling in {@link Pkcs11DeviceProvider.waitForDevice}; default 250 ms. */
  pollIntervalMs?: number;
}

/** How to pick a token: by serial, or by label (`reader` is the label too, as {@link DeviceIdentity.reader}). */
export interface Pkcs11TokenSelector {
  serial?: string;
  reader?: string;
  label?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface TokenSlot {
  slot: Handle;
  info: TokenInfo;
}

/** Enumerates the tokens of one PKCS#11 module and opens them as {@link Pkcs11Device}s. */
export class Pkcs11DeviceProvider implements DeviceProvider {
  readonly options: Readonly<Pkcs11ProviderOptions>;
  #module: LoadedModule | undefined;
  #closed = false;

  /** The module is loaded on first use, so the environment it reads may be set up to then. */
  constructor(options: Pkcs11ProviderOptions) {
    this.options = options;
  }

  /** Device type of this provider's tokens. */
  get deviceType(): "pkcs11" | "tpm-vsc" {
    return this.options.profile === "tpm-vsc" ? "tpm-vsc" : "pkcs11";
  }

  /** Initialised tokens present in the module's slots. @throws CardwrightError `PKCS11_MODULE`. */
  async list(): Promise<DeviceIdentity[]> {
    return this.#tokens().map(({ info }) => identityOf(info, this.deviceType));
  }

  /**
   * Open the token with the given serial or label (`reader`), or the first initialised token.
   * @throws CardwrightError `DEVICE_NOT_FOUND` when no token matches; `PKCS11_MODULE`.
   */
  async open(selector: Pkcs11TokenSelector = {}): Promise<Pkcs11Device> {
    const found = this.#select(selector);
    if (found === undefined) {
      throw new CardwrightError(
        "DEVICE_NOT_FOUND",
        `no initialised PKCS#11 token ${describe(selector)} in ${this.options.module}`,
        {
          details: selectorDetails(selector),
        },
      );
    }
    const module = this.#acquire();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        releaseModule(module);
      }
    };
    acquireModule(module.path);
    try {
      const identity = identityOf(found.info, this.deviceType);
      const mechanisms = this.#mechanisms(found.slot);
      const capabilities = this.#capabilities(mechanisms);
      const init: ConstructorParameters<typeof Pkcs11Device>[1] = {
        module,
        findSlot: (serial) => {
          const again = this.#select({ serial });
          if (again === undefined) {
            throw new CardwrightError("PKCS11_TOKEN_NOT_PRESENT", `token ${serial} is no longer present`, {
              details: { deviceSerial: serial },
            });
          }
          return again.slot;
        },
        identity,
        capabilities,
        mechanisms: new Set(mechanisms.keys()),
        signAlgorithms: signAlgorithmsOf(mechanisms),
        objectLabel: this.options.objectLabel ?? ((slot) => `cardwright ${slot}`),
        onClose: release,
      };
      if (this.options.initialSoPin !== undefined) init.initialSoPin = this.options.initialSoPin;
      if (this.options.initialUserPin !== undefined) init.initialUserPin = this.options.initialUserPin;
      return new Pkcs11Device(found.slot, init);
    } catch (err) {
      release();
      throw pkcs11Error(err, `opening token ${describe(selector)}`);
    }
  }

  /**
   * Resolve when a token (the one with `serial` or `label`, when given) is present. Polls
   * C_GetSlotList: C_WaitForSlotEvent would block Node's only thread (pkcs11js calls it
   * synchronously), and SoftHSM2 answers CKR_NO_EVENT even as tokens change.
   * @throws CardwrightError `PKCS11_TOKEN_NOT_PRESENT` after `timeoutMs` (default 30 s).
   */
  async waitForDevice(options: { serial?: string; label?: string; timeoutMs?: number } = {}): Promise<DeviceIdentity> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const selector: Pkcs11TokenSelector = {};
    if (options.serial !== undefined) selector.serial = options.serial;
    if (options.label !== undefined) selector.label = options.label;
    for (;;) {
      const found = this.#select(selector);
      if (found !== undefined) return identityOf(found.info, this.deviceType);
      if (Date.now() >= deadline) {
        throw new CardwrightError(
          "PKCS11_TOKEN_NOT_PRESENT",
          `no PKCS#11 token ${describe(selector)} appeared in ${this.options.module} within ${timeoutMs} ms; insert or initialise it and retry`,
          { details: { ...selectorDetails(selector), timeoutMs } },
        );
      }
      await sleep(Math.min(this.options.pollIntervalMs ?? 250, Math.max(0, deadline - Date.now())));
    }
  }

  /** Release the provider's hold on the module (open devices keep their own until closed). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#module !== undefined) releaseModule(this.#module);
    this.#module = undefined;
  }

  #acquire(): LoadedModule {
    if (this.#closed) {
      throw new CardwrightError("PKCS11_MODULE", "the PKCS#11 provider was closed; create a new one");
    }
    this.#module ??= acquireModule(this.options.module);
    return this.#module;
  }

  #tokens(): TokenSlot[] {
    const { lib } = this.#acquire();
    try {
      const tokens: TokenSlot[] = [];
      for (const slot of lib.C_GetSlotList(true)) {
        const info = lib.C_GetTokenInfo(slot);
        if (isInitialised(info)) tokens.push({ slot, info });
      }
      return tokens;
    } catch (err) {
      throw pkcs11Error(err, "listing the module's tokens");
    }
  }

  #select(selector: Pkcs11TokenSelector): TokenSlot | undefined {
    const label = selector.label ?? selector.reader;
    return this.#tokens().find(
      ({ info }) =>
        (selector.serial === undefined || serialOf(info, this.deviceType) === selector.serial) &&
        (label === undefined || unpad(info.label) === label),
    );
  }

  #mechanisms(slot: Handle): Map<number, MechanismInfo> {
    const { lib } = this.#acquire();
    const mechanisms = new Map<number, MechanismInfo>();
    for (const m of lib.C_GetMechanismList(slot)) mechanisms.set(m, lib.C_GetMechanismInfo(slot, m));
    return mechanisms;
  }

  #capabilities(mechanisms: ReadonlyMap<number, MechanismInfo>): DeviceCapabilities {
    const options: Parameters<typeof capabilitiesOf>[1] = {
      reset: this.options.reset ?? this.deviceType !== "tpm-vsc",
    };
    if (this.options.slots !== undefined) options.slots = this.options.slots;
    if (this.options.pinRetries !== undefined) options.pinRetries = this.options.pinRetries;
    return capabilitiesOf(mechanisms, options);
  }
}

function describe(selector: Pkcs11TokenSelector): string {
  const label = selector.label ?? selector.reader;
  if (selector.serial !== undefined) return `with serial ${selector.serial}`;
  if (label !== undefined) return `labelled "${label}"`;
  return "(any)";
}

function selectorDetails(selector: Pkcs11TokenSelector): Record<string, string> {
  const details: Record<string, string> = {};
  if (selector.serial !== undefined) details.deviceSerial = selector.serial;
  const label = selector.label ?? selector.reader;
  if (label !== undefined) details.label = label;
  return details;
}
