// Public API of @cardwright/pcsc. Explicit named exports only.

export {
  type CommandApdu,
  decodeResponse,
  EXTENDED_MAX_LC,
  EXTENDED_MAX_NE,
  encodeCommand,
  type LengthForm,
  type ResponseApdu,
  requiredForm,
  SHORT_MAX_LC,
  SHORT_MAX_NE,
} from "./apdu/command.js";
export {
  ApduConnection,
  type ApduConnectionOptions,
  type ApduProcessor,
  type ApduTimeouts,
  type ApduTraceEntry,
  CommandChainingProcessor,
  DEFAULT_TIMEOUTS,
  type ExchangeContext,
  isSensitiveCommand,
  ResponseChainingProcessor,
  type SendOptions,
  TransportProcessor,
} from "./apdu/processors.js";
export { checkStatus, retriesFromSw, type StatusContext, statusError } from "./apdu/status.js";
export {
  type ApduErrorContext,
  ApduStatusError,
  ApduTimeoutError,
  AuthenticationFailedError,
  BadResponseError,
  CardEdgeError,
  CardFullError,
  ConditionsNotSatisfiedError,
  type CredentialName,
  formatSw,
  InvalidCommandError,
  NotFoundError,
  PinBlockedError,
  SecurityStatusError,
  UnsupportedError,
  WrongDataError,
  WrongPinError,
} from "./errors.js";
export {
  loadPcscBinding,
  PCSC_BINDING_MODULE,
  type PcscBinding,
  type PcscCardHandle,
  type PcscContextHandle,
  type PcscMonitorEvent,
  type PcscReaderHandle,
  type PcscReaderMonitorHandle,
  type PcscReaderState,
} from "./pcsc/binding.js";
export {
  PcscDeviceProvider,
  type PcscDeviceProviderOptions,
  type PcscEvent,
  type PcscReaderInfo,
  type Unwatch,
} from "./pcsc/pcsc-device-provider.js";
export { type PcscErrorContext, pcscError, scardCodeOf } from "./pcsc/pcsc-errors.js";
export {
  type PcscDisposition,
  type PcscProtocol,
  type PcscShareMode,
  PcscTransport,
  type PcscTransportOptions,
} from "./pcsc/pcsc-transport.js";
export {
  algorithmByte,
  algorithmName,
  isPivKeyAlgorithm,
  managementKeyAlgorithmOf,
  type PinPolicy,
  type PivAlgorithmName,
  type PivKeyAlgorithm,
  pinPolicyByte,
  pinPolicyName,
  type TouchPolicy,
  touchPolicyByte,
  touchPolicyName,
} from "./piv/algorithms.js";
export { buildCcc, type Ccc, CccTag, decodeCcc, encodeCcc, GSC_RID } from "./piv/ccc.js";
export { decodeCertificateObject, encodeCertificateObject } from "./piv/certificate-object.js";
export {
  type BuildChuidOptions,
  buildChuid,
  type Chuid,
  ChuidTag,
  decodeChuid,
  encodeChuid,
  formatCardDate,
  randomGuid,
} from "./piv/chuid.js";
export {
  Alg,
  certificateObjectFor,
  ImportKeyTag,
  Ins,
  instructionName,
  KeyRef,
  ObjectTag,
  PIV_AID,
  RETIRED_KEY_REFS,
  Sw,
  Tag,
  YubiKeyDefaults,
} from "./piv/constants.js";
export { type DiscoveryObject, parseDiscovery } from "./piv/discovery.js";
export { decodeFascn, encodeFascn, type Fascn, NON_FEDERAL_FASCN } from "./piv/fascn.js";
export {
  type ImportKeyComponents,
  type PreparedImportKey,
  prepareImportKey,
  zeroImportKey,
} from "./piv/key-import.js";
export {
  checkManagementKey,
  decryptBlock,
  encryptBlock,
  managementKeyBlockSize,
  managementKeyLength,
} from "./piv/management-key.js";
export { type KeyMetadata, type KeyOrigin, MetadataTag, parseMetadata } from "./piv/metadata.js";
export { PivDevice, type PivDeviceOptions } from "./piv/piv-device.js";
export { spkiFromPublicKeyElements } from "./piv/public-key.js";
export {
  type FirmwareVersion,
  type GenerateKeyOptions,
  PivSession,
  type PivSessionOptions,
  type SelectResponse,
  type SetManagementKeyOptions,
  type WriteCertificateOptions,
} from "./piv/session.js";
export { digest, ecdsaInput, emsaPkcs1v15 } from "./piv/signature-encoding.js";
export { withinTimeLimit } from "./time-limit.js";
export {
  concat,
  decodeAll,
  decodeMap,
  decodeOne,
  encodeLength,
  encodeTag,
  find,
  findRequired,
  type Tlv,
  tlv,
} from "./tlv.js";
export type { ApduTransport, TransmitOptions } from "./transport.js";
