/**
 * Minimal X.509 v3 certificate issuance (RFC 5280 §4.1) with pkijs, signing with a node
 * `KeyObject` through WebCrypto: SHA-256 with ECDSA (RFC 5758 §3.2) for P-256 keys, SHA-384 for
 * P-384, PKCS #1 v1.5 with SHA-256 for RSA (RFC 4055).
 */
import { createHash, type KeyObject, randomBytes, webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const engine = new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto });

/** An extension to add, with its DER-encoded extnValue contents. */
export interface ExtensionSpec {
  oid: string;
  critical?: boolean;
  value: Uint8Array;
}

/** What to put in a certificate. */
export interface CertificateSpec {
  /** Subject commonName. */
  subjectCommonName: string;
  /** Issuer name (the issuer certificate's subject); omitted for a self-signed certificate. */
  issuer?: pkijs.RelativeDistinguishedNames;
  /** DER SubjectPublicKeyInfo of the subject key. */
  subjectPublicKeyInfo: Uint8Array;
  /** Issuer's private key. */
  signingKey: KeyObject;
  /** Issuer's DER SubjectPublicKeyInfo, for the authority key identifier. */
  issuerPublicKeyInfo: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  extensions: ExtensionSpec[];
}

function buf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spkiDer: Uint8Array): Uint8Array {
  const spki = new pkijs.PublicKeyInfo({ schema: asn1js.fromBER(buf(spkiDer)).result });
  const bits = new Uint8Array(spki.subjectPublicKey.valueBlock.valueHexView);
  return new Uint8Array(createHash("sha1").update(bits).digest());
}

function name(commonName: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: "2.5.4.3", value: new asn1js.Utf8String({ value: commonName }) }),
    ],
  });
}

function time(date: Date): pkijs.Time {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return new pkijs.Time({ type: date.getUTCFullYear() >= 2050 ? 1 : 0, value: date });
}

async function webCryptoKey(key: KeyObject): Promise<{ key: CryptoKey; hash: string }> {
  const pkcs8 = key.export({ format: "der", type: "pkcs8" });
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "P-384" : "P-256";
    const hash = curve === "P-384" ? "SHA-384" : "SHA-256";
    const k = await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: curve }, false, ["sign"]);
    return { key: k as CryptoKey, hash };
  }
  if (key.asymmetricKeyType === "rsa") {
    const k = await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, [
      "sign",
    ]);
    return { key: k as CryptoKey, hash: "SHA-256" };
  }
  throw new RangeError(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
}

/** DER of an extension value built by pkijs or asn1js. */
export function der(value: { toSchema(): { toBER(sizeOnly?: boolean): ArrayBuffer } } | asn1js.BaseBlock): Uint8Array {
  const schema = "toSchema" in value ? value.toSchema() : value;
  return new Uint8Array(schema.toBER(false));
}

/** basicConstraints (RFC 5280 §4.2.1.9) for a CA, with an optional path length. */
export function caBasicConstraints(pathLenConstraint?: number): ExtensionSpec {
  const bc = new pkijs.BasicConstraints(
    pathLenConstraint === undefined ? { cA: true } : { cA: true, pathLenConstraint },
  );
  return { oid: "2.5.29.19", critical: true, value: der(bc) };
}

/** keyUsage keyCertSign + cRLSign (RFC 5280 §4.2.1.3, bits 5 and 6). */
export function caKeyUsage(): ExtensionSpec {
  const bits = new asn1js.BitString({ valueHex: Uint8Array.of(0x06).buffer, unusedBits: 1 });
  return { oid: "2.5.29.15", critical: true, value: der(bits) };
}

/** Parse a DER certificate with pkijs. */
export function parseCertificate(certDer: Uint8Array): pkijs.Certificate {
  return new pkijs.Certificate({ schema: asn1js.fromBER(buf(certDer)).result });
}

/** Issue and sign a certificate; returns its DER. */
export async function issueCertificate(spec: CertificateSpec): Promise<Uint8Array> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = new Uint8Array(randomBytes(16));
  // RFC 5280 §4.1.2.2: a positive INTEGER; a non-zero first byte below 0x80 also keeps the DER
  // minimal (a leading 00 followed by a byte below 80 is not valid DER, and OpenSSL rejects it).
  serial[0] = 0x40 | ((serial[0] as number) & 0x3f);
  cert.serialNumber = new asn1js.Integer({ valueHex: serial.buffer });
  const subject = name(spec.subjectCommonName);
  cert.subject = subject;
  cert.issuer = spec.issuer ?? subject;
  cert.notBefore = time(spec.notBefore);
  cert.notAfter = time(spec.notAfter);
  cert.subjectPublicKeyInfo = new pkijs.PublicKeyInfo({
    schema: asn1js.fromBER(buf(spec.subjectPublicKeyInfo)).result,
  });
  const ski = new asn1js.OctetString({ valueHex: buf(keyIdentifier(spec.subjectPublicKeyInfo)) });
  const aki = new pkijs.AuthorityKeyIdentifier({
    keyIdentifier: new asn1js.OctetString({ valueHex: buf(keyIdentifier(spec.issuerPublicKeyInfo)) }),
  });
  const all: ExtensionSpec[] = [
    ...spec.extensions,
    { oid: "2.5.29.14", value: der(ski) },
    { oid: "2.5.29.35", value: der(aki) },
  ];
  cert.extensions = all.map(
    (e) => new pkijs.Extension({ extnID: e.oid, critical: e.critical ?? false, extnValue: buf(e.value) }),
  );
  const { key, hash } = await webCryptoKey(spec.signingKey);
  await cert.sign(key, hash, engine);
  return new Uint8Array(cert.toSchema(true).toBER(false));
}
