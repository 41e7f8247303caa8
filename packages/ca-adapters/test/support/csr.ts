/**
 * Test-side PKCS#10 requests (RFC 2986) built with pkijs and signed by WebCrypto keys, with the
 * SAN a PIV card request carries: a Microsoft UPN otherName and an rfc822Name.
 */

import { parseName } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { ExtensionOid, OtherNameOid, Pkcs9Oid } from "../../src/oids.js";

export type TestKeyAlgorithm = "ECCP256" | "ECCP384" | "RSA2048" | "RSA1024";

const engine = new pkijs.CryptoEngine({ name: "webcrypto", crypto: globalThis.crypto });

const KEY_PARAMS: Record<TestKeyAlgorithm, { params: EcKeyGenParams | RsaHashedKeyGenParams; hash: string }> = {
  ECCP256: { params: { name: "ECDSA", namedCurve: "P-256" }, hash: "SHA-256" },
  ECCP384: { params: { name: "ECDSA", namedCurve: "P-384" }, hash: "SHA-384" },
  RSA2048: {
    params: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    hash: "SHA-256",
  },
  RSA1024: {
    params: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    hash: "SHA-256",
  },
};

export interface TestCsrOptions {
  keyAlgorithm: TestKeyAlgorithm;
  /** RFC 4514; empty string for an empty subject. */
  subject: string;
  upn?: string;
  email?: string;
  /** Sign with this key pair instead of a fresh one (a same-key renewal's request). */
  keys?: CryptoKeyPair;
}

export interface TestCsr {
  der: Uint8Array;
  keys: CryptoKeyPair;
  /** DER SubjectPublicKeyInfo of the request's key. */
  spki: Uint8Array;
}

/**
 * GeneralNames with the UPN otherName and rfc822Name. Built from asn1js objects because
 * pkijs's GeneralName wraps an otherName value in a second [0] when encoding.
 */
function subjectAltNames(upn: string | undefined, email: string | undefined): asn1js.Sequence {
  const names: asn1js.AsnType[] = [];
  if (upn !== undefined) {
    names.push(
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [
          new asn1js.ObjectIdentifier({ value: OtherNameOid.userPrincipalName }),
          new asn1js.Constructed({
            idBlock: { tagClass: 3, tagNumber: 0 },
            value: [new asn1js.Utf8String({ value: upn })],
          }),
        ],
      }),
    );
  }
  if (email !== undefined) names.push(new pkijs.GeneralName({ type: 1, value: email }).toSchema() as asn1js.AsnType);
  return new asn1js.Sequence({ value: names });
}

/** A fresh, extractable WebCrypto signing key pair of `algorithm`. */
export async function generateTestKeys(algorithm: TestKeyAlgorithm): Promise<CryptoKeyPair> {
  return (await globalThis.crypto.subtle.generateKey(KEY_PARAMS[algorithm].params, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}

/** Generate a key pair (unless `options.keys` is given) and a self-signed PKCS#10 request for it. */
export async function makeCsr(options: TestCsrOptions): Promise<TestCsr> {
  const spec = KEY_PARAMS[options.keyAlgorithm];
  const keys = options.keys ?? (await generateTestKeys(options.keyAlgorithm));
  const request = new pkijs.CertificationRequest();
  request.subject = options.subject === "" ? new pkijs.RelativeDistinguishedNames() : parseName(options.subject);
  await request.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  // attributes [0] is not OPTIONAL (RFC 2986 §4.1): strict parsers (Go's crypto/x509) refuse a request without it.
  request.attributes = [];
  if (options.upn !== undefined || options.email !== undefined) {
    const san = new pkijs.Extension({
      extnID: ExtensionOid.subjectAltName,
      critical: false,
      extnValue: subjectAltNames(options.upn, options.email).toBER(false),
    });
    request.attributes = [
      new pkijs.Attribute({
        type: Pkcs9Oid.extensionRequest,
        values: [new pkijs.Extensions({ extensions: [san] }).toSchema()],
      }),
    ];
  }
  await request.sign(keys.privateKey, spec.hash, engine);
  const der = new Uint8Array(request.toSchema(true).toBER(false));
  const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", keys.publicKey));
  return { der, keys, spki };
}

/** A copy of `der` with the first occurrence of `ascii` changed in one character. */
export function tamper(der: Uint8Array, ascii: string): Uint8Array {
  const needle = Buffer.from(ascii, "utf8");
  const at = Buffer.from(der).indexOf(needle);
  if (at < 0) throw new Error(`"${ascii}" not found in the DER`);
  const out = der.slice();
  out[at] = (out[at] as number) ^ 0x20;
  return out;
}
