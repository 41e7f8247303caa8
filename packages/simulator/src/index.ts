// Public API of @cardwright/simulator. Explicit named exports only.

export {
  AttestationAuthority,
  type AttestationAuthorityJson,
  type AttestationAuthorityOptions,
  type DeviceAttestationRequest,
} from "./attestation/attestation-authority.js";
export { YubicoAttestationOid } from "./attestation/piv-attestation.js";
export type {
  DataObjectImage,
  ReferenceDataImage,
  SlotKeyImage,
  VirtualPivCardImage,
} from "./card/card-image.js";
export type { CardImageInput } from "./card/card-image-parse.js";
export type { TouchRequest } from "./card/card-state.js";
export {
  type LatencyAlgorithm,
  type LatencyModel,
  YUBIKEY_5_LATENCY,
  ZERO_LATENCY,
} from "./card/latency.js";
export { YUBIKEY_MAX_OBJECT_BYTES, YUBIKEY_TOTAL_OBJECT_BYTES } from "./card/object-store.js";
export {
  T0_ONLY_ATR,
  VirtualPivCard,
  type VirtualPivCardOptions,
  type VirtualPivCardRuntimeOptions,
  YUBIKEY_5_ATR,
} from "./card/virtual-piv-card.js";
export type { FaultAction, FaultInjection, FaultTiming, FaultTrigger } from "./transport/faults.js";
export { InMemoryTransport, type InMemoryTransportOptions } from "./transport/in-memory-transport.js";
export type { TranscriptEntry } from "./transport/transcript.js";
export {
  VpcdBridge,
  type VpcdBridgeOptions,
  type VpcdEvent,
} from "./vpcd/vpcd-bridge.js";
export {
  encodeVpcdFrame,
  VPCD_DEFAULT_PORT,
  VPCD_MAX_PAYLOAD,
  VpcdControl,
  VpcdFrameDecoder,
} from "./vpcd/vpcd-protocol.js";
