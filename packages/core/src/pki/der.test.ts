import { generateKeyPairSync, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { selfSignedCertificate } from "../../test/support/openssl-certificate.js";
import { parseCertificate, spkiEquals } from "./certificate.js";
import { derTlv, oidString, plainDerSubjectPublicKeyInfo, readChildren, readTlv } from "./der.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));
const ecSpki = () =>
  new Uint8Array(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "der" }));

/** `der` with the outermost length rewritten in a non-minimal long form (BER, not DER). */
function berLongForm(der: Uint8Array): Uint8Array {
  const tlv = readTlv(der, 0, der.length);
  if (tlv === undefined) throw new Error("not DER");
  const length = tlv.end - tlv.contentStart;
  return Uint8Array.from([
    der[0] as number,
    0x84,
    length >>> 24,
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
    ...der.subarray(tlv.contentStart),
  ]);
}

describe("DER reading (X.690 §8, §10)", () => {
  it("reads short and long definite lengths and the children filling a SEQUENCE", () => {
    const der = derTlv(0x30, derTlv(0x02, Uint8Array.of(5)), derTlv(0x04, new Uint8Array(200)));
    const outer = readTlv(der, 0, der.length);
    expect(outer).toMatchObject({ tag: 0x30, contentStart: 3, end: der.length });
    const items = readChildren(der, outer!);
    expect(items?.map((t) => [t.tag, t.end - t.contentStart])).toEqual([
      [0x02, 1],
      [0x04, 200],
    ]);
  });

  it("leaves non-minimal, indefinite, truncated and high-tag encodings to the general path", () => {
    expect(readTlv(hex("30 81 05 0000000000"), 0, 8)).toBeUndefined(); // 0x81 for a length below 128
    expect(readTlv(hex("30 80 0000"), 0, 4)).toBeUndefined(); // indefinite
    expect(readTlv(hex("04 05 0000"), 0, 4)).toBeUndefined(); // claims more than there is
    expect(readTlv(hex("1f 81 01 00"), 0, 4)).toBeUndefined(); // high tag number
    expect(readChildren(hex("30 03 02 01"), { tag: 0x30, start: 0, contentStart: 2, end: 4 })).toBeUndefined();
  });

  it("encodes what asn1js encodes", () => {
    for (const size of [0, 1, 127, 128, 255, 256, 70_000]) {
      const value = new Uint8Array(size).fill(7);
      expect(Buffer.from(derTlv(0x04, value))).toEqual(
        Buffer.from(new asn1js.OctetString({ valueHex: value }).toBER(false)),
      );
    }
  });

  it("prints object identifiers as asn1js does and refuses padded sub-identifiers", () => {
    for (const oid of [
      "2.5.4.3",
      "1.2.840.113549.1.9.14",
      "1.3.6.1.4.1.311.20.2.3",
      "2.999.1234567",
      "0.9.2342.19200300.100.1.25",
    ]) {
      const der = new Uint8Array(new asn1js.ObjectIdentifier({ value: oid }).toBER(false));
      expect(oidString(der, readTlv(der, 0, der.length)!)).toBe(oid);
    }
    const padded = hex("06 03 55 80 03");
    expect(oidString(padded, readTlv(padded, 0, padded.length)!)).toBeUndefined();
  });

  it("takes a plain DER SubjectPublicKeyInfo as is and refuses anything around or instead of it", () => {
    const spki = ecSpki();
    expect(plainDerSubjectPublicKeyInfo(spki)).toBe(spki);
    expect(plainDerSubjectPublicKeyInfo(Uint8Array.from([...spki, 0]))).toBeUndefined();
    expect(plainDerSubjectPublicKeyInfo(berLongForm(spki))).toBeUndefined();
    expect(plainDerSubjectPublicKeyInfo(hex("30 03 02 01 00"))).toBeUndefined();
  });

  it("compares keys across DER and BER encodings, and tells different keys apart", () => {
    const spki = ecSpki();
    expect(spkiEquals(spki, berLongForm(spki))).toBe(true);
    expect(spkiEquals(spki, ecSpki())).toBe(false);
    expect(spkiEquals(spki, hex("30 03 02 01 00"))).toBe(false);
  });
});

describe("parseCertificate over DER and BER", () => {
  /** A self-signed certificate from openssl's own encoder, with extensions. */
  const certificate = (): Uint8Array => selfSignedCertificate({ subject: "/O=Example/CN=Parse Test", days: 30 });

  it("reads a BER-wrapped certificate as its DER form, and refuses garbage", () => {
    const der = certificate();
    const fromDer = parseCertificate(der);
    expect(fromDer.subject).toBe("CN=Parse Test,O=Example");
    expect(fromDer.issuer).toBe(fromDer.subject);
    const x509 = new X509Certificate(der);
    expect(Date.parse(fromDer.notAfter)).toBe(Date.parse(x509.validTo));
    expect(fromDer.serialHex).toBe(x509.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ""));
    expect(spkiEquals(fromDer.spki, new Uint8Array(x509.publicKey.export({ type: "spki", format: "der" })))).toBe(true);
    expect(parseCertificate(berLongForm(der))).toEqual(fromDer);
    expect(() => parseCertificate(der.subarray(0, der.length - 1))).toThrow(/not a DER X.509 certificate/);
  });

  it("hands out its own copy of the key each time", () => {
    const der = certificate();
    const first = parseCertificate(der);
    first.spki.fill(0);
    expect(parseCertificate(der).spki).not.toEqual(first.spki);
  });
});
