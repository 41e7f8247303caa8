/**
 * Validation and decoding of a {@link VirtualPivCardImage} back into card state.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { CardwrightError } from "@cardwright/core";
import { managementKeyCipher } from "../crypto/management-key-cipher.js";
import { keySpecFor } from "../crypto/slot-keys.js";
import type { VirtualPivCardImage } from "./card-image.js";
import { CardState, DEFAULT_PIN, DEFAULT_PUK } from "./card-state.js";
import { parseFirmware } from "./firmware.js";
import { isValidObjectTag, ObjectStore } from "./object-store.js";
import { padReference, ReferenceData } from "./security-state.js";

/** An image as an object or as its JSON text. */
export type CardImageInput = VirtualPivCardImage | string;

function invalid(message: string, cause?: unknown): CardwrightError {
  return new CardwrightError("CONFIG_INVALID", `invalid virtual card image: ${message}`, { cause });
}

function hex(text: unknown, what: string): Uint8Array {
  if (typeof text !== "string" || !/^([0-9a-fA-F]{2})*$/.test(text)) throw invalid(`${what} must be hex`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

function count(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 255) throw invalid(`${what} must be 0..255`);
  return n;
}

/**
 * Decode an image into card state.
 * @throws CardwrightError `CONFIG_INVALID` naming the first malformed field (never its value).
 */
export function parseImage(input: CardImageInput): CardState {
  let image: VirtualPivCardImage;
  try {
    image = typeof input === "string" ? (JSON.parse(input) as VirtualPivCardImage) : input;
  } catch (cause) {
    throw invalid("not JSON", cause);
  }
  if (image?.format !== "cardwright-virtual-piv-card" || image.version !== 1) throw invalid("format/version mismatch");
  let firmware: ReturnType<typeof parseFirmware>;
  try {
    firmware = parseFirmware(image.firmware);
  } catch (cause) {
    throw invalid("firmware", cause);
  }
  const ref = (r: VirtualPivCardImage["pin"], what: string, factory: string) => {
    const value = hex(r?.value, `${what}.value`);
    if (value.length !== 8) throw invalid(`${what}.value must be 8 bytes`);
    const total = count(r.retriesTotal, `${what}.retriesTotal`);
    const left = count(r.retriesLeft, `${what}.retriesLeft`);
    if (left > total) throw invalid(`${what}.retriesLeft exceeds retriesTotal`);
    return new ReferenceData(value, total, left, padReference(factory));
  };
  const mkKey = hex(image.managementKey?.key, "managementKey.key");
  const cipher = managementKeyCipher(image.managementKey?.algorithm);
  if (cipher === undefined || cipher.keyLength !== mkKey.length) throw invalid("managementKey algorithm/length");
  const objects = new ObjectStore(image.maxObjectBytes, image.totalObjectBytes);
  for (const o of image.objects ?? []) {
    const tag = Number.parseInt(o.tag, 16);
    if (!isValidObjectTag(tag)) throw invalid(`object tag ${o.tag}`);
    try {
      objects.put(tag, new Uint8Array(Buffer.from(o.value, "base64")));
    } catch (cause) {
      throw invalid(`object ${o.tag} exceeds the image's storage limits`, cause);
    }
  }
  const state = new CardState(
    {
      firmware,
      serial: image.serial,
      extendedLength: image.extendedLength,
      defaultPinRetries: count(image.defaultPinRetries, "defaultPinRetries"),
      defaultPukRetries: count(image.defaultPukRetries, "defaultPukRetries"),
    },
    ref(image.pin, "pin", DEFAULT_PIN),
    ref(image.puk, "puk", DEFAULT_PUK),
    { algorithm: cipher.algorithm, key: mkKey, touchPolicy: count(image.managementKey.touchPolicy, "touchPolicy") },
    new Map(),
    objects,
  );
  for (const k of image.keys ?? []) {
    const slot = Number.parseInt(k.slot, 16);
    if (keySpecFor(k.algorithm) === undefined) throw invalid(`key ${k.slot} algorithm`);
    try {
      const privateKey = createPrivateKey({ key: Buffer.from(k.privateKey, "base64"), format: "der", type: "pkcs8" });
      state.keys.set(slot, {
        algorithm: k.algorithm,
        privateKey,
        publicKey: createPublicKey(privateKey),
        pinPolicy: count(k.pinPolicy, "pinPolicy"),
        touchPolicy: count(k.touchPolicy, "touchPolicy"),
        origin: k.origin === "generated" ? "generated" : "imported",
      });
    } catch (cause) {
      if (cause instanceof CardwrightError) throw cause;
      throw invalid(`key ${k.slot} is not PKCS #8`, cause);
    }
  }
  return state;
}
