// Public API of @cardwright/software-store. Explicit named exports only.
export type { Pbes2Encrypted } from "./pbes2.js";
export { Pbes2Oid, pbes2Decrypt, pbes2Encrypt } from "./pbes2.js";
export type {
  Pkcs12BagAttributes,
  Pkcs12Certificate,
  Pkcs12Contents,
  Pkcs12Key,
  Pkcs12WriteOptions,
} from "./pkcs12.js";
export { Pkcs12Oid, readPkcs12, writePkcs12 } from "./pkcs12.js";
export type { Pkcs12MacHash } from "./pkcs12-kdf.js";
export { bmpPassword, PKCS12_KDF_MAC_ID, PKCS12_MAC_HASHES, pkcs12Kdf } from "./pkcs12-kdf.js";
export type { CreateSoftwareStoreOptions, OpenSoftwareStoreOptions } from "./software-store-device.js";
export {
  DEFAULT_ITERATIONS,
  MIN_ITERATIONS,
  SOFTWARE_STORE_CAPABILITIES,
  SOFTWARE_STORE_SLOTS,
  SoftwareStoreDevice,
} from "./software-store-device.js";
export type { SoftwareStoreProviderOptions } from "./software-store-provider.js";
export { SoftwareStoreProvider } from "./software-store-provider.js";
export type { StoreMetadata, StoreScope } from "./store-metadata.js";
export { METADATA_FILE } from "./store-metadata.js";
