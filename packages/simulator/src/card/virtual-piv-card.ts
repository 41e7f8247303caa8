/**
 * A virtual YubiKey 5 PIV card: the card side of NIST SP 800-73-4 Part 2 plus Yubico's PIV
 * extensions, with real keys (node:crypto). Command APDUs in, response APDUs out; short and
 * extended lengths, command chaining and 61xx/GET RESPONSE as ISO/IEC 7816-4 specifies.
 */
import { generateKeyPairSync, randomInt } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { CardwrightError } from "@cardwright/core";
import { concat, Sw, tlv } from "@cardwright/pcsc";
import { AttestationAuthority } from "../attestation/attestation-authority.js";
import type { VirtualPivCardImage } from "./card-image.js";
import { type CardImageInput, parseImage } from "./card-image-parse.js";
import {
  ATTESTATION_OBJECT,
  ATTESTATION_SLOT,
  type CardContext,
  CardState,
  DEFAULT_PIN,
  DEFAULT_PUK,
  DISCOVERY_OBJECT,
  factoryManagementKey,
  type TouchRequest,
} from "./card-state.js";
import { CommandChain, ResponseChain } from "./chaining.js";
import { type CommandApdu, parseCommandApdu } from "./command-apdu.js";
import { getData, putData } from "./data-objects.js";
import { parseFirmware } from "./firmware.js";
import { generalAuthenticate } from "./general-authenticate.js";
import { generateAsymmetricKeyPair } from "./generate-key-pair.js";
import { PinPolicy, TouchPolicy } from "./key-slots.js";
import { type LatencyModel, ZERO_LATENCY } from "./latency.js";
import { ObjectStore, YUBIKEY_MAX_OBJECT_BYTES, YUBIKEY_TOTAL_OBJECT_BYTES } from "./object-store.js";
import { changeReferenceData, resetRetryCounter, verify } from "./pin-management.js";
import { padReference, ReferenceData } from "./security-state.js";
import { select } from "./select.js";
import { CardStatus } from "./status.js";
import {
  attest,
  getMetadata,
  getSerial,
  getVersion,
  importAsymmetricKey,
  resetApplication,
  setManagementKey,
  setPinRetries,
} from "./yubikey-extensions.js";

type Handler = (ctx: CardContext, cmd: CommandApdu) => Promise<Uint8Array>;

const SELECT = 0xa4;
const GET_RESPONSE = 0xc0;

const HANDLERS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [SELECT, select],
  [0xcb, getData],
  [0xdb, putData],
  [0x20, verify],
  [0x24, changeReferenceData],
  [0x2c, resetRetryCounter],
  [0x47, generateAsymmetricKeyPair],
  [0x87, generalAuthenticate],
  [0xfd, getVersion],
  [0xf8, getSerial],
  [0xf7, getMetadata],
  [0xff, setManagementKey],
  [0xfa, setPinRetries],
  [0xfb, resetApplication],
  [0xfe, importAsymmetricKey],
  [0xf9, attest],
]);

/**
 * ATR of a YubiKey 5 NFC over USB (ISO/IEC 7816-3 §8): T=1, historical bytes ending in "YubiKey".
 */
export const YUBIKEY_5_ATR: Uint8Array = new Uint8Array(
  // TS TA1 TD1 TD2 TA3 TB3 ‖ historical bytes 80 73 C0 21 C0 57 ‖ "YubiKey" ‖ TCK.
  Buffer.from("3BFD1300008131FE15" + "8073C021C057" + "597562694B6579" + "40", "hex"),
);

/**
 * An ATR offering only T=0 (ISO/IEC 7816-3 §8: T0 = 07, no interface bytes, so T=0 by default and
 * no TCK) with the historical bytes "YubiKey": for exercising readers and hosts on the character
 * protocol, which no YubiKey speaks.
 */
export const T0_ONLY_ATR: Uint8Array = new Uint8Array(Buffer.from("3B07" + "597562694B6579", "hex"));

/**
 * Discovery object a YubiKey ships (SP 800-73-4 Part 1 §3.3.2): the PIV AID (4F) and the PIN
 * usage policy 4000 — PIV PIN only, no global PIN (5F2F).
 */
const YUBIKEY_DISCOVERY = concat(
  tlv(0x4f, Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00)),
  tlv(0x5f2f, Uint8Array.of(0x40, 0x00)),
);

/** Options that do not persist: how the card behaves in time. */
export interface VirtualPivCardRuntimeOptions {
  /** Processing-time model; zero by default. */
  latency?: LatencyModel;
  /** How to wait (default `setTimeout`); inject a fake for deterministic timing tests. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * The user's finger, for keys with a touch policy: resolve true for a touch, false for a touch
   * timeout (the card then answers 6982). Default: the user always touches at once.
   */
  touch?: (request: TouchRequest) => Promise<boolean>;
  /** Clock for the cached-touch window (default `Date.now`). */
  now?: () => number;
  /** Answer-to-reset; default {@link YUBIKEY_5_ATR} (T=1). {@link T0_ONLY_ATR} makes readers use T=0. */
  atr?: Uint8Array;
}

/** Options for {@link VirtualPivCard.create}. */
export interface VirtualPivCardOptions extends VirtualPivCardRuntimeOptions {
  /** Firmware version, default "5.7.1". Gates metadata (5.3), AES keys (5.4), AES default key (5.7). */
  firmware?: string;
  /** Serial number (32-bit); by default an 8-digit one no other card of this process has. */
  serial?: number;
  /** Largest data object; default {@link YUBIKEY_MAX_OBJECT_BYTES}. */
  maxObjectBytes?: number;
  /** Total data object storage; default {@link YUBIKEY_TOTAL_OBJECT_BYTES}. */
  totalObjectBytes?: number;
  /** Accept extended-length APDUs (default true, as YubiKey 4 and later). */
  extendedLength?: boolean;
  /** PIN tries (default 3). */
  pinRetries?: number;
  /** PUK tries (default 3). */
  pukRetries?: number;
  /** Root that signs the card's attestation certificate; {@link AttestationAuthority.shared} when omitted. */
  attestationAuthority?: AttestationAuthority;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Status word trailer. */
function sw(word: number): Uint8Array {
  return Uint8Array.of(word >> 8, word & 0xff);
}

/**
 * Serials the cards of this process get when none is given: eight digits like a YubiKey's,
 * counting up from a random start, so a harness that makes thousands of cards over one store
 * never makes two with one serial (drawn at random, 1,000 cards would repeat one about once in
 * 200 runs) while cards of different processes still differ.
 */
let lastSerial = randomInt(10_000_000, 90_000_000);
function nextSerial(): number {
  lastSerial = lastSerial >= 99_999_999 ? 10_000_000 : lastSerial + 1;
  return lastSerial;
}

/**
 * A virtual YubiKey 5 PIV card.
 *
 * @example
 * const card = await VirtualPivCard.create({ firmware: "5.4.3" });
 * const rsp = await card.process(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0, 0, 3, 8]));
 */
export class VirtualPivCard {
  private readonly chain = new CommandChain();
  private readonly responses = new ResponseChain();
  private readonly ctx: CardContext;
  private readonly sleep: (ms: number) => Promise<void>;
  private busy: Promise<void> = Promise.resolve();
  private readonly answerToReset: Uint8Array;
  /** The last unexpected (non-status) error a handler raised; the card answered 6F00 for it. */
  lastInternalError: unknown;

  private constructor(
    private readonly state: CardState,
    runtime: VirtualPivCardRuntimeOptions,
  ) {
    this.sleep = runtime.sleep ?? defaultSleep;
    this.answerToReset = Uint8Array.from(runtime.atr ?? YUBIKEY_5_ATR);
    const latency = runtime.latency ?? ZERO_LATENCY;
    const touch = runtime.touch ?? (async () => true);
    this.ctx = {
      state,
      latency,
      delay: (ms) => (ms > 0 ? this.sleep(ms) : Promise.resolve()),
      touch,
      now: runtime.now ?? Date.now,
    };
  }

  /**
   * A factory-fresh card: default PIN/PUK/management key for its firmware, the discovery object,
   * and an attestation key whose certificate `attestationAuthority` issues.
   * @throws CardwrightError `CONFIG_INVALID` for a malformed firmware version or limits.
   */
  static async create(options: VirtualPivCardOptions = {}): Promise<VirtualPivCard> {
    let firmware: ReturnType<typeof parseFirmware>;
    try {
      firmware = parseFirmware(options.firmware ?? "5.7.1");
    } catch (cause) {
      throw new CardwrightError("CONFIG_INVALID", "virtual card firmware must look like 5.7.1", { cause });
    }
    const pinRetries = options.pinRetries ?? 3;
    const pukRetries = options.pukRetries ?? 3;
    for (const [what, n] of [
      ["pinRetries", pinRetries],
      ["pukRetries", pukRetries],
    ] as const) {
      if (!Number.isInteger(n) || n < 1 || n > 255) {
        throw new CardwrightError("CONFIG_INVALID", `${what} must be 1 to 255`, { details: { [what]: n } });
      }
    }
    const serial = options.serial ?? nextSerial();
    if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) {
      throw new CardwrightError("CONFIG_INVALID", "serial must be a 32-bit unsigned integer", { details: { serial } });
    }
    for (const [what, n] of [
      ["maxObjectBytes", options.maxObjectBytes],
      ["totalObjectBytes", options.totalObjectBytes],
    ] as const) {
      if (n !== undefined && (!Number.isInteger(n) || n < 1)) {
        throw new CardwrightError("CONFIG_INVALID", `${what} must be a positive integer`, { details: { [what]: n } });
      }
    }
    const objects = new ObjectStore(
      options.maxObjectBytes ?? YUBIKEY_MAX_OBJECT_BYTES,
      options.totalObjectBytes ?? YUBIKEY_TOTAL_OBJECT_BYTES,
    );
    const state = new CardState(
      {
        firmware,
        serial,
        extendedLength: options.extendedLength ?? true,
        defaultPinRetries: pinRetries,
        defaultPukRetries: pukRetries,
      },
      new ReferenceData(padReference(DEFAULT_PIN), pinRetries, pinRetries, padReference(DEFAULT_PIN)),
      new ReferenceData(padReference(DEFAULT_PUK), pukRetries, pukRetries, padReference(DEFAULT_PUK)),
      factoryManagementKey(firmware),
      new Map(),
      objects,
    );
    objects.put(DISCOVERY_OBJECT, YUBIKEY_DISCOVERY);
    const authority = options.attestationAuthority ?? (await AttestationAuthority.shared());
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const certificate = await authority.issueDeviceCertificate({
      publicKey,
      serial,
      firmware: `${firmware.major}.${firmware.minor}.${firmware.patch}`,
    });
    // Yubico installs the attestation key at manufacture: it reports as imported.
    state.keys.set(ATTESTATION_SLOT, {
      algorithm: 0x11,
      privateKey,
      publicKey,
      pinPolicy: PinPolicy.never,
      touchPolicy: TouchPolicy.never,
      origin: "imported",
    });
    objects.put(ATTESTATION_OBJECT, concat(tlv(0x70, certificate), tlv(0x71, Uint8Array.of(0)), tlv(0xfe)));
    return new VirtualPivCard(state, options);
  }

  /**
   * Rebuild a card from {@link VirtualPivCard.toImage} output (object or JSON text).
   * @throws CardwrightError `CONFIG_INVALID` when the image is malformed.
   */
  static fromImage(image: CardImageInput, runtime: VirtualPivCardRuntimeOptions = {}): VirtualPivCard {
    return new VirtualPivCard(parseImage(image), runtime);
  }

  /** Load an image file written by {@link VirtualPivCard.saveImage}. @throws CardwrightError `CONFIG_INVALID`. */
  static async loadImage(path: string, runtime: VirtualPivCardRuntimeOptions = {}): Promise<VirtualPivCard> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (cause) {
      throw new CardwrightError("CONFIG_INVALID", `cannot read card image ${path}`, { cause });
    }
    return VirtualPivCard.fromImage(text, runtime);
  }

  /** Serial number. */
  get serial(): number {
    return this.state.config.serial;
  }

  /** Firmware version as text. */
  get firmware(): string {
    const f = this.state.config.firmware;
    return `${f.major}.${f.minor}.${f.patch}`;
  }

  /** Answer-to-reset. */
  get atr(): Uint8Array {
    return Uint8Array.from(this.answerToReset);
  }

  /** Bytes of data object storage in use (for card-full tests). */
  get storageUsed(): number {
    return this.state.objects.used;
  }

  /**
   * The card's persistent state as a JSON-safe image. **Contains every secret in clear**
   * (see {@link VirtualPivCardImage}).
   */
  toImage(): VirtualPivCardImage {
    const s = this.state;
    const ref = (r: ReferenceData) => ({
      value: Buffer.from(r.exportValue()).toString("hex"),
      retriesTotal: r.retriesTotal,
      retriesLeft: r.retriesLeft,
    });
    return {
      format: "cardwright-virtual-piv-card",
      version: 1,
      firmware: this.firmware,
      serial: s.config.serial,
      extendedLength: s.config.extendedLength,
      maxObjectBytes: s.objects.maxObjectBytes,
      totalObjectBytes: s.objects.totalBytes,
      defaultPinRetries: s.config.defaultPinRetries,
      defaultPukRetries: s.config.defaultPukRetries,
      pin: ref(s.pin),
      puk: ref(s.puk),
      managementKey: {
        algorithm: s.managementKey.algorithm,
        key: Buffer.from(s.managementKey.key).toString("hex"),
        touchPolicy: s.managementKey.touchPolicy,
      },
      keys: [...s.keys.entries()].map(([slot, k]) => ({
        slot: slot.toString(16).padStart(2, "0"),
        algorithm: k.algorithm,
        pinPolicy: k.pinPolicy,
        touchPolicy: k.touchPolicy,
        origin: k.origin,
        privateKey: k.privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
      })),
      objects: s.objects.entries().map(([tag, value]) => ({
        tag: tag.toString(16),
        value: Buffer.from(value).toString("base64"),
      })),
    };
  }

  /** Write {@link VirtualPivCard.toImage} to `path` (owner-only permissions: it holds secrets). */
  async saveImage(path: string): Promise<void> {
    await writeFile(path, JSON.stringify(this.toImage(), null, 2), { mode: 0o600 });
  }

  /** Warm reset: volatile security status, selection and chaining buffers are lost. */
  reset(): void {
    this.state.resetVolatile();
    this.chain.clear();
    this.responses.clear();
  }

  /**
   * Process one command APDU and return the response APDU (data ‖ SW1 SW2). Never throws for
   * card-level errors: those are status words, as on a real card.
   */
  async process(command: Uint8Array): Promise<Uint8Array> {
    // A card runs one command at a time: a command sent while another is in flight (e.g. after
    // the host gave up on a slow one) waits for it, as on the wire.
    const run = this.busy.then(async () => {
      const response = await this.dispatch(Uint8Array.from(command));
      const { perApduMs = 0, perByteMs = 0 } = this.ctx.latency;
      await this.ctx.delay(perApduMs + perByteMs * (command.length + response.length));
      return response;
    });
    this.busy = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async dispatch(bytes: Uint8Array): Promise<Uint8Array> {
    try {
      const cmd = parseCommandApdu(bytes);
      if ((cmd.cla & ~0x10) !== 0x00) throw new CardStatus(Sw.claNotSupported, "class not supported");
      if (cmd.extended && !this.state.config.extendedLength) {
        throw new CardStatus(Sw.wrongLength, "extended length is disabled on this card");
      }
      if (cmd.ins === GET_RESPONSE) {
        if (cmd.p1 !== 0 || cmd.p2 !== 0) throw new CardStatus(Sw.incorrectP1P2, "GET RESPONSE needs P1P2 0000");
        return this.responses.next(cmd.ne === 0 ? 256 : cmd.ne);
      }
      this.responses.clear();
      const full = this.chain.accept(cmd);
      if (full === undefined) return sw(Sw.ok);
      if (!(full.ins === 0x87 && full.p2 === 0x9b)) this.state.volatile.pendingManagementAuth = undefined;
      const handler = HANDLERS.get(full.ins);
      if (handler === undefined) throw new CardStatus(Sw.insNotSupported, "instruction not supported");
      if (full.ins !== SELECT && !this.state.selected) {
        throw new CardStatus(Sw.insNotSupported, "the PIV application is not selected");
      }
      const data = await handler(this.ctx, full);
      const ne = full.ne === 0 ? (full.extended ? 65536 : 256) : full.ne;
      return this.responses.frame(data, ne);
    } catch (err) {
      this.chain.clear();
      if (err instanceof CardStatus) return sw(err.sw);
      this.lastInternalError = err;
      return sw(Sw.noPreciseDiagnosis);
    }
  }
}
