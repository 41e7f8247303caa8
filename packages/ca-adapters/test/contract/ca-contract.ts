/**
 * The `CertificateAuthority` contract: one vitest suite every CA adapter runs against a real
 * (or, where none can run here, a recorded) peer. It proves, with real keys and real
 * signatures, what the workflows rely on:
 *
 * - issue: the certificate verifies against `chain()` link by link, carries the CSR's key, and
 *   the profile's keyUsage, extKeyUsage and validity;
 * - a CSR with a broken self-signature is never issued;
 * - pending → approve → poll issued; pending → reject → rejected with the operator's reason;
 * - renew with the same key and/or a new key as `renewal` says, `CA_UNSUPPORTED` otherwise;
 * - revoke with a reason and hold/unhold, checked through the CA's CRL or status where the
 *   harness can; revoking twice is harmless (a resumed workflow repeats its step);
 * - idempotency: the same `requestId` — again, or twice at once — yields the same
 *   certificate and never a second one;
 * - an unknown CA request id is `CA_UNKNOWN_REQUEST`.
 *
 * Usage, in a `*.test.ts` of the adapter:
 * ```ts
 * describeCertificateAuthorityContract("cfssl", { capabilities: {...}, start: async () => ({ ca, profile }) });
 * ```
 * What a CA cannot do is declared in `capabilities` with the reason; the suite then checks the
 * adapter refuses with `CA_UNSUPPORTED` (revocation, hold) or skips with that reason (pending,
 * which is the CA's nature, not the adapter's). Each run uses fresh request ids and keys, so a
 * long-lived peer can be reused.
 */

import {
  type CaResult,
  type CertificateAuthority,
  type CertificateProfile,
  ekuOid,
  isCardwrightError,
  KEY_USAGE_BITS,
  type KeyUsage,
  keyUsagesOf,
  type RenewalRequest,
  type RenewalSupport,
  type RevocationReason,
} from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateTestKeys, makeCsr, type TestKeyAlgorithm } from "../support/csr.js";

/** A capability the CA has (`true`) or lacks, with the reason shown in the test name. */
export type ContractCapability = true | { unsupported: string };

/** Key algorithms the suite can generate request keys with. */
export type ContractKeyAlgorithm = Exclude<TestKeyAlgorithm, "RSA1024">;

/** What the CA under test can do; known before it starts, so tests can be declared. */
export interface CaContractCapabilities {
  /** Must equal `ca.renewal`; the suite renews accordingly and expects `CA_UNSUPPORTED` otherwise. */
  renewal: RenewalSupport;
  /** The CA can hold a request for approval (the fixture then gives `pending`). */
  pending: ContractCapability;
  /** `revoke` works; when unsupported, `revoke` must throw `CA_UNSUPPORTED`. */
  revocation: ContractCapability;
  /** `suspend`/`unsuspend` work; when unsupported, both must throw `CA_UNSUPPORTED`. */
  hold: ContractCapability;
  /** Revoking a serial the CA never issued throws `CA_UNKNOWN_CERTIFICATE` (default true). */
  unknownSerialDetected?: ContractCapability;
  /** Key algorithm of the request keys (default ECCP256). */
  keyAlgorithm?: ContractKeyAlgorithm;
}

/** RFC 5280 status of one certificate as the CA publishes it. */
export type ContractRevocationStatus = { status: "good" } | { status: "revoked"; reason: RevocationReason };

/** A CA that holds requests, and the operator's hands on it. */
export interface PendingHarness {
  /** The CA answering `pending` on submit (may be another instance of the same adapter). */
  ca: CertificateAuthority;
  /** Approve the request at the CA, as its operator would. */
  approve(caRequestId: string): Promise<void>;
  /** Reject it with `reason`. */
  reject(caRequestId: string, reason: string): Promise<void>;
  /** The CA reports the operator's reason text back (default true). */
  reasonReported?: boolean;
}

/** The running CA, made by {@link CaContractHarness.start}. */
export interface CaContractFixture {
  /** The CA under test, issuing on submit. */
  ca: CertificateAuthority;
  /** The profile requests are submitted with. */
  profile: CertificateProfile;
  /**
   * What issued certificates must carry, when the CA takes it from its own configuration
   * rather than from `profile` (default: `profile`'s). `validityDays` is checked ±1 day.
   */
  expected?: { keyUsage?: readonly KeyUsage[]; extendedKeyUsage?: readonly string[]; validityDays?: number };
  /** Given when `capabilities.pending` is true. */
  pending?: PendingHarness;
  /** The status the CA publishes for a certificate (see {@link revocationStatusFromCrl}). */
  revocationStatus?(serialHex: string, certificate: Uint8Array): Promise<ContractRevocationStatus>;
  /** How many certificates the CA (or its recorded peer) has signed so far. */
  issuedCount?(): Promise<number>;
  /** Build a DER CSR for `keys`; default: pkijs, subject `CN=<label>,O=Cardwright Contract`. */
  csr?(input: { label: string; keys: CryptoKeyPair; keyAlgorithm: ContractKeyAlgorithm }): Promise<Uint8Array>;
  /** A CA request id this CA never gave out, in its format (default a random UUID). */
  unknownCaRequestId?: string;
}

/** How to bring the CA under test up and down. */
export interface CaContractHarness {
  capabilities: CaContractCapabilities;
  /** Called once in beforeAll. */
  start(): Promise<CaContractFixture>;
  /** Called in afterAll, also when start or a test failed. */
  stop?(): Promise<void>;
}

const engine = new pkijs.CryptoEngine({ name: "webcrypto", crypto: globalThis.crypto });

const REASON_BY_CODE: Readonly<Record<number, RevocationReason>> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "cACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  8: "removeFromCRL",
  9: "privilegeWithdrawn",
  10: "aACompromise",
};

function parseCertificate(der: Uint8Array): pkijs.Certificate {
  return pkijs.Certificate.fromBER(Uint8Array.from(der));
}

/** Lowercase hex of a certificate's serial, without a DER sign octet. */
export function serialHexOf(der: Uint8Array): string {
  const bytes = new Uint8Array(parseCertificate(der).serialNumber.valueBlock.valueHexView);
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return Buffer.from(bytes.subarray(start)).toString("hex");
}

/**
 * The status of `serialHex` on a CRL (RFC 5280 §5), after checking the CRL's signature with
 * `issuer` (DER). A listed entry without reasonCode is `unspecified` (§5.3.1).
 */
export async function revocationStatusFromCrl(
  crlDer: Uint8Array,
  issuer: Uint8Array,
  serialHex: string,
): Promise<ContractRevocationStatus> {
  const crl = pkijs.CertificateRevocationList.fromBER(Uint8Array.from(crlDer));
  const verified = await crl.verify({ issuerCertificate: parseCertificate(issuer) }, engine);
  if (!verified) throw new Error("the CRL's signature does not verify with the issuing CA certificate");
  const wanted = serialHex.toLowerCase().replace(/^0+(?=.)/, "");
  for (const entry of crl.revokedCertificates ?? []) {
    const bytes = new Uint8Array(entry.userCertificate.valueBlock.valueHexView);
    const hex = Buffer.from(bytes)
      .toString("hex")
      .replace(/^0+(?=.)/, "");
    if (hex !== wanted) continue;
    const reasonExt = entry.crlEntryExtensions?.extensions.find((e) => e.extnID === "2.5.29.21");
    if (reasonExt === undefined) return { status: "revoked", reason: "unspecified" };
    const parsed = asn1js.fromBER(reasonExt.extnValue.valueBlock.valueHexView);
    const code = (parsed.result as asn1js.Enumerated).valueBlock.valueDec;
    const reason = REASON_BY_CODE[code];
    if (reason === undefined) throw new Error(`CRL entry has unknown reasonCode ${code}`);
    return { status: "revoked", reason };
  }
  return { status: "good" };
}

/** DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3) from WebCrypto's r‖s. */
function ecdsaDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    const value = (trimmed[0] ?? 0) >= 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed;
    return new asn1js.Integer({ valueHex: value });
  };
  const seq = new asn1js.Sequence({ value: [integer(raw.subarray(0, half)), integer(raw.subarray(half))] });
  return new Uint8Array(seq.toBER(false));
}

/** Sign as a device would: PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value for EC. */
function deviceSigner(keys: CryptoKeyPair) {
  return async (data: Uint8Array, hash: "SHA-256" | "SHA-384" | "SHA-512"): Promise<Uint8Array> => {
    const algorithm = keys.privateKey.algorithm.name;
    if (algorithm === "ECDSA") {
      const raw = await globalThis.crypto.subtle.sign({ name: "ECDSA", hash }, keys.privateKey, Uint8Array.from(data));
      return ecdsaDer(new Uint8Array(raw));
    }
    const imported = await globalThis.crypto.subtle.importKey(
      "pkcs8",
      await globalThis.crypto.subtle.exportKey("pkcs8", keys.privateKey),
      { name: "RSASSA-PKCS1-v1_5", hash },
      false,
      ["sign"],
    );
    return new Uint8Array(await globalThis.crypto.subtle.sign("RSASSA-PKCS1-v1_5", imported, Uint8Array.from(data)));
  };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error("expected a rejection, but the call succeeded"),
    (err: unknown) => err,
  );
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await errorOf(promise);
  expect(isCardwrightError(error), `expected CardwrightError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code, String((error as Error).message)).toBe(code);
}

function issued(result: CaResult): Extract<CaResult, { status: "issued" }> {
  if (result.status !== "issued") {
    throw new Error(`expected issued, got ${result.status}${result.status === "rejected" ? `: ${result.reason}` : ""}`);
  }
  return result;
}

/**
 * Declare the contract suite for one CA adapter. Call at the top level of a test file.
 */
export function describeCertificateAuthorityContract(name: string, harness: CaContractHarness): void {
  const caps = harness.capabilities;
  const keyAlgorithm = caps.keyAlgorithm ?? "ECCP256";
  const run = globalThis.crypto.randomUUID().slice(0, 8);
  let fx: CaContractFixture | undefined;
  let counter = 0;

  const fixture = (): CaContractFixture => {
    if (fx === undefined) throw new Error(`${name}: the harness did not start`);
    return fx;
  };
  const requestId = (label: string) => `contract-${run}-${label}-${++counter}`;
  const newKeys = () => generateTestKeys(keyAlgorithm);
  const csrFor = async (label: string, keys: CryptoKeyPair): Promise<Uint8Array> => {
    const f = fixture();
    if (f.csr !== undefined) return f.csr({ label, keys, keyAlgorithm });
    const made = await makeCsr({ keyAlgorithm, subject: `CN=${label},O=Cardwright Contract`, keys });
    return made.der;
  };
  const spkiOf = async (keys: CryptoKeyPair) =>
    new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", keys.publicKey));

  /** Submit a fresh request to the auto-issuing CA and return the issued certificate. */
  const issueFresh = async (label: string) => {
    const f = fixture();
    const keys = await newKeys();
    const id = requestId(label);
    const result = issued(
      await f.ca.submit({ requestId: id, csr: await csrFor(`${label}-${run}`, keys), profile: f.profile }),
    );
    return { keys, requestId: id, result, serialHex: serialHexOf(result.certificate) };
  };

  /** The certificate verifies against the chain link by link and is within its validity now. */
  const assertChains = async (certificate: Uint8Array, chain: Uint8Array[]) => {
    expect(chain.length, "chain() is empty").toBeGreaterThan(0);
    const links = [certificate, ...chain].map(parseCertificate);
    for (let i = 0; i + 1 < links.length; i++) {
      const child = links[i] as pkijs.Certificate;
      const parent = links[i + 1] as pkijs.Certificate;
      expect(
        Buffer.from(child.issuer.toSchema().toBER()).equals(Buffer.from(parent.subject.toSchema().toBER())),
        `link ${i}: issuer name differs from the next certificate's subject`,
      ).toBe(true);
      expect(await child.verify(parent, engine), `link ${i}: signature does not verify`).toBe(true);
    }
    const leaf = links[0] as pkijs.Certificate;
    const now = Date.now();
    expect(leaf.notBefore.value.getTime()).toBeLessThanOrEqual(now + 60_000);
    expect(leaf.notAfter.value.getTime()).toBeGreaterThan(now);
  };

  const assertProfile = (certificate: Uint8Array) => {
    const f = fixture();
    const cert = parseCertificate(certificate);
    const keyUsage = f.expected?.keyUsage ?? f.profile.keyUsage;
    const eku = (f.expected?.extendedKeyUsage ?? f.profile.extendedKeyUsage).map(ekuOid);
    const validityDays = f.expected?.validityDays ?? f.profile.validityDays;

    const kuExt = cert.extensions?.find((e) => e.extnID === "2.5.29.15");
    expect(kuExt, "no keyUsage extension").toBeDefined();
    const bits = asn1js.fromBER(kuExt?.extnValue.valueBlock.valueHexView ?? new Uint8Array())
      .result as asn1js.BitString;
    const got = keyUsagesOf(bits).sort();
    expect(got).toEqual([...keyUsage].sort((a, b) => KEY_USAGE_BITS[a] - KEY_USAGE_BITS[b]).sort());

    const ekuExt = cert.extensions?.find((e) => e.extnID === "2.5.29.37");
    if (eku.length === 0) {
      expect(ekuExt, "an extKeyUsage the profile does not ask for").toBeUndefined();
    } else {
      expect(ekuExt, "no extKeyUsage extension").toBeDefined();
      const purposes = new pkijs.ExtKeyUsage({
        schema: asn1js.fromBER(ekuExt?.extnValue.valueBlock.valueHexView ?? new Uint8Array()).result,
      }).keyPurposes;
      expect([...purposes].sort()).toEqual([...eku].sort());
    }

    const days = (cert.notAfter.value.getTime() - cert.notBefore.value.getTime()) / 86_400_000;
    expect(
      Math.abs(days - validityDays),
      `validity ${days.toFixed(3)} days, profile says ${validityDays}`,
    ).toBeLessThanOrEqual(1);
  };

  const statusOf = async (serialHex: string, certificate: Uint8Array) => {
    const f = fixture();
    return f.revocationStatus === undefined ? undefined : f.revocationStatus(serialHex, certificate);
  };

  describe(`CertificateAuthority contract: ${name}`, () => {
    beforeAll(async () => {
      fx = await harness.start();
    });
    afterAll(async () => {
      await harness.stop?.();
    });

    describe("issue", () => {
      it("issues a certificate that verifies against chain(), carries the CSR's key and the profile", async () => {
        const f = fixture();
        const { keys, result } = await issueFresh("issue");
        expect(result.caRequestId).not.toBe("");
        const chain = await f.ca.chain();
        expect(result.chain.map((c) => Buffer.from(c).toString("hex"))).toEqual(
          chain.map((c) => Buffer.from(c).toString("hex")),
        );
        await assertChains(result.certificate, chain);
        const spki = new Uint8Array(parseCertificate(result.certificate).subjectPublicKeyInfo.toSchema().toBER());
        expect(
          Buffer.from(spki).equals(Buffer.from(await spkiOf(keys))),
          "certificate key differs from the CSR's",
        ).toBe(true);
        assertProfile(result.certificate);
      });

      it("never issues for a CSR whose self-signature is broken", async () => {
        const f = fixture();
        const keys = await newKeys();
        const csr = await csrFor(`broken-${run}`, keys);
        const bad = csr.slice();
        // The last octet is inside the signature BIT STRING.
        bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x01;
        const before = await f.issuedCount?.();
        const outcome = await f.ca.submit({ requestId: requestId("broken"), csr: bad, profile: f.profile }).then(
          (r) => r,
          (err: unknown) => err,
        );
        if (isCardwrightError(outcome)) expect(outcome.code).toBe("CA_INVALID_REQUEST");
        else expect((outcome as CaResult).status, "a broken CSR was not refused").toBe("rejected");
        if (before !== undefined) expect(await f.issuedCount?.()).toBe(before);
      });

      it("answers an unknown CA request id with CA_UNKNOWN_REQUEST", async () => {
        const f = fixture();
        await expectCode(f.ca.poll(f.unknownCaRequestId ?? globalThis.crypto.randomUUID()), "CA_UNKNOWN_REQUEST");
      });
    });

    describe("idempotency on requestId", () => {
      it("answers a repeated requestId with the first certificate, even for another CSR", async () => {
        const f = fixture();
        const first = await issueFresh("repeat");
        const before = await f.issuedCount?.();
        const otherKeys = await newKeys();
        const again = issued(
          await f.ca.submit({
            requestId: first.requestId,
            csr: await csrFor(`repeat-other-${run}`, otherKeys),
            profile: f.profile,
          }),
        );
        expect(Buffer.from(again.certificate).equals(Buffer.from(first.result.certificate))).toBe(true);
        expect(again.caRequestId).toBe(first.result.caRequestId);
        const polled = issued(await f.ca.poll(first.result.caRequestId));
        expect(Buffer.from(polled.certificate).equals(Buffer.from(first.result.certificate))).toBe(true);
        if (before !== undefined) expect(await f.issuedCount?.(), "a second certificate was signed").toBe(before);
      });

      it("signs once when the same requestId is submitted twice at once", async () => {
        const f = fixture();
        const keys = await newKeys();
        const csr = await csrFor(`concurrent-${run}`, keys);
        const id = requestId("concurrent");
        const before = await f.issuedCount?.();
        const [a, b] = await Promise.all([
          f.ca.submit({ requestId: id, csr, profile: f.profile }),
          f.ca.submit({ requestId: id, csr, profile: f.profile }),
        ]);
        expect(Buffer.from(issued(a).certificate).equals(Buffer.from(issued(b).certificate))).toBe(true);
        if (before !== undefined) expect(await f.issuedCount?.()).toBe(before + 1);
      });
    });

    describe("approval", () => {
      const unsupported = caps.pending === true ? undefined : caps.pending.unsupported;
      const pendingIt = unsupported === undefined ? it : it.skip;
      const suffix = unsupported === undefined ? "" : ` (not supported: ${unsupported})`;

      pendingIt(`holds a request, then issues it once approved${suffix}`, async () => {
        const f = fixture();
        const p = f.pending;
        if (p === undefined) throw new Error("capabilities.pending is true but the fixture has no pending harness");
        const keys = await newKeys();
        const id = requestId("approve");
        const csr = await csrFor(`approve-${run}`, keys);
        const first = await p.ca.submit({ requestId: id, csr, profile: f.profile });
        expect(first.status).toBe("pending");
        if (first.status !== "pending") return;
        expect((await p.ca.poll(first.caRequestId)).status).toBe("pending");
        // Resubmitting while pending must not open a second request.
        const again = await p.ca.submit({ requestId: id, csr, profile: f.profile });
        expect(again).toMatchObject({ status: "pending", caRequestId: first.caRequestId });
        await p.approve(first.caRequestId);
        const done = issued(await p.ca.poll(first.caRequestId));
        await assertChains(done.certificate, await p.ca.chain());
        const spki = new Uint8Array(parseCertificate(done.certificate).subjectPublicKeyInfo.toSchema().toBER());
        expect(Buffer.from(spki).equals(Buffer.from(await spkiOf(keys)))).toBe(true);
        const resubmitted = issued(await p.ca.submit({ requestId: id, csr, profile: f.profile }));
        expect(Buffer.from(resubmitted.certificate).equals(Buffer.from(done.certificate))).toBe(true);
      });

      pendingIt(`holds a request, then reports the operator's rejection with its reason${suffix}`, async () => {
        const f = fixture();
        const p = f.pending;
        if (p === undefined) throw new Error("capabilities.pending is true but the fixture has no pending harness");
        const id = requestId("reject");
        const csr = await csrFor(`reject-${run}`, await newKeys());
        const first = await p.ca.submit({ requestId: id, csr, profile: f.profile });
        expect(first.status).toBe("pending");
        if (first.status !== "pending") return;
        const reason = `identity documents not verified ${run}`;
        await p.reject(first.caRequestId, reason);
        const result = await p.ca.poll(first.caRequestId);
        expect(result.status).toBe("rejected");
        if (result.status !== "rejected") return;
        expect(result.reason).not.toBe("");
        if (p.reasonReported !== false) expect(result.reason).toContain(reason);
        expect((await p.ca.submit({ requestId: id, csr, profile: f.profile })).status).toBe("rejected");
      });
    });

    describe("renewal", () => {
      it("declares its renewal support", () => {
        expect({ ...fixture().ca.renewal }).toEqual({ ...caps.renewal });
      });

      for (const kind of ["sameKey", "rekey"] as const) {
        const rekey = kind === "rekey";
        const title = rekey ? "with a new key" : "for the same key";
        if (caps.renewal[kind]) {
          it(`renews ${title}, idempotently on requestId`, async () => {
            const f = fixture();
            const previous = await issueFresh(`renew-${kind}`);
            const keys = rekey ? await newKeys() : previous.keys;
            const request: RenewalRequest = {
              requestId: requestId(`renewal-${kind}`),
              csr: await csrFor(`renew-${kind}-${run}`, keys),
              profile: f.profile,
              previousCertificate: previous.result.certificate,
              previousSerialHex: previous.serialHex,
              rekey,
              signWithPreviousKey: deviceSigner(previous.keys),
            };
            const renewed = issued(await f.ca.renew(request));
            expect(serialHexOf(renewed.certificate)).not.toBe(previous.serialHex);
            await assertChains(renewed.certificate, await f.ca.chain());
            const spki = new Uint8Array(parseCertificate(renewed.certificate).subjectPublicKeyInfo.toSchema().toBER());
            expect(Buffer.from(spki).equals(Buffer.from(await spkiOf(keys)))).toBe(true);
            assertProfile(renewed.certificate);
            const before = await f.issuedCount?.();
            const again = issued(await f.ca.renew(request));
            expect(Buffer.from(again.certificate).equals(Buffer.from(renewed.certificate))).toBe(true);
            if (before !== undefined) expect(await f.issuedCount?.()).toBe(before);
          });
        } else {
          it(`refuses to renew ${title} with CA_UNSUPPORTED`, async () => {
            const f = fixture();
            const previous = await issueFresh(`norenew-${kind}`);
            const keys = rekey ? await newKeys() : previous.keys;
            await expectCode(
              f.ca.renew({
                requestId: requestId(`norenewal-${kind}`),
                csr: await csrFor(`norenew-${kind}-${run}`, keys),
                profile: f.profile,
                previousCertificate: previous.result.certificate,
                previousSerialHex: previous.serialHex,
                rekey,
              }),
              "CA_UNSUPPORTED",
            );
          });
        }
      }
    });

    describe("revocation", () => {
      if (caps.revocation === true) {
        it("revokes with a reason, published by the CA; revoking again is harmless", async () => {
          const f = fixture();
          const cert = await issueFresh("revoke");
          const bystander = await issueFresh("bystander");
          const initial = await statusOf(cert.serialHex, cert.result.certificate);
          if (initial !== undefined) expect(initial).toEqual({ status: "good" });
          await f.ca.revoke(cert.serialHex, "keyCompromise");
          await f.ca.revoke(cert.serialHex, "keyCompromise");
          const after = await statusOf(cert.serialHex, cert.result.certificate);
          if (after !== undefined) expect(after).toEqual({ status: "revoked", reason: "keyCompromise" });
          const other = await statusOf(bystander.serialHex, bystander.result.certificate);
          if (other !== undefined) expect(other).toEqual({ status: "good" });
        });

        const unknown = caps.unknownSerialDetected ?? true;
        (unknown === true ? it : it.skip)(
          `refuses a serial it never issued with CA_UNKNOWN_CERTIFICATE${
            unknown === true ? "" : ` (not supported: ${unknown.unsupported})`
          }`,
          async () => {
            const serial = `7e${Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(15))).toString("hex")}`;
            await expectCode(fixture().ca.revoke(serial, "superseded"), "CA_UNKNOWN_CERTIFICATE");
          },
        );
      } else {
        it(`refuses revoke with CA_UNSUPPORTED (${caps.revocation.unsupported})`, async () => {
          const cert = await issueFresh("norevoke");
          await expectCode(fixture().ca.revoke(cert.serialHex, "keyCompromise"), "CA_UNSUPPORTED");
        });
      }

      if (caps.hold === true) {
        it("puts a certificate on hold and lifts it, as the CA publishes", async () => {
          const f = fixture();
          const cert = await issueFresh("hold");
          await f.ca.suspend(cert.serialHex);
          await f.ca.suspend(cert.serialHex);
          const held = await statusOf(cert.serialHex, cert.result.certificate);
          if (held !== undefined) expect(held).toEqual({ status: "revoked", reason: "certificateHold" });
          await f.ca.unsuspend(cert.serialHex);
          const released = await statusOf(cert.serialHex, cert.result.certificate);
          if (released !== undefined) expect(released).toEqual({ status: "good" });
          // A hold can become a permanent revocation.
          await f.ca.suspend(cert.serialHex);
          if (caps.revocation === true) {
            await f.ca.revoke(cert.serialHex, "cessationOfOperation");
            const revoked = await statusOf(cert.serialHex, cert.result.certificate);
            if (revoked !== undefined) expect(revoked).toEqual({ status: "revoked", reason: "cessationOfOperation" });
          }
        });
      } else {
        it(`refuses suspend and unsuspend with CA_UNSUPPORTED (${caps.hold.unsupported})`, async () => {
          const cert = await issueFresh("nohold");
          await expectCode(fixture().ca.suspend(cert.serialHex), "CA_UNSUPPORTED");
          await expectCode(fixture().ca.unsuspend(cert.serialHex), "CA_UNSUPPORTED");
        });
      }
    });
  });
}
