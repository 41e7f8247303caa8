/**
 * A scripted certificate authority test double: it really verifies the PKCS#10 signature and
 * really signs X.509 certificates with pkijs, but its answers (issue, hold pending, reject, fail)
 * are scripted by the test. The real CAs are covered by the end-to-end tests in
 * packages/cli/test, with the embedded CA and the virtual PIV card.
 */
import { webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type {
  CaResult,
  CertificateAuthority,
  CertificateRequest,
  RenewalRequest,
  RevocationReason,
} from "../../src/index.js";
import { CardwrightError } from "../../src/index.js";

pkijs.setEngine(
  "node-webcrypto",
  new pkijs.CryptoEngine({ name: "node-webcrypto", crypto: webcrypto as unknown as Crypto }),
);

/** What the CA does with the next submissions. */
export type CaScript = "issue" | "pending" | "reject" | "unavailable";

interface Held {
  caRequestId: string;
  request: CertificateRequest;
  state: "pending" | "issued" | "rejected";
  certificate?: Uint8Array;
  reason?: string;
}

export class ScriptedCa implements CertificateAuthority {
  readonly id: string;
  script: CaScript = "issue";
  /** Per-template override of {@link script}. */
  readonly scriptByTemplate = new Map<string, CaScript>();
  readonly revoked = new Map<string, RevocationReason>();
  readonly byRequestId = new Map<string, Held>();
  readonly byCaRequestId = new Map<string, Held>();
  submitCount = 0;
  pollCount = 0;
  #keys: CryptoKeyPair | undefined;
  #caCert: pkijs.Certificate | undefined;
  #serial = 0x1000;

  constructor(id = "ca") {
    this.id = id;
  }

  async #ensureCa(): Promise<void> {
    if (this.#keys !== undefined) return;
    this.#keys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const cert = new pkijs.Certificate();
    cert.version = 2;
    cert.serialNumber = new asn1js.Integer({ value: 1 });
    const name = new pkijs.RelativeDistinguishedNames({
      typesAndValues: [
        new pkijs.AttributeTypeAndValue({
          type: "2.5.4.3",
          value: new asn1js.Utf8String({ value: `Scripted CA ${this.id}` }),
        }),
      ],
    });
    cert.subject = name;
    cert.issuer = name;
    cert.notBefore.value = new Date(Date.now() - 60_000);
    cert.notAfter.value = new Date(Date.now() + 86_400_000 * 3650);
    await cert.subjectPublicKeyInfo.importKey(this.#keys.publicKey);
    await cert.sign(this.#keys.privateKey, "SHA-256");
    this.#caCert = cert;
  }

  async #issue(request: CertificateRequest): Promise<Uint8Array> {
    await this.#ensureCa();
    const csr = pkijs.CertificationRequest.fromBER(new Uint8Array(request.csr));
    if (!(await csr.verify())) {
      throw new CardwrightError("CA_INVALID_REQUEST", "CSR signature does not verify", {
        details: { requestId: request.requestId },
      });
    }
    const cert = new pkijs.Certificate();
    cert.version = 2;
    cert.serialNumber = new asn1js.Integer({ value: this.#serial++ });
    cert.subject = csr.subject;
    cert.issuer = this.#caCert!.subject;
    cert.notBefore.value = new Date(Date.now() - 60_000);
    cert.notAfter.value = new Date(Date.now() + 86_400_000 * request.profile.validityDays);
    cert.subjectPublicKeyInfo = csr.subjectPublicKeyInfo;
    await cert.sign(this.#keys!.privateKey, "SHA-256");
    return new Uint8Array(cert.toSchema().toBER(false));
  }

  async #chain(): Promise<Uint8Array[]> {
    await this.#ensureCa();
    return [new Uint8Array(this.#caCert!.toSchema().toBER(false))];
  }

  #result(h: Held, chain: Uint8Array[]): CaResult {
    if (h.state === "issued")
      return { status: "issued", caRequestId: h.caRequestId, certificate: h.certificate!, chain };
    if (h.state === "rejected") return { status: "rejected", caRequestId: h.caRequestId, reason: h.reason! };
    return { status: "pending", caRequestId: h.caRequestId };
  }

  async submit(request: CertificateRequest): Promise<CaResult> {
    const script = this.scriptByTemplate.get(request.profile.templateId) ?? this.script;
    if (script === "unavailable") throw new CardwrightError("CA_UNAVAILABLE", `CA ${this.id} is unreachable`);
    const chain = await this.#chain();
    const existing = this.byRequestId.get(request.requestId);
    if (existing !== undefined) return this.#result(existing, chain);
    this.submitCount++;
    const h: Held = { caRequestId: `ca-${this.id}-${this.byRequestId.size + 1}`, request, state: "pending" };
    if (script === "issue") {
      h.state = "issued";
      h.certificate = await this.#issue(request);
    } else if (script === "reject") {
      h.state = "rejected";
      h.reason = "subject not allowed by CA policy";
    }
    this.byRequestId.set(request.requestId, h);
    this.byCaRequestId.set(h.caRequestId, h);
    return this.#result(h, chain);
  }

  readonly renewal = { sameKey: true, rekey: true };

  /** A renewal follows the same script as a first request. */
  renew(request: RenewalRequest): Promise<CaResult> {
    return this.submit(request);
  }

  /** The CA operator approves a held request. */
  async approve(caRequestId: string): Promise<void> {
    const h = this.byCaRequestId.get(caRequestId);
    if (h === undefined || h.state !== "pending") throw new Error(`nothing pending under ${caRequestId}`);
    h.certificate = await this.#issue(h.request);
    h.state = "issued";
  }

  /** The CA operator refuses a held request. */
  deny(caRequestId: string, reason: string): void {
    const h = this.byCaRequestId.get(caRequestId);
    if (h === undefined || h.state !== "pending") throw new Error(`nothing pending under ${caRequestId}`);
    h.state = "rejected";
    h.reason = reason;
  }

  async poll(caRequestId: string): Promise<CaResult> {
    this.pollCount++;
    if (this.script === "unavailable") throw new CardwrightError("CA_UNAVAILABLE", `CA ${this.id} is unreachable`);
    const h = this.byCaRequestId.get(caRequestId);
    if (h === undefined)
      throw new CardwrightError("CA_UNKNOWN_REQUEST", `unknown request ${caRequestId}`, { details: { caRequestId } });
    return this.#result(h, await this.#chain());
  }

  async revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    this.revoked.set(serialHex, reason);
  }
  async suspend(serialHex: string): Promise<void> {
    this.revoked.set(serialHex, "certificateHold");
  }
  async unsuspend(serialHex: string): Promise<void> {
    this.revoked.delete(serialHex);
  }
  chain(): Promise<Uint8Array[]> {
    return this.#chain();
  }
}
