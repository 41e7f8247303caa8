/**
 * cfssl's "standard" authentication for `/api/v1/cfssl/authsign`: the JSON sign request is
 * sent as bytes next to HMAC-SHA256(key, request), both base64 (cfssl `auth.AuthenticatedRequest`,
 * `auth.Standard`). The key is the profile's `auth_key` from the cfssl configuration, written
 * there as hex; it is a shared secret and never leaves this module other than as a MAC.
 */
import { createHmac } from "node:crypto";
import { CardwrightError } from "@cardwright/core";

/** The body `/authsign` takes. */
export interface CfsslAuthenticatedRequest {
  /** base64 HMAC-SHA256 over `request`'s bytes. */
  token: string;
  /** base64 of the JSON sign request. */
  request: string;
}

/**
 * Decode a cfssl auth key (hex, as in the cfssl configuration's `auth_keys`).
 * @throws CardwrightError `CONFIG_INVALID` when it is empty or not hex; the key is not echoed.
 */
export function decodeCfsslAuthKey(keyHex: string): Uint8Array {
  const trimmed = keyHex.trim();
  if (trimmed === "" || trimmed.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(trimmed)) {
    throw new CardwrightError(
      "CONFIG_INVALID",
      "cfssl authKey must be the profile's auth_key as written in the cfssl configuration: an even number of hex digits",
      { details: { option: "authKey" } },
    );
  }
  return new Uint8Array(Buffer.from(trimmed, "hex"));
}

/** Wrap the JSON sign request `request` for `/authsign`. */
export function authenticateCfsslRequest(key: Uint8Array, request: string): CfsslAuthenticatedRequest {
  const bytes = Buffer.from(request, "utf8");
  const token = createHmac("sha256", key).update(bytes).digest("base64");
  return { token, request: bytes.toString("base64") };
}
