/**
 * PIV data objects (SP 800-73-4 Part 1 §3 and Appendix A) as a YubiKey 5 stores them, with its
 * storage limits. Figures (Yubico, "Maximum certificate sizes",
 * https://docs.yubico.com/yesdk/users-manual/application-piv/cert-size.html): a single certificate
 * of at most 3,052 bytes on firmware 4.x/5.x, and about 51,000 bytes in total for certificates
 * and PUT DATA objects. libykpiv sizes the object buffer at 3072 − 9 = 3063 bytes (`CB_OBJ_MAX`),
 * which is a 3,052-byte certificate plus its 70/71/FE wrapping — the object limit used here.
 */
import { Sw } from "@cardwright/pcsc";
import { CardStatus } from "./status.js";

/** Largest data object value (the content of tag 53) a YubiKey 5 accepts. */
export const YUBIKEY_MAX_OBJECT_BYTES = 3063;
/** Total bytes a YubiKey 5 has for data objects. */
export const YUBIKEY_TOTAL_OBJECT_BYTES = 51_000;

/** The object tags a YubiKey accepts: 5F0000–5FFFFF, plus discovery (7E) and BIT group template (7F61). */
export function isValidObjectTag(tag: number): boolean {
  return (tag >= 0x5f0000 && tag <= 0x5fffff) || tag === 0x7e || tag === 0x7f61;
}

/** Objects whose read needs the PIN (SP 800-73-4 Part 1 Table 3 "Access rule for read"). */
const PIN_PROTECTED = new Set([0x5fc103, 0x5fc108, 0x5fc109, 0x5fc121]);

/** Whether reading `tag` requires a verified PIN. */
export function readRequiresPin(tag: number): boolean {
  return PIN_PROTECTED.has(tag);
}

/** Data objects keyed by tag, with a per-object and a total byte limit. */
export class ObjectStore {
  private readonly objects = new Map<number, Uint8Array>();

  constructor(
    readonly maxObjectBytes: number,
    readonly totalBytes: number,
  ) {}

  get(tag: number): Uint8Array | undefined {
    return this.objects.get(tag);
  }

  /** Bytes in use. */
  get used(): number {
    let n = 0;
    for (const v of this.objects.values()) n += v.length;
    return n;
  }

  /**
   * Store (or replace) an object.
   * @throws CardStatus 6A84 when the object or the total would exceed the card's memory.
   */
  put(tag: number, value: Uint8Array): void {
    if (value.length > this.maxObjectBytes) {
      throw new CardStatus(Sw.notEnoughMemory, `object of ${value.length} bytes exceeds ${this.maxObjectBytes}`);
    }
    const after = this.used - (this.objects.get(tag)?.length ?? 0) + value.length;
    if (after > this.totalBytes) throw new CardStatus(Sw.notEnoughMemory, "data object storage is full");
    this.objects.set(tag, Uint8Array.from(value));
  }

  delete(tag: number): void {
    this.objects.delete(tag);
  }

  /** Remove every object except those in `keep`. */
  clearExcept(keep: readonly number[]): void {
    for (const tag of [...this.objects.keys()]) if (!keep.includes(tag)) this.objects.delete(tag);
  }

  entries(): [number, Uint8Array][] {
    return [...this.objects.entries()];
  }
}
