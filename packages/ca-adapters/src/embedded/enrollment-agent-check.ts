/**
 * Checks a CMC Full PKI Request (RFC 5272 §3.2) that an enrollment agent signed on a user's
 * behalf, before the embedded CA issues for the PKCS#10 inside it:
 *
 * - the CMS SignedData signature (RFC 5652 §5.4, §5.6) verifies under the agent certificate the
 *   SignedData carries — including the messageDigest over the PKIData — else the request is
 *   malformed or forged (`CA_INVALID_REQUEST`);
 * - the PKIData carries exactly the PKCS#10 the port's `csr` names (`CA_INVALID_REQUEST`);
 * - the agent certificate is signed by one of the configured enrollment-agent issuers, is within
 *   its validity and carries the Certificate Request Agent EKU 1.3.6.1.4.1.311.20.2.1 (RFC 5272
 *   §7.2 leaves the agent's authorisation to CA policy; this is the policy AD CS uses) — else the
 *   CA answers `rejected` with the reason, like any other issuance rule.
 */
import { CardwrightError, nameToString, readCmcFullPkiRequest } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { ExtensionOid } from "../oids.js";
import { cryptoEngine, toArrayBuffer } from "./crypto-engine.js";

/** szOID_ENROLLMENT_AGENT, the Certificate Request Agent extended key usage. */
export const CERTIFICATE_REQUEST_AGENT_EKU = "1.3.6.1.4.1.311.20.2.1";

/** Outcome of {@link checkOnBehalfRequest}. */
export interface OnBehalfCheck {
  /** The agent certificate's subject, RFC 4514. */
  agentSubject: string;
  /** Why the CA must refuse the agent; absent when the agent may request. */
  violation?: string;
}

function invalid(message: string, requestId: string, cause?: unknown): CardwrightError {
  return new CardwrightError("CA_INVALID_REQUEST", `CMC request on behalf: ${message}`, {
    details: { requestId },
    ...(cause === undefined ? {} : { cause }),
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function ekuOids(certificate: pkijs.Certificate): string[] | undefined {
  const ext = certificate.extensions?.find((e) => e.extnID === ExtensionOid.extKeyUsage);
  if (ext === undefined) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.getValue());
  if (!(parsed.result instanceof asn1js.Sequence)) return [];
  return parsed.result.valueBlock.value
    .filter((v): v is asn1js.ObjectIdentifier => v instanceof asn1js.ObjectIdentifier)
    .map((v) => v.valueBlock.toString());
}

async function issuedBy(certificate: pkijs.Certificate, issuers: readonly pkijs.Certificate[]): Promise<boolean> {
  for (const issuer of issuers) {
    if (!certificate.issuer.isEqual(issuer.subject)) continue;
    try {
      if (await certificate.verify(issuer, cryptoEngine())) return true;
    } catch {
      // A key the engine cannot use is not the issuer's: try the next one.
    }
  }
  return false;
}

/** True when basicConstraints marks the certificate as a CA: an agent is an end entity (RFC 5280 §4.2.1.9). */
function isCa(certificate: pkijs.Certificate): boolean {
  const ext = certificate.extensions?.find((e) => e.extnID === ExtensionOid.basicConstraints);
  return ext?.parsedValue instanceof pkijs.BasicConstraints && ext.parsedValue.cA === true;
}

/**
 * Verify a CMC request signed by an enrollment agent and decide whether the agent may request.
 * @param trustedIssuers DER certificates of the CAs that issue enrollment-agent certificates.
 * @throws CardwrightError `CA_INVALID_REQUEST` when `cmc` is not a Full PKI Request, its
 * signature does not verify, or its PKCS#10 is not `csr`.
 */
export async function checkOnBehalfRequest(
  cmc: Uint8Array,
  csr: Uint8Array,
  trustedIssuers: readonly Uint8Array[],
  now: Date,
  requestId: string,
): Promise<OnBehalfCheck> {
  const request = readCmcFullPkiRequest(cmc);
  if (request.requests.length !== 1) {
    throw invalid(
      `the PKIData carries ${request.requests.length} PKCS#10 requests; exactly one is accepted`,
      requestId,
    );
  }
  if (!sameBytes(request.requests[0]!.csr, csr)) {
    throw invalid("the PKCS#10 inside the CMC request is not the request submitted as csr", requestId);
  }
  const info = pkijs.ContentInfo.fromBER(toArrayBuffer(cmc));
  const signed = new pkijs.SignedData({ schema: info.content });
  let verified: boolean;
  try {
    verified = await signed.verify({ signer: 0, checkChain: false, extendedMode: false }, cryptoEngine());
  } catch (cause) {
    throw invalid("the enrollment agent's CMS signature does not verify (RFC 5652 §5.6)", requestId, cause);
  }
  if (!verified) throw invalid("the enrollment agent's CMS signature does not verify (RFC 5652 §5.6)", requestId);
  const agent = pkijs.Certificate.fromBER(toArrayBuffer(request.signerCertificate));
  const agentSubject = nameToString(agent.subject);
  const issuers = trustedIssuers.map((der) => pkijs.Certificate.fromBER(toArrayBuffer(der)));
  if (issuers.length === 0) {
    return { agentSubject, violation: "the CA trusts no enrollment-agent issuer; requests on behalf are refused" };
  }
  if (!(await issuedBy(agent, issuers))) {
    return {
      agentSubject,
      violation: `enrollment agent "${agentSubject}" is not certified by a trusted enrollment-agent issuer`,
    };
  }
  if (now < agent.notBefore.value || now > agent.notAfter.value) {
    return { agentSubject, violation: `enrollment agent certificate "${agentSubject}" is not valid now` };
  }
  if (isCa(agent)) {
    return { agentSubject, violation: `enrollment agent certificate "${agentSubject}" is a CA certificate` };
  }
  if (!(ekuOids(agent) ?? []).includes(CERTIFICATE_REQUEST_AGENT_EKU)) {
    return {
      agentSubject,
      violation: `enrollment agent certificate "${agentSubject}" lacks the Certificate Request Agent EKU ${CERTIFICATE_REQUEST_AGENT_EKU}`,
    };
  }
  return { agentSubject };
}
