/**
 * Reading `CK_TOKEN_INFO` (PKCS#11 Base v2.40 §3.2): blank-padded fixed-size strings, and the
 * flags that say whether the token is initialised and how its user PIN stands.
 */
import type { DeviceIdentity, DeviceType, PinStatus } from "@cardwright/core";
import type { TokenInfo } from "pkcs11js";
import { TOKEN_LABEL_BYTES, TokenFlag } from "./constants.js";

/** A blank-padded CK_UTF8CHAR field without its padding (and any NULs some modules leave). */
export function unpad(text: string): string {
  return text.replace(/[\s\0]+$/u, "");
}

/** A token label padded with blanks to the 32 bytes C_InitToken expects (Base §5.6). */
export function padLabel(label: string): string {
  const bytes = Buffer.from(label, "utf8");
  if (bytes.length > TOKEN_LABEL_BYTES) return bytes.subarray(0, TOKEN_LABEL_BYTES).toString("utf8");
  return label + " ".repeat(TOKEN_LABEL_BYTES - bytes.length);
}

/**
 * The serial cardwright records for a token. tpm2-pkcs11 gives every token of a TPM the same
 * serialNumber (the TPM's), so a TPM virtual smart card is `<serial>/<label>`: the label is what
 * `tpm2_ptool addtoken --label` made unique on that TPM.
 */
export function serialOf(info: TokenInfo, type: DeviceType): string {
  const serial = unpad(info.serialNumber);
  return type === "tpm-vsc" ? `${serial}/${unpad(info.label)}` : serial;
}

/** The token's identity: serial, `manufacturer model`, label as the reader. */
export function identityOf(info: TokenInfo, type: DeviceType): DeviceIdentity {
  const manufacturer = unpad(info.manufacturerID);
  const model = unpad(info.model);
  const identity: DeviceIdentity = {
    serial: serialOf(info, type),
    type,
    model: [manufacturer, model].filter((s) => s !== "").join(" "),
    firmware: `${info.firmwareVersion.major}.${info.firmwareVersion.minor}`,
  };
  const label = unpad(info.label);
  if (label !== "") identity.reader = label;
  return identity;
}

/** True when the token has been initialised (CKF_TOKEN_INITIALIZED): a free SoftHSM2 slot is not a device. */
export function isInitialised(info: TokenInfo): boolean {
  return (info.flags & TokenFlag.tokenInitialized) !== 0 && unpad(info.serialNumber) !== "";
}

/**
 * PIN status from the token flags. PKCS#11 reports no retry counter, only CKF_USER_PIN_LOCKED,
 * CKF_USER_PIN_FINAL_TRY and CKF_USER_PIN_COUNT_LOW, so `retriesLeft` is the least number of
 * tries the flags guarantee: 0 when locked, 1 on the final try, otherwise `retriesTotal` when it
 * is known and no failure is flagged, else 2 (neither final nor locked).
 */
export function pinStatusOf(flags: number, retriesTotal?: number): PinStatus {
  const locked = (flags & TokenFlag.userPinLocked) !== 0;
  const finalTry = (flags & TokenFlag.userPinFinalTry) !== 0;
  const countLow = (flags & TokenFlag.userPinCountLow) !== 0;
  let retriesLeft: number;
  if (locked) retriesLeft = 0;
  else if (finalTry) retriesLeft = 1;
  else if (!countLow && retriesTotal !== undefined) retriesLeft = retriesTotal;
  else retriesLeft = 2;
  const status: PinStatus = { retriesLeft, blocked: locked };
  if (retriesTotal !== undefined) status.retriesTotal = retriesTotal;
  return status;
}
