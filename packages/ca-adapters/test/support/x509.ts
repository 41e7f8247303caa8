/** Small readers over issued DER, for assertions. */

import type { CertificateProfile } from "@cardwright/core";
import * as pkijs from "pkijs";

export function parseCertificate(der: Uint8Array): pkijs.Certificate {
  return pkijs.Certificate.fromBER(Uint8Array.from(der));
}

export function extensionOf(certificate: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return certificate.extensions?.find((e) => e.extnID === oid);
}

export function serialHexOf(der: Uint8Array): string {
  return Buffer.from(parseCertificate(der).serialNumber.valueBlock.valueHexView).toString("hex");
}

export const pivAuthProfile: CertificateProfile = {
  templateId: "piv-auth",
  keyUsage: ["digitalSignature"],
  extendedKeyUsage: ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"],
  validityDays: 365,
};

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}
