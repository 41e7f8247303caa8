/** RFC 4210 §5.3.18 CertConfirmContent (certConf): the end entity accepts or rejects what it got. */
import * as asn1js from "asn1js";
import { encodePkiStatusInfo, type FailureInfo, PkiStatus } from "./pki-status.js";

/** One CertStatus. */
export interface CertStatusInput {
  /** Hash of the certificate with the hash of its own signature algorithm (RFC 4210 §5.3.18, cmp2000). */
  certHash: Uint8Array;
  certReqId: number;
  /** Absent = accepted; a rejection says why. */
  rejection?: { reason: string; failInfo: readonly FailureInfo[] };
}

/** Encode a CertConfirmContent. */
export function encodeCertConfirmContent(statuses: readonly CertStatusInput[]): asn1js.Sequence {
  return new asn1js.Sequence({
    value: statuses.map((s) => {
      const value: asn1js.AsnType[] = [
        new asn1js.OctetString({ valueHex: new Uint8Array(s.certHash).buffer }),
        new asn1js.Integer({ value: s.certReqId }),
      ];
      value.push(
        s.rejection === undefined
          ? encodePkiStatusInfo({ status: PkiStatus.accepted })
          : encodePkiStatusInfo({
              status: PkiStatus.rejection,
              statusString: [s.rejection.reason],
              failInfo: s.rejection.failInfo,
            }),
      );
      return new asn1js.Sequence({ value });
    }),
  });
}
