/** Default {@link Clock}: the system's wall clock. */
import type { Clock } from "../ports/runtime.js";

/** The system clock (`new Date()`). Inject a fixed clock in tests instead. */
export const systemClock: Clock = {
  now: () => new Date(),
};
