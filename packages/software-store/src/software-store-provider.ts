/**
 * Enumerates the machine store and the user store (two directories named in the options) and
 * opens them as devices. Passwords come through a callback at the moment of opening, so the
 * provider itself holds none.
 */

import { resolve } from "node:path";
import {
  CardwrightError,
  type Device,
  type DeviceIdentity,
  type DeviceProvider,
  isCardwrightError,
} from "@cardwright/core";
import { SoftwareStoreDevice } from "./software-store-device.js";
import { readMetadata, type StoreScope } from "./store-metadata.js";

/** Options of {@link SoftwareStoreProvider}. */
export interface SoftwareStoreProviderOptions {
  /** Directory of the machine store (shared by services on the host). */
  machine?: string;
  /** Directory of the current user's store. */
  user?: string;
  /** The password of a store, asked for when it is opened. Secret: do not log it. */
  password: (store: { scope: StoreScope; directory: string; serial: string }) => string | Promise<string>;
}

/** The machine and user software stores as a {@link DeviceProvider}. */
export class SoftwareStoreProvider implements DeviceProvider {
  readonly #options: SoftwareStoreProviderOptions;

  /** @throws CardwrightError `CONFIG_INVALID` when neither store is named. */
  constructor(options: SoftwareStoreProviderOptions) {
    if (options.machine === undefined && options.user === undefined) {
      throw new CardwrightError("CONFIG_INVALID", "name the machine store, the user store or both", {
        details: { field: "machine" },
      });
    }
    this.#options = options;
  }

  #stores(): Array<{ scope: StoreScope; directory: string }> {
    const out: Array<{ scope: StoreScope; directory: string }> = [];
    if (this.#options.machine !== undefined) out.push({ scope: "machine", directory: resolve(this.#options.machine) });
    if (this.#options.user !== undefined) out.push({ scope: "user", directory: resolve(this.#options.user) });
    return out;
  }

  async #present(): Promise<Array<{ scope: StoreScope; directory: string; identity: DeviceIdentity }>> {
    const out: Array<{ scope: StoreScope; directory: string; identity: DeviceIdentity }> = [];
    for (const store of this.#stores()) {
      try {
        const metadata = await readMetadata(store.directory);
        out.push({
          ...store,
          identity: {
            serial: metadata.serial,
            type: "software",
            model: `cardwright software store (${metadata.scope})`,
            reader: `software store (${metadata.scope}) ${store.directory}`,
          },
        });
      } catch (err) {
        // A store not created yet is simply absent, like an empty reader.
        if (isCardwrightError(err, "SOFTSTORE_UNAVAILABLE") && err.details.reason === "missing") continue;
        throw err;
      }
    }
    return out;
  }

  /**
   * The stores that exist.
   * @throws CardwrightError `SOFTSTORE_CORRUPT` / `SOFTSTORE_UNAVAILABLE` for a damaged store.
   */
  async list(): Promise<DeviceIdentity[]> {
    return (await this.#present()).map((s) => s.identity);
  }

  /**
   * Open a store by serial, or by reader: `"machine"`, `"user"` or the full reader name; the
   * first existing one (machine first) when no selector is given.
   * @throws CardwrightError `DEVICE_NOT_FOUND`; errors of {@link SoftwareStoreDevice.open}.
   */
  async open(selector: { serial?: string; reader?: string } = {}): Promise<Device> {
    const store = (await this.#present()).find(
      (s) =>
        (selector.serial === undefined || s.identity.serial === selector.serial) &&
        (selector.reader === undefined || selector.reader === s.scope || selector.reader === s.identity.reader),
    );
    if (store === undefined) {
      throw new CardwrightError("DEVICE_NOT_FOUND", "no software store matches; create it first", {
        details: {
          ...(selector.serial === undefined ? {} : { deviceSerial: selector.serial }),
          ...(selector.reader === undefined ? {} : { reader: selector.reader }),
        },
      });
    }
    const password = await this.#options.password({
      scope: store.scope,
      directory: store.directory,
      serial: store.identity.serial,
    });
    return SoftwareStoreDevice.open(store.directory, { password, scope: store.scope });
  }
}
