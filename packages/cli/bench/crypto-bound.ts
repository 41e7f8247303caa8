/**
 * The raw cryptographic bound of issue 8: the asymmetric cryptography one P-256 card needs,
 * done directly with WebCrypto (`crypto.subtle`) and nothing else — no card, SDK, store or
 * certificate encoding — run by K concurrent pipelines like the K readers it is compared with.
 */
import { now } from "./stats.js";

const subtle = globalThis.crypto.subtle;
const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

/**
 * Bytes each signature covers, near the real sizes here: a CertificationRequestInfo (RFC 2986
 * §4.1) with subject, P-256 key and UPN extension request, and a TBSCertificate (RFC 5280
 * §4.1.2) with the issuer, subject and extensions of the 9A template. SHA-256 over a few hundred
 * bytes costs microseconds, so the exact size barely moves the bound.
 */
export const CSR_INFO_BYTES = 320;
export const TBS_CERTIFICATE_BYTES = 520;

/** What one card costs in asymmetric cryptography, in the order the issue flow does it. */
export const OPERATIONS_PER_CARD = [
  "ECDSA P-256 key generation (the card's 9A key; GENERATE ASYMMETRIC KEY PAIR)",
  "ECDSA P-256 / SHA-256 signature of the CSR (GENERAL AUTHENTICATE with the new key)",
  "ECDSA P-256 / SHA-256 verification of the CSR's signature (the CA's proof-of-possession check, RFC 2986 §3)",
  "ECDSA P-256 / SHA-256 signature of the TBSCertificate by the CA's key",
] as const;

/** The CA key the bound signs with: P-256, like the bench's embedded CA. */
export async function boundCaKey(): Promise<CryptoKey> {
  return (await subtle.generateKey(EC_KEY, false, ["sign", "verify"])).privateKey;
}

/** One card's worth of {@link OPERATIONS_PER_CARD}, with fresh to-be-signed bytes. */
export async function oneCardOfWebCrypto(caKey: CryptoKey): Promise<void> {
  const csrInfo = globalThis.crypto.getRandomValues(new Uint8Array(CSR_INFO_BYTES));
  const tbs = globalThis.crypto.getRandomValues(new Uint8Array(TBS_CERTIFICATE_BYTES));
  const card = await subtle.generateKey(EC_KEY, false, ["sign", "verify"]);
  const csrSignature = await subtle.sign(ECDSA_SHA256, card.privateKey, csrInfo);
  if (!(await subtle.verify(ECDSA_SHA256, card.publicKey, csrSignature, csrInfo))) {
    throw new Error("WebCrypto bound: a fresh ECDSA signature did not verify");
  }
  await subtle.sign(ECDSA_SHA256, caKey, tbs);
}

/**
 * Cards per second when `readers` pipelines run {@link oneCardOfWebCrypto} concurrently over
 * `cards` cards, each taking the next card when its own is done (as the bureau's readers do).
 */
export async function webCryptoCardsPerSecond(caKey: CryptoKey, cards: number, readers: number): Promise<number> {
  let next = 0;
  const start = now();
  const pipeline = async () => {
    while (next++ < cards) await oneCardOfWebCrypto(caKey);
  };
  await Promise.all(Array.from({ length: readers }, pipeline));
  return cards / ((now() - start) / 1000);
}
