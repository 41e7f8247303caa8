/**
 * The vsmartcard virtual-reader protocol (vsmartcard `vpcd`, `virtualsmartcard/VirtualSmartcard.py`):
 * vpcd, loaded into pcscd, listens on TCP; the card connects to it as a client. Every message
 * either way is a 2-byte big-endian length and a payload. A 1-byte payload from vpcd is a
 * control; anything longer is a command APDU, answered with the response APDU. Only
 * {@link VpcdControl.getAtr} and APDUs get a reply.
 */

/** Default TCP port of the first vpcd reader ("Virtual PCD 00 00"); reader n listens on port + n. */
export const VPCD_DEFAULT_PORT = 35963;

/** Largest payload the 2-byte length can frame. */
export const VPCD_MAX_PAYLOAD = 0xffff;

/** Control bytes vpcd sends as 1-byte payloads. */
export const VpcdControl = {
  powerOff: 0x00,
  powerOn: 0x01,
  reset: 0x02,
  getAtr: 0x04,
} as const;

/**
 * Frame one payload: 2-byte big-endian length, then the bytes.
 * @throws RangeError when the payload exceeds {@link VPCD_MAX_PAYLOAD}.
 */
export function encodeVpcdFrame(payload: Uint8Array): Uint8Array {
  if (payload.length > VPCD_MAX_PAYLOAD) throw new RangeError(`vpcd payload of ${payload.length} bytes is too long`);
  const out = new Uint8Array(2 + payload.length);
  out[0] = payload.length >> 8;
  out[1] = payload.length & 0xff;
  out.set(payload, 2);
  return out;
}

/** Reassembles frames from a TCP byte stream, which may split or merge them anywhere. */
export class VpcdFrameDecoder {
  private buffer = new Uint8Array(0);

  /** Feed received bytes; returns every payload completed by them, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.buffer.length + chunk.length);
    merged.set(this.buffer);
    merged.set(chunk, this.buffer.length);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (merged.length - offset >= 2) {
      const length = ((merged[offset] as number) << 8) | (merged[offset + 1] as number);
      if (merged.length - offset - 2 < length) break;
      frames.push(merged.slice(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.buffer = merged.slice(offset);
    return frames;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Drop a partial frame (the connection closed). */
  clear(): void {
    this.buffer = new Uint8Array(0);
  }
}
