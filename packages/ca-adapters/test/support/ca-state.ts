/** The state document of a freshly created embedded CA, for tests of its state stores. */
import { CA_STATE_FORMAT, type CaState } from "../../src/embedded/ca-state.js";

/** An empty CA's state: no requests, no certificates, no CRL yet. */
export const emptyCaState = (): CaState => ({
  format: CA_STATE_FORMAT,
  id: "ca",
  keyAlgorithm: "ECCP256",
  approvalMode: "automatic",
  retryAfterSeconds: 60,
  crlValidityHours: 24,
  crlNumber: 0,
  requests: {},
  requestIndex: {},
  certificates: {},
});
