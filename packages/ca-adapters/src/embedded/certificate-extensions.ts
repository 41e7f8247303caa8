/**
 * Builders for the X.509 v3 extensions the embedded CA writes (RFC 5280 §4.2), each returning
 * a pkijs `Extension` with its DER value. Criticality follows RFC 5280: basicConstraints
 * critical in CA certificates (§4.2.1.9), keyUsage critical (§4.2.1.3), identifiers never.
 */
import { type KeyUsage, keyUsageBitString } from "@cardwright/core";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { ExtensionOid } from "../oids.js";
import { toArrayBuffer } from "./crypto-engine.js";

function extension(extnID: string, critical: boolean, value: { toBER(sizeOnly?: boolean): ArrayBuffer }) {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function schemaOf(obj: { toSchema(): asn1js.AsnType }): { toBER(sizeOnly?: boolean): ArrayBuffer } {
  return obj.toSchema() as unknown as { toBER(sizeOnly?: boolean): ArrayBuffer };
}

/** basicConstraints (§4.2.1.9); critical, with `pathLenConstraint` only for CAs. */
export function basicConstraintsExtension(cA: boolean, pathLenConstraint?: number): pkijs.Extension {
  const value = new pkijs.BasicConstraints(
    cA && pathLenConstraint !== undefined ? { cA, pathLenConstraint } : cA ? { cA } : {},
  );
  return extension(ExtensionOid.basicConstraints, true, schemaOf(value));
}

/** keyUsage (§4.2.1.3), critical. */
export function keyUsageExtension(usages: readonly KeyUsage[]): pkijs.Extension {
  return extension(ExtensionOid.keyUsage, true, keyUsageBitString(usages));
}

/** extKeyUsage (§4.2.1.12), non-critical so relying parties that do not know a purpose still use the key. */
export function extendedKeyUsageExtension(oids: readonly string[]): pkijs.Extension {
  return extension(ExtensionOid.extKeyUsage, false, schemaOf(new pkijs.ExtKeyUsage({ keyPurposes: [...oids] })));
}

/** subjectKeyIdentifier (§4.2.1.2). */
export function subjectKeyIdentifierExtension(keyIdentifier: Uint8Array): pkijs.Extension {
  return extension(
    ExtensionOid.subjectKeyIdentifier,
    false,
    new asn1js.OctetString({ valueHex: toArrayBuffer(keyIdentifier) }),
  );
}

/** authorityKeyIdentifier (§4.2.1.1), keyIdentifier form: the issuer's subjectKeyIdentifier. */
export function authorityKeyIdentifierExtension(issuerKeyIdentifier: Uint8Array): pkijs.Extension {
  const value = new pkijs.AuthorityKeyIdentifier({
    keyIdentifier: new asn1js.OctetString({ valueHex: toArrayBuffer(issuerKeyIdentifier) }),
  });
  return extension(ExtensionOid.authorityKeyIdentifier, false, schemaOf(value));
}

/** cRLDistributionPoints (§4.2.1.13) with one fullName URI. */
export function crlDistributionPointsExtension(url: string): pkijs.Extension {
  const value = new pkijs.CRLDistributionPoints({
    distributionPoints: [
      new pkijs.DistributionPoint({
        distributionPoint: [new pkijs.GeneralName({ type: 6, value: url })],
      }),
    ],
  });
  return extension(ExtensionOid.cRLDistributionPoints, false, schemaOf(value));
}

/** cRLNumber (§5.2.3), a CRL extension. */
export function crlNumberExtension(crlNumber: number): pkijs.Extension {
  return extension(ExtensionOid.cRLNumber, false, new asn1js.Integer({ value: crlNumber }));
}

/** reasonCode (§5.3.1), a CRL entry extension, ENUMERATED. */
export function reasonCodeExtension(code: number): pkijs.Extension {
  return extension(ExtensionOid.reasonCode, false, new asn1js.Enumerated({ value: code }));
}

/** An extension whose DER value is copied verbatim (e.g. a requested subjectAltName). */
export function verbatimExtension(extnID: string, critical: boolean, extnValue: Uint8Array): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: toArrayBuffer(extnValue) });
}

/**
 * Key identifier per RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING
 * contents (without tag, length and unused-bits octet).
 */
export async function keyIdentifier(publicKeyInfo: pkijs.PublicKeyInfo): Promise<Uint8Array> {
  const subjectPublicKey = publicKeyInfo.subjectPublicKey.valueBlock.valueHexView;
  return new Uint8Array(
    await globalThis.crypto.subtle.digest("SHA-1", toArrayBuffer(new Uint8Array(subjectPublicKey))),
  );
}
