/**
 * The `CertificateAuthority` contract against AcmeCertificateAuthority and a real ACME server:
 * Debian's `pebble` on 127.0.0.1 with real http-01 validation of an IP identifier (RFC 8738).
 * Revocation is read back from pebble's management interface (its status per serial).
 *
 * What pebble (and ACME) cannot do, declared below: operator approval (an ACME order is pending
 * only while challenges are validated), certificate hold (RFC 8555 §7.6 revocation is final).
 * The certificate profile is pebble's own, not the request's: digitalSignature and
 * keyEncipherment, serverAuth and clientAuth, and the validity set in its config — declared as the profile.
 * Pebble signs CSRs whose self-signature is broken; the adapter checks it before sending.
 */
import { generateKeyPairSync } from "node:crypto";
import type { CertificateProfile } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { AcmeCertificateAuthority, type AcmeChallenge } from "../src/index.js";
import { describeCertificateAuthorityContract } from "./contract/ca-contract.js";
import { type Http01Site, type Pebble, startHttp01Site, startPebble } from "./support/acme-pebble.js";

let pebble: Pebble | undefined;
let site: Http01Site | undefined;
const engine = new pkijs.CryptoEngine({ name: "webcrypto", crypto: globalThis.crypto });

/** The profile pebble applies whatever the request says. */
const profile: CertificateProfile = {
  templateId: "acme-device",
  keyUsage: ["digitalSignature", "keyEncipherment"],
  extendedKeyUsage: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
  validityDays: 30,
};

/** A PKCS#10 with subjectAltName iPAddress 127.0.0.1, signed with the suite's key. */
async function ipCsr(keys: CryptoKeyPair, label: string): Promise<Uint8Array> {
  const request = new pkijs.CertificationRequest();
  request.subject.typesAndValues.push(
    new pkijs.AttributeTypeAndValue({ type: "2.5.4.3", value: new asn1js.Utf8String({ value: label.slice(0, 64) }) }),
  );
  await request.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  const san = new pkijs.Extension({
    extnID: "2.5.29.17",
    critical: false,
    extnValue: new pkijs.GeneralNames({
      names: [
        new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: new Uint8Array([127, 0, 0, 1]) }) }),
      ],
    })
      .toSchema()
      .toBER(false),
  });
  request.attributes = [
    new pkijs.Attribute({
      type: "1.2.840.113549.1.9.14",
      values: [new pkijs.Extensions({ extensions: [san] }).toSchema()],
    }),
  ];
  const hash = keys.privateKey.algorithm.name === "ECDSA" ? "SHA-256" : "SHA-256";
  await request.sign(keys.privateKey, hash, engine);
  return new Uint8Array(request.toSchema(true).toBER(false));
}

describeCertificateAuthorityContract("AcmeCertificateAuthority (pebble)", {
  capabilities: {
    renewal: { sameKey: true, rekey: true },
    pending: { unsupported: "ACME has no operator approval; orders wait only for challenge validation" },
    revocation: true,
    hold: { unsupported: "ACME revocation is final (RFC 8555 §7.6); there is no certificateHold to lift" },
  },
  async start() {
    pebble = await startPebble({ certificateValidityDays: profile.validityDays });
    site = await startHttp01Site(pebble.httpPort);
    const published = site.published;
    const ca = new AcmeCertificateAuthority({
      id: "pebble",
      directoryUrl: pebble.directoryUrl,
      accountKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
      termsOfServiceAgreed: true,
      challengeResponder: {
        types: ["http-01"],
        present: async (c: AcmeChallenge) => void published.set(c.token, c.keyAuthorization),
        cleanup: async (c: AcmeChallenge) => void published.delete(c.token),
      },
      http: { ca: pebble.tlsCa },
      defaultRetryAfterSeconds: 0.2,
    });
    const running = pebble;
    return {
      ca,
      profile,
      csr: ({ keys, label }) => ipCsr(keys, label),
      unknownCaRequestId: `${new URL(running.directoryUrl).origin}/my-order/unknown-order`,
      revocationStatus: async (serialHex) => {
        const res = await running.manage(`/cert-status-by-serial/${serialHex}`);
        const body = JSON.parse(res.body) as { Status: string; Reason?: number };
        if (body.Status === "Valid") return { status: "good" };
        const reasons = { 0: "unspecified", 1: "keyCompromise", 4: "superseded", 5: "cessationOfOperation" } as const;
        const reason = reasons[(body.Reason ?? 0) as keyof typeof reasons];
        if (reason === undefined) throw new Error(`unexpected pebble reason ${body.Reason}`);
        return { status: "revoked", reason };
      },
    };
  },
  async stop() {
    await site?.close();
    await pebble?.stop();
  },
});
