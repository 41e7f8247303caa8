/**
 * The enrollment agent for issuing on behalf (RFC 5272 CMC): the CA operator service account's
 * certificate and a callback that signs with its key. The key never enters cardwright: it stays in
 * the embedding application (an HSM, a card, a key file), so it cannot reach the store, a
 * persisted snapshot or the audit log.
 */
import { CardwrightError } from "../errors.js";
import type { HashAlgorithm } from "../ports/device.js";
import { parseCertificate } from "./certificate.js";
import { buildCmcFullPkiRequest, type CmcAgentSigner } from "./cmc.js";

/** The enrollment agent configured on the facade (`CardwrightOptions.enrollmentAgent`). */
export interface EnrollmentAgent {
  /** DER X.509 certificate of the agent, normally with the Certificate Request Agent EKU 1.3.6.1.4.1.311.20.2.1. */
  certificate: Uint8Array;
  /** Signs with the agent certificate's key (see {@link CmcAgentSigner}). */
  sign: CmcAgentSigner;
  /** Digest of the CMS signature (default SHA-256). */
  hash?: HashAlgorithm;
}

/**
 * Check the agent's certificate parses, so a misconfiguration is refused when the facade is built.
 * @throws CardwrightError `CONFIG_INVALID` when `agent.certificate` is not a DER certificate or
 * `agent.sign` is not a function.
 */
export function assertEnrollmentAgent(agent: EnrollmentAgent): void {
  if (typeof agent.sign !== "function") {
    throw new CardwrightError("CONFIG_INVALID", "enrollmentAgent.sign must be a signing function", {
      details: { field: "enrollmentAgent.sign" },
    });
  }
  try {
    parseCertificate(agent.certificate);
  } catch (cause) {
    throw new CardwrightError("CONFIG_INVALID", "enrollmentAgent.certificate is not a DER X.509 certificate", {
      details: { field: "enrollmentAgent.certificate" },
      cause,
    });
  }
}

/**
 * Wrap a device-signed PKCS#10 in a CMC Full PKI Request (RFC 5272 §3.2) signed by `agent`.
 * @throws CardwrightError as {@link buildCmcFullPkiRequest}.
 */
export function signOnBehalf(agent: EnrollmentAgent, csr: Uint8Array): Promise<Uint8Array> {
  return buildCmcFullPkiRequest({
    csr,
    agentCertificate: agent.certificate,
    agentSigner: agent.sign,
    ...(agent.hash === undefined ? {} : { hash: agent.hash }),
  });
}
