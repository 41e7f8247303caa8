/**
 * Everything a virtual PIV card knows: persistent state (PIN/PUK reference data, management
 * key, slot keys, data objects) and volatile state (security status, selected application).
 * Handlers read and change it through a {@link CardContext}.
 */
import type { SlotKey } from "../crypto/slot-keys.js";
import type { FirmwareVersion } from "./firmware.js";
import { Features } from "./firmware.js";
import type { LatencyModel } from "./latency.js";
import type { ObjectStore } from "./object-store.js";
import { type ReferenceData, VolatileSecurityStatus } from "./security-state.js";

/** YubiKey factory management key bytes (Yubico PIV "Default values"): 0102…08 three times. */
export const DEFAULT_MANAGEMENT_KEY: Uint8Array = new Uint8Array(
  Buffer.from("010203040506070801020304050607080102030405060708", "hex"),
);
/** YubiKey factory PIN and PUK. */
export const DEFAULT_PIN = "123456";
export const DEFAULT_PUK = "12345678";

/** Key reference of the YubiKey attestation key and its certificate object. */
export const ATTESTATION_SLOT = 0xf9;
export const ATTESTATION_OBJECT = 0x5fff01;
/** Discovery object tag (SP 800-73-4 Part 1 §3.3.2). */
export const DISCOVERY_OBJECT = 0x7e;

/** The card administration key (9B). Secret. */
export interface ManagementKey {
  /** 0x03 TDES, 0x08/0x0A/0x0C AES-128/192/256. */
  algorithm: number;
  key: Uint8Array;
  /** Yubico touch policy byte: 1 never (FF in SET MANAGEMENT KEY P2), 2 always (FE). */
  touchPolicy: number;
}

/** Fixed facts about the card, chosen when it is created. */
export interface CardConfig {
  firmware: FirmwareVersion;
  serial: number;
  extendedLength: boolean;
  defaultPinRetries: number;
  defaultPukRetries: number;
}

/** The factory management key of a firmware: AES-192 from 5.7, TDES before. */
export function factoryManagementKey(firmware: FirmwareVersion): ManagementKey {
  return {
    algorithm: Features.aesDefaultManagementKey(firmware) ? 0x0a : 0x03,
    key: Uint8Array.from(DEFAULT_MANAGEMENT_KEY),
    touchPolicy: 1,
  };
}

/** Persistent and volatile state of one card. */
export class CardState {
  readonly volatile = new VolatileSecurityStatus();
  /** Whether the PIV application is the selected one. */
  selected = false;

  constructor(
    readonly config: CardConfig,
    readonly pin: ReferenceData,
    readonly puk: ReferenceData,
    public managementKey: ManagementKey,
    readonly keys: Map<number, SlotKey>,
    readonly objects: ObjectStore,
  ) {}

  /** Forget the volatile state (warm reset, power loss). */
  resetVolatile(): void {
    this.volatile.clear();
    this.selected = false;
  }
}

/** A key use waiting for the user to touch the YubiKey. */
export interface TouchRequest {
  /** Key reference: a slot, or 9B for the management key. */
  slot: number;
}

/** What a handler gets: the state, the card's clock, and the user's finger. */
export interface CardContext {
  readonly state: CardState;
  readonly latency: LatencyModel;
  /** Wait `ms` of simulated card processing (no-op for 0). */
  delay(ms: number): Promise<void>;
  /** Ask for a touch; resolves false when the user does not touch in time. */
  touch(request: TouchRequest): Promise<boolean>;
  /** Milliseconds since the epoch (for the cached-touch window). */
  now(): number;
}
