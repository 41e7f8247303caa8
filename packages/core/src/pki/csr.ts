/**
 * PKCS#10 certification requests (RFC 2986) built with pkijs and signed by the device: the CSR's
 * to-be-signed bytes go to `device.sign`, so the private key never leaves the card. The subject
 * comes from an RFC 4514 string, and the extensionRequest attribute (RFC 2985 §5.4.2) carries
 * subjectAltName, keyUsage and extendedKeyUsage (RFC 5280 §4.2.1).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CardwrightError } from "../errors.js";
import { ekuOid } from "../policy/extended-key-usage.js";
import type { KeyUsage } from "../ports/certificate-authority.js";
import type { Device, DevicePublicKey, HashAlgorithm, KeyAlgorithm, SlotId } from "../ports/device.js";
import { DN_ATTRIBUTE_OIDS, parseDn } from "./distinguished-name.js";
import { keyUsageBitString } from "./key-usage.js";

/** Microsoft UPN otherName type-id (szOID_NT_PRINCIPAL_NAME). */
export const UPN_OID = "1.3.6.1.4.1.311.20.2.3";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";
const OID_KEY_USAGE = "2.5.29.15";
const OID_EKU = "2.5.29.37";

/** Signature algorithm per key algorithm: RFC 5758 §3.2 (ECDSA) and RFC 4055 §5 (RSA). */
const SIGNATURE: Record<KeyAlgorithm, { hash: HashAlgorithm; oid: string; nullParams: boolean }> = {
  ECCP256: { hash: "SHA-256", oid: "1.2.840.10045.4.3.2", nullParams: false },
  ECCP384: { hash: "SHA-384", oid: "1.2.840.10045.4.3.3", nullParams: false },
  RSA2048: { hash: "SHA-256", oid: "1.2.840.113549.1.1.11", nullParams: true },
  RSA3072: { hash: "SHA-256", oid: "1.2.840.113549.1.1.11", nullParams: true },
};

/** What signs the CSR: a device (only `sign` is used). */
export type CsrSigner = Pick<Device, "sign">;

/** Inputs of {@link buildCsr}. */
export interface CsrInput {
  /** Subject DN as an RFC 4514 string. */
  subject: string;
  /** The device-generated public key. */
  publicKey: DevicePublicKey;
  /** Slot of the key pair that signs. */
  slot: SlotId;
  san?: { upn?: string; email?: string };
  keyUsage?: readonly KeyUsage[];
  /** EKU names or dotted OIDs. */
  extendedKeyUsage?: readonly string[];
}

/**
 * DER Name (RFC 5280 §4.1.2.4) from an RFC 4514 string. Built with asn1js because pkijs encodes
 * a fresh Name as one multi-valued RDN. countryName is a PrintableString (RFC 5280 App. A),
 * emailAddress and domainComponent IA5String, serialNumber PrintableString, the rest UTF8String.
 */
export function encodeName(dn: string): Uint8Array {
  const rdns = parseDn(dn);
  const seq = new asn1js.Sequence({
    value: rdns.map(
      (rdn) =>
        new asn1js.Set({
          value: rdn.map(
            (a) =>
              new asn1js.Sequence({
                value: [new asn1js.ObjectIdentifier({ value: a.oid }), stringValue(a.oid, a.value)],
              }),
          ),
        }),
    ),
  });
  return new Uint8Array(seq.toBER(false));
}

/**
 * A pkijs Name (RFC 5280 §4.1.2.4) from an RFC 4514 string, decoded from {@link encodeName}'s DER
 * so that pkijs re-encodes the RDN structure as parsed.
 * @throws CardwrightError `CONFIG_INVALID` for a malformed subject (see {@link parseDn}).
 */
export function parseName(dn: string): pkijs.RelativeDistinguishedNames {
  return pkijs.RelativeDistinguishedNames.fromBER(new Uint8Array(encodeName(dn)));
}

function stringValue(oid: string, value: string): asn1js.BaseBlock {
  if (oid === DN_ATTRIBUTE_OIDS.C || oid === DN_ATTRIBUTE_OIDS.serialNumber) {
    if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) {
      throw new CardwrightError("CONFIG_INVALID", `value "${value}" is not a PrintableString`, { details: { oid } });
    }
    return new asn1js.PrintableString({ value });
  }
  if (oid === DN_ATTRIBUTE_OIDS.E || oid === DN_ATTRIBUTE_OIDS.DC) return new asn1js.IA5String({ value });
  return new asn1js.Utf8String({ value });
}

function subjectAltName(san: { upn?: string; email?: string }): asn1js.Sequence {
  const names: asn1js.BaseBlock[] = [];
  if (san.upn !== undefined) {
    // otherName ::= [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY } (RFC 5280 §4.2.1.6);
    // pkijs's GeneralName wraps otherName values one level short, so it is built here.
    names.push(
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [
          new asn1js.ObjectIdentifier({ value: UPN_OID }),
          new asn1js.Constructed({
            idBlock: { tagClass: 3, tagNumber: 0 },
            value: [new asn1js.Utf8String({ value: san.upn })],
          }),
        ],
      }),
    );
  }
  if (san.email !== undefined)
    names.push(new pkijs.GeneralName({ type: 1, value: san.email }).toSchema() as asn1js.BaseBlock);
  return new asn1js.Sequence({ value: names });
}

function extension(extnID: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

/**
 * Build a DER PKCS#10 request whose signature is made by `signer.sign(slot, alg, hash, tbs)`:
 * ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384, sha256WithRSAEncryption for RSA.
 * @throws CardwrightError `CONFIG_INVALID` for a malformed subject; device errors from `sign`.
 */
export async function buildCsr(input: CsrInput, signer: CsrSigner): Promise<Uint8Array> {
  const sig = SIGNATURE[input.publicKey.algorithm];
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  csr.subject = parseName(input.subject);
  try {
    csr.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(new Uint8Array(input.publicKey.spki));
  } catch (err) {
    throw new CardwrightError(
      "DEVICE_CAPABILITY",
      "the device returned a public key that is not a DER SubjectPublicKeyInfo",
      {
        details: { slot: input.slot },
        cause: err,
      },
    );
  }
  const extensions: pkijs.Extension[] = [];
  if (input.san !== undefined && (input.san.upn !== undefined || input.san.email !== undefined)) {
    extensions.push(extension(OID_SAN, false, subjectAltName(input.san)));
  }
  if (input.keyUsage !== undefined && input.keyUsage.length > 0) {
    extensions.push(extension(OID_KEY_USAGE, true, keyUsageBitString(input.keyUsage)));
  }
  if (input.extendedKeyUsage !== undefined && input.extendedKeyUsage.length > 0) {
    const eku = new pkijs.ExtKeyUsage({ keyPurposes: input.extendedKeyUsage.map(ekuOid) });
    extensions.push(extension(OID_EKU, false, eku.toSchema()));
  }
  csr.attributes = [];
  if (extensions.length > 0) {
    csr.attributes.push(
      new pkijs.Attribute({
        type: OID_EXTENSION_REQUEST,
        values: [new pkijs.Extensions({ extensions }).toSchema()],
      }),
    );
  }
  // toSchema(true) encodes CertificationRequestInfo afresh; its first element is what gets signed.
  const tbsBlock = csr.toSchema(true).valueBlock.value[0]!;
  const tbs = new Uint8Array(tbsBlock.toBER(false));
  const signature = await signer.sign(input.slot, input.publicKey.algorithm, sig.hash, tbs);
  csr.signatureAlgorithm = new pkijs.AlgorithmIdentifier({
    algorithmId: sig.oid,
    ...(sig.nullParams ? { algorithmParams: new asn1js.Null() } : {}),
  });
  csr.signatureValue = new asn1js.BitString({ valueHex: signature.slice().buffer });
  csr.tbsView = tbs;
  return new Uint8Array(csr.toSchema(false).toBER(false));
}

/** The hash a device uses to sign for `algorithm` (RFC 5758 / RFC 4055 choices above). */
export function signatureHash(algorithm: KeyAlgorithm): HashAlgorithm {
  return SIGNATURE[algorithm].hash;
}

/**
 * The DER SubjectPublicKeyInfo inside a DER PKCS#10 request.
 * @throws CardwrightError `CA_INVALID_REQUEST` when `csr` is not a PKCS#10 request.
 */
export function csrPublicKey(csr: Uint8Array): Uint8Array {
  try {
    const req = pkijs.CertificationRequest.fromBER(new Uint8Array(csr));
    return new Uint8Array(req.subjectPublicKeyInfo.toSchema().toBER(false));
  } catch (err) {
    throw new CardwrightError("CA_INVALID_REQUEST", "not a DER PKCS#10 certification request", { cause: err });
  }
}
