/**
 * RFC 4211 CertReqMessages for a key update request (kur, RFC 9483 §4.1.3): a CertTemplate
 * with the subject and public key of our PKCS#10 request, the `oldCertID` control naming the
 * certificate being updated (RFC 4211 §6.5), and a signature proof of possession (§4.1) over
 * the DER CertRequest. The CRMF module is IMPLICIT TAGS; a Name (a CHOICE) stays explicit.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { decodeDer, encode } from "./der.js";

const CONTEXT = 3;
/** id-regCtrl-oldCertID (RFC 4211 §6.5). */
export const ID_REG_CTRL_OLD_CERT_ID = "1.3.6.1.5.5.7.5.1.5";

/** What goes into the certificate template. */
export interface KeyUpdateTemplate {
  certReqId: number;
  subject: pkijs.RelativeDistinguishedNames;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** Requested extensions (from the CSR's extensionRequest). */
  extensions?: pkijs.Extension[];
  oldCert: { issuer: pkijs.RelativeDistinguishedNames; serialNumber: asn1js.Integer };
}

function implicit(tag: number, inner: asn1js.Sequence): asn1js.Constructed {
  return new asn1js.Constructed({
    idBlock: { tagClass: CONTEXT, tagNumber: tag },
    value: inner.valueBlock.value as asn1js.AsnType[],
  });
}

/** The DER CertRequest (what the proof of possession signs). */
export function encodeCertRequest(t: KeyUpdateTemplate): Uint8Array {
  const template: asn1js.AsnType[] = [
    new asn1js.Constructed({ idBlock: { tagClass: CONTEXT, tagNumber: 5 }, value: [t.subject.toSchema()] }),
    implicit(6, decodeDer(t.spki, "SubjectPublicKeyInfo") as asn1js.Sequence),
  ];
  if (t.extensions !== undefined && t.extensions.length > 0) {
    template.push(implicit(9, new pkijs.Extensions({ extensions: t.extensions }).toSchema() as asn1js.Sequence));
  }
  const oldCertId = new asn1js.Sequence({
    value: [
      new pkijs.GeneralName({ type: 4, value: t.oldCert.issuer }).toSchema() as asn1js.AsnType,
      t.oldCert.serialNumber,
    ],
  });
  const controls = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: ID_REG_CTRL_OLD_CERT_ID }), oldCertId] }),
    ],
  });
  return encode(
    new asn1js.Sequence({
      value: [new asn1js.Integer({ value: t.certReqId }), new asn1js.Sequence({ value: template }), controls],
    }),
  );
}

/** CertReqMessages with one CertReqMsg: the CertRequest and its POPOSigningKey ([1], RFC 4211 §4.1). */
export function encodeCertReqMessages(
  certRequest: Uint8Array,
  popoAlgorithm: pkijs.AlgorithmIdentifier,
  popoSignature: Uint8Array,
): asn1js.Sequence {
  const popo = new asn1js.Constructed({
    idBlock: { tagClass: CONTEXT, tagNumber: 1 },
    value: [popoAlgorithm.toSchema(), new asn1js.BitString({ valueHex: new Uint8Array(popoSignature).buffer })],
  });
  return new asn1js.Sequence({
    value: [new asn1js.Sequence({ value: [decodeDer(certRequest, "CertRequest"), popo] })],
  });
}
