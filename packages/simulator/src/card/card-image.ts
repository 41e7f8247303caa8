/**
 * The card image: a JSON snapshot of a virtual card's persistent state (what survives power-off),
 * to save a prepared card and load it in another test or process.
 */

/** PIN or PUK in the image. */
export interface ReferenceDataImage {
  /** Padded 8-byte value, hex. Secret. */
  value: string;
  retriesTotal: number;
  retriesLeft: number;
}

/** A slot key in the image. */
export interface SlotKeyImage {
  /** Key reference as two hex digits, e.g. "9a", "f9". */
  slot: string;
  /** PIV algorithm byte. */
  algorithm: number;
  pinPolicy: number;
  touchPolicy: number;
  origin: "generated" | "imported";
  /** PKCS #8 DER private key, base64. Secret. */
  privateKey: string;
}

/** A data object in the image. */
export interface DataObjectImage {
  /** Object tag in hex, e.g. "5fc102" or "7e". */
  tag: string;
  /** Object value (content of tag 53), base64. */
  value: string;
}

/**
 * JSON image of a virtual PIV card.
 *
 * **Holds every secret of the card in clear** — PIN, PUK, management key and private keys. It is
 * a test artefact: protect an image file as you would the card itself, and never use an image
 * (or a virtual card) for real credentials.
 */
export interface VirtualPivCardImage {
  format: "cardwright-virtual-piv-card";
  version: 1;
  firmware: string;
  serial: number;
  extendedLength: boolean;
  maxObjectBytes: number;
  totalObjectBytes: number;
  defaultPinRetries: number;
  defaultPukRetries: number;
  pin: ReferenceDataImage;
  puk: ReferenceDataImage;
  managementKey: {
    algorithm: number;
    /** Hex. Secret. */
    key: string;
    touchPolicy: number;
  };
  keys: SlotKeyImage[];
  objects: DataObjectImage[];
}
