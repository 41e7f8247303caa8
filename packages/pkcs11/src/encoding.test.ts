import { constants, generateKeyPairSync, privateEncrypt, sign, verify } from "node:crypto";
import { CardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capabilitiesOf, keyAlgorithmsOf, type MechanismInfo, signAlgorithmsOf } from "./capabilities.js";
import { Mech, TokenFlag } from "./constants.js";
import { ckrOf, pkcs11Error } from "./errors.js";
import { curveOf, ecParamsFor, ecPointOf, ecSpki, rsaAlgorithmOf, rsaSpki } from "./public-key.js";
import { digestInfo, ecdsaSigValue } from "./signature-encoding.js";
import { padLabel, pinStatusOf, unpad } from "./token-info.js";

const octetString = (bytes: Uint8Array) => new Uint8Array(new asn1js.OctetString({ valueHex: bytes }).toBER());

describe("SPKI from PKCS#11 public key attributes", () => {
  for (const [algorithm, curve] of [
    ["ECCP256", "P-256"],
    ["ECCP384", "P-384"],
  ] as const) {
    it(`builds the ${curve} SPKI node:crypto exports, from a wrapped or bare CKA_EC_POINT`, () => {
      const { publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
      const expected = publicKey.export({ format: "der", type: "spki" });
      const jwk = publicKey.export({ format: "jwk" });
      const point = Uint8Array.from([
        4,
        ...Buffer.from(jwk.x as string, "base64url"),
        ...Buffer.from(jwk.y as string, "base64url"),
      ]);
      expect(Buffer.from(ecSpki(algorithm, octetString(point)).spki).equals(expected)).toBe(true);
      expect(Buffer.from(ecSpki(algorithm, point).spki).equals(expected)).toBe(true);
      expect(curveOf(ecParamsFor(algorithm))).toBe(algorithm);
    });
  }

  it("refuses an EC point of the wrong size with a CardwrightError", () => {
    expect(() => ecPointOf(new Uint8Array(10), 32)).toThrow(CardwrightError);
  });

  it("builds the RSA SPKI node:crypto exports, and names the key size", () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = publicKey.export({ format: "jwk" });
    const n = new Uint8Array(Buffer.from(jwk.n as string, "base64url"));
    const e = new Uint8Array(Buffer.from(jwk.e as string, "base64url"));
    expect(rsaAlgorithmOf(n)).toBe("RSA2048");
    expect(rsaAlgorithmOf(Uint8Array.of(0, ...n))).toBe("RSA2048");
    expect(rsaAlgorithmOf(n.subarray(0, 128))).toBeUndefined();
    const spki = rsaSpki("RSA2048", n, e).spki;
    expect(Buffer.from(spki).equals(publicKey.export({ format: "der", type: "spki" }))).toBe(true);
  });
});

describe("signature encodings", () => {
  it("DER-encodes raw r || s so that node:crypto verifies it (property)", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (data) => {
        const raw = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
        return verify("sha256", data, publicKey, Buffer.from(ecdsaSigValue(new Uint8Array(raw))));
      }),
      { numRuns: 50 },
    );
    expect(() => ecdsaSigValue(new Uint8Array(3))).toThrow(CardwrightError);
  });

  it("a DigestInfo signed raw with PKCS#1 v1.5 is a valid RSA SHA-256 signature", () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const data = Buffer.from("hello");
    const signature = privateEncrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(digestInfo("SHA-256", data)),
    );
    expect(verify("sha256", data, publicKey, signature)).toBe(true);
  });
});

describe("token info", () => {
  it("pads labels to 32 bytes and strips padding and NULs", () => {
    expect(padLabel("abc")).toHaveLength(32);
    expect(unpad(padLabel("abc"))).toBe("abc");
    expect(unpad("SW   TPM\0\0\0")).toBe("SW   TPM");
  });

  it("reads PIN status from the flags as a lower bound on tries left", () => {
    expect(pinStatusOf(0, 3)).toEqual({ retriesLeft: 3, blocked: false, retriesTotal: 3 });
    expect(pinStatusOf(TokenFlag.userPinCountLow, 3).retriesLeft).toBe(2);
    expect(pinStatusOf(TokenFlag.userPinCountLow | TokenFlag.userPinFinalTry).retriesLeft).toBe(1);
    expect(pinStatusOf(TokenFlag.userPinLocked)).toEqual({ retriesLeft: 0, blocked: true });
  });
});

describe("capabilities from the mechanism list", () => {
  const gen = 0x10000;
  const sign = 0x800;
  const info = (min: number, max: number, flags: number): MechanismInfo => ({
    minKeySize: min,
    maxKeySize: max,
    flags,
  });

  it("offers the sizes both generation and signing cover", () => {
    const tpm = new Map([
      [Mech.rsaPkcsKeyPairGen, info(1024, 3072, gen)],
      [Mech.rsaPkcs, info(1024, 3072, sign)],
      [Mech.ecKeyPairGen, info(256, 256, gen)],
      [Mech.ecdsa, info(256, 384, sign)],
    ]);
    expect(keyAlgorithmsOf(tpm)).toEqual(["RSA2048", "RSA3072", "ECCP256"]);
    expect(capabilitiesOf(tpm, { reset: false })).toMatchObject({ reset: false, pinUnblock: true, attestation: false });
  });

  it("a token that signs but cannot generate (OpenSC on PIV) offers no key generation, only signing", () => {
    const opensc = new Map([
      [Mech.rsaPkcs, info(1024, 3072, sign)],
      [Mech.ecdsa, info(256, 384, sign)],
    ]);
    expect(keyAlgorithmsOf(opensc)).toEqual([]);
    expect(signAlgorithmsOf(opensc)).toEqual(["RSA2048", "RSA3072", "ECCP256", "ECCP384"]);
  });

  it("offers nothing when the generation flag is missing", () => {
    expect(
      keyAlgorithmsOf(
        new Map([
          [Mech.ecKeyPairGen, info(256, 384, 0)],
          [Mech.ecdsa, info(256, 384, sign)],
        ]),
      ),
    ).toEqual([]);
  });
});

describe("CKR errors", () => {
  it("maps a pkcs11js error to a PKCS11_* code with the CKR name", () => {
    const native = Object.assign(new Error("CKR_PIN_INCORRECT"), { code: 0xa0 });
    expect(ckrOf(native)).toEqual({ name: "CKR_PIN_INCORRECT", value: 0xa0 });
    const err = pkcs11Error(native, "logging in");
    expect(err).toMatchObject({ code: "PKCS11_PIN_INCORRECT", details: { ckr: "CKR_PIN_INCORRECT" } });
    expect(err.message).toMatch(/^logging in: CKR_PIN_INCORRECT/);
    expect(pkcs11Error(new Error("CKR_SOMETHING_ELSE:5"), "x").code).toBe("PKCS11_FUNCTION_FAILED");
    expect(pkcs11Error(new Error("dlopen failed"), "x").code).toBe("PKCS11_MODULE");
  });
});
