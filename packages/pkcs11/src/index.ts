// Public API of @cardwright/pkcs11. Explicit named exports only.
export type { CapabilityOptions, MechanismInfo } from "./capabilities.js";
export { capabilitiesOf, DEFAULT_PKCS11_SLOTS, keyAlgorithmsOf, signAlgorithmsOf } from "./capabilities.js";
export { ckrOf, isCkr, pkcs11Error } from "./errors.js";
export type { LoadedModule } from "./module-registry.js";
export { acquireModule, releaseModule } from "./module-registry.js";
export type { Pkcs11DeviceInit } from "./pkcs11-device.js";
export { Pkcs11Device } from "./pkcs11-device.js";
export type { Pkcs11DeviceProfile, Pkcs11ProviderOptions, Pkcs11TokenSelector } from "./pkcs11-provider.js";
export { Pkcs11DeviceProvider } from "./pkcs11-provider.js";
export { CURVE_OIDS, curveOf, ecParamsFor, ecPointOf, ecSpki, rsaAlgorithmOf, rsaSpki } from "./public-key.js";
export { digestInfo, ecdsaSigValue } from "./signature-encoding.js";
export { identityOf, isInitialised, padLabel, pinStatusOf, serialOf, unpad } from "./token-info.js";
