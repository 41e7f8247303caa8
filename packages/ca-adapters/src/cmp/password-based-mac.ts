/**
 * RFC 4210 §5.1.3.1 PasswordBasedMac (OID 1.2.840.113533.7.66.13): a shared secret and a salt
 * are hashed `iterationCount` times with the one-way function `owf` to BASEKEY, which keys the
 * `mac` over the ProtectedPart. This is what OpenSSL's CMP client and server use with a secret.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { badResponse, integerValue, octets, oidValue, sequenceItems } from "./der.js";

/** id-PasswordBasedMac. */
export const ID_PASSWORD_BASED_MAC = "1.2.840.113533.7.66.13";

/** One-way functions by OID (node hash names). */
const OWF: Readonly<Record<string, string>> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

/** MAC algorithms by OID (the hash of the HMAC): RFC 4210's hmac-sha1 and the RFC 8018 hmacWithSHA*. */
const MAC: Readonly<Record<string, string>> = {
  "1.3.6.1.5.5.8.1.2": "sha1",
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};

/** Bounds a CA's parameters may not exceed, so a response cannot make us hash for minutes. */
export const PBM_MAX_ITERATIONS = 100_000;
/** OpenSSL's lower bound (crypto/crmf/crmf_pbm.c), which we apply to the CA too. */
export const PBM_MIN_ITERATIONS = 100;

/** PBMParameter, decoded. */
export interface PbmParameter {
  salt: Uint8Array;
  owf: string;
  iterationCount: number;
  mac: string;
}

/** Default iterations: each slows an offline guess of the secret from a captured message, and costs every message as much. */
export const PBM_DEFAULT_ITERATIONS = 10_000;

/** What cardwright sends: SHA-256 one-way function and HMAC-SHA-256 (RFC 9481 §6.1.1). */
export function defaultPbmParameter(salt: Uint8Array, iterationCount = PBM_DEFAULT_ITERATIONS): PbmParameter {
  return { salt, owf: "2.16.840.1.101.3.4.2.1", iterationCount, mac: "1.2.840.113549.2.9" };
}

/** The protectionAlg AlgorithmIdentifier for `params`. */
export function pbmAlgorithm(params: PbmParameter): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({
    algorithmId: ID_PASSWORD_BASED_MAC,
    algorithmParams: new asn1js.Sequence({
      value: [
        new asn1js.OctetString({ valueHex: new Uint8Array(params.salt).buffer }),
        new pkijs.AlgorithmIdentifier({ algorithmId: params.owf }).toSchema(),
        new asn1js.Integer({ value: params.iterationCount }),
        new pkijs.AlgorithmIdentifier({ algorithmId: params.mac }).toSchema(),
      ],
    }),
  });
}

/**
 * Read the PBMParameter of a received protectionAlg.
 * @throws CardwrightError `CA_BAD_RESPONSE` for malformed, unsupported or excessive parameters.
 */
export function readPbmParameter(alg: pkijs.AlgorithmIdentifier): PbmParameter {
  const [salt, owf, iterationCount, mac] = sequenceItems(alg.algorithmParams, "PBMParameter");
  const params: PbmParameter = {
    salt: octets(salt, "PBMParameter.salt"),
    owf: oidValue(sequenceItems(owf, "PBMParameter.owf")[0], "PBMParameter.owf"),
    iterationCount: integerValue(iterationCount, "PBMParameter.iterationCount"),
    mac: oidValue(sequenceItems(mac, "PBMParameter.mac")[0], "PBMParameter.mac"),
  };
  if (OWF[params.owf] === undefined)
    throw badResponse(`PasswordBasedMac one-way function ${params.owf} is not supported`);
  if (MAC[params.mac] === undefined) throw badResponse(`PasswordBasedMac MAC ${params.mac} is not supported`);
  if (params.iterationCount < PBM_MIN_ITERATIONS || params.iterationCount > PBM_MAX_ITERATIONS) {
    throw badResponse(
      `PasswordBasedMac iterationCount ${params.iterationCount} is outside ${PBM_MIN_ITERATIONS}..${PBM_MAX_ITERATIONS}`,
    );
  }
  return params;
}

/** The MAC of `data` under `secret` (RFC 4210 §5.1.3.1). */
export function passwordBasedMac(secret: Uint8Array, params: PbmParameter, data: Uint8Array): Uint8Array {
  const owf = OWF[params.owf];
  const mac = MAC[params.mac];
  if (owf === undefined || mac === undefined) throw new TypeError("unsupported PasswordBasedMac parameters");
  let key = createHash(owf).update(secret).update(params.salt).digest();
  for (let i = 1; i < params.iterationCount; i++) key = createHash(owf).update(key).digest();
  return new Uint8Array(createHmac(mac, key).update(data).digest());
}

/** True when `protection` is the MAC of `data` (compared in constant time). */
export function verifyPasswordBasedMac(
  secret: Uint8Array,
  params: PbmParameter,
  data: Uint8Array,
  protection: Uint8Array,
): boolean {
  const expected = passwordBasedMac(secret, params, data);
  return expected.byteLength === protection.byteLength && timingSafeEqual(expected, protection);
}
