// Test and benchmark support of @cardwright/pkcs11: private SoftHSM2 and TPM virtual smart card setups.
export type { CreateSoftHsmOptions, SoftHsm, SoftHsmToken } from "./softhsm.js";
export { createSoftHsm, SOFTHSM2_MODULE } from "./softhsm.js";
export type { StartTpmVscOptions, TpmVsc } from "./tpm-vsc.js";
export { startTpmVsc, TPM2_PKCS11_MODULE } from "./tpm-vsc.js";
