/**
 * The pkijs crypto engine over the platform WebCrypto (`globalThis.crypto`, Node ≥ 20). Passed
 * explicitly to every pkijs sign/verify call so the package never touches pkijs's global engine.
 */
import * as pkijs from "pkijs";

let engine: pkijs.CryptoEngine | undefined;

/** The shared pkijs engine on `globalThis.crypto`. */
export function cryptoEngine(): pkijs.CryptoEngine {
  engine ??= new pkijs.CryptoEngine({ name: "webcrypto", crypto: globalThis.crypto });
  return engine;
}

/** Copy a byte view into a fresh `ArrayBuffer` (pkijs and asn1js want whole buffers). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}
