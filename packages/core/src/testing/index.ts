export { examplePivPolicy } from "./example-policy.js";
export { FixedClock } from "./fixed-clock.js";
export { InMemoryDirectory } from "./in-memory-directory.js";
export type { InMemoryStoreOptions } from "./in-memory-store.js";
export { InMemoryStore } from "./in-memory-store.js";
export { RecordingNotifier } from "./recording-notifier.js";
export { SeededRandom } from "./seeded-random.js";
export type { DeviceOperation, FailureOptions, SoftwareKeyDeviceOptions } from "./software-key-device.js";
export {
  PIV_FACTORY_MANAGEMENT_KEY,
  PIV_FACTORY_PIN,
  PIV_FACTORY_PUK,
  SoftwareKeyDevice,
} from "./software-key-device.js";
