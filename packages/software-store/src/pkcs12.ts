/**
 * PKCS#12 (RFC 7292) files as OpenSSL 3 writes them by default: password integrity mode with an
 * HMAC-SHA-256 MAC (§4, key from Appendix B), an encrypted-data safe holding the certificates
 * and a data safe holding a PBES2-shrouded key bag (§4.2.2), each bag with `friendlyName` and
 * `localKeyId` attributes (PKCS#9, RFC 2985 §5.5.1–5.5.2). The ASN.1 is pkijs's; the crypto is
 * node:crypto.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import * as asn1js from "asn1js";
import {
  AlgorithmIdentifier,
  Attribute,
  AuthenticatedSafe,
  CertBag,
  ContentInfo,
  DigestInfo,
  EncryptedContentInfo,
  EncryptedData,
  MacData,
  PFX,
  PKCS8ShroudedKeyBag,
  SafeBag,
  SafeContents,
} from "pkijs";
import { pbes2Decrypt, pbes2Encrypt } from "./pbes2.js";
import { PKCS12_KDF_MAC_ID, PKCS12_MAC_HASHES, type Pkcs12MacHash, pkcs12Kdf } from "./pkcs12-kdf.js";
import { corrupt, wrongPassword } from "./store-errors.js";

/** Object identifiers of RFC 7292 (§4, Appendix D), PKCS#7 content types and PKCS#9 attributes. */
export const Pkcs12Oid = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  pkcs8ShroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
} as const;

const MAC_HASH_OID: Readonly<Record<string, Pkcs12MacHash>> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const SHA256_OID = "2.16.840.1.101.3.4.2.1";
const MAC_SALT_BYTES = 16;

/** The two PKCS#9 attributes a bag carries. */
export interface Pkcs12BagAttributes {
  /** PKCS#9 friendlyName (a BMPString). */
  friendlyName?: string;
  /** PKCS#9 localKeyId: pairs a key bag with its certificate bag. */
  localKeyId?: Uint8Array;
}

/** A private key from a key bag. Secret: keep in memory only, and briefly. */
export interface Pkcs12Key extends Pkcs12BagAttributes {
  /** DER PKCS#8 PrivateKeyInfo (RFC 5208). */
  pkcs8: Uint8Array;
}

/** A certificate from a certificate bag. */
export interface Pkcs12Certificate extends Pkcs12BagAttributes {
  /** DER X.509 certificate. */
  der: Uint8Array;
}

/** What a PKCS#12 file holds (the bags cardwright uses; CRL and secret bags are skipped). */
export interface Pkcs12Contents {
  keys: Pkcs12Key[];
  certificates: Pkcs12Certificate[];
}

function attributes(a: Pkcs12BagAttributes): Attribute[] {
  const out: Attribute[] = [];
  if (a.friendlyName !== undefined) {
    out.push(
      new Attribute({ type: Pkcs12Oid.friendlyName, values: [new asn1js.BmpString({ value: a.friendlyName })] }),
    );
  }
  if (a.localKeyId !== undefined) {
    out.push(
      new Attribute({ type: Pkcs12Oid.localKeyId, values: [new asn1js.OctetString({ valueHex: a.localKeyId })] }),
    );
  }
  return out;
}

function readAttributes(bag: SafeBag): Pkcs12BagAttributes {
  const out: Pkcs12BagAttributes = {};
  for (const attr of bag.bagAttributes ?? []) {
    const value: unknown = attr.values[0];
    if (attr.type === Pkcs12Oid.friendlyName && value instanceof asn1js.BmpString) {
      out.friendlyName = value.valueBlock.value;
    } else if (attr.type === Pkcs12Oid.localKeyId && value instanceof asn1js.OctetString) {
      out.localKeyId = new Uint8Array(value.getValue());
    }
  }
  return out;
}

function der(schema: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(schema.toBER(false));
}

function macKey(hash: Pkcs12MacHash, password: string, salt: Uint8Array, iterations: number): Buffer {
  return pkcs12Kdf(hash, password, salt, iterations, PKCS12_KDF_MAC_ID, PKCS12_MAC_HASHES[hash].outputBytes);
}

/** How {@link writePkcs12} protects the file. */
export interface Pkcs12WriteOptions {
  /** PBKDF2 iterations of the bags and PKCS#12 KDF iterations of the MAC key. */
  iterations: number;
}

/**
 * Encode `contents` as a PKCS#12 PFX: certificates in a PBES2-encrypted safe, keys as PBES2
 * shrouded key bags in a data safe, then an HMAC-SHA-256 MAC over the authenticated safe.
 */
export async function writePkcs12(
  contents: Pkcs12Contents,
  password: string,
  options: Pkcs12WriteOptions,
): Promise<Uint8Array> {
  const safes: ContentInfo[] = [];
  if (contents.certificates.length > 0) {
    const certBags = new SafeContents({
      safeBags: contents.certificates.map(
        (c) =>
          new SafeBag({
            bagId: Pkcs12Oid.certBag,
            bagValue: new CertBag({
              certId: Pkcs12Oid.x509Certificate,
              certValue: new asn1js.OctetString({ valueHex: c.der }),
            }),
            bagAttributes: attributes(c),
          }),
      ),
    });
    const encrypted = await pbes2Encrypt(der(certBags.toSchema()), password, options.iterations);
    const data = new EncryptedData({
      version: 0,
      encryptedContentInfo: new EncryptedContentInfo({
        contentType: Pkcs12Oid.data,
        contentEncryptionAlgorithm: encrypted.algorithm,
        encryptedContent: new asn1js.OctetString({ valueHex: encrypted.ciphertext }),
        disableSplit: true,
      }),
    });
    safes.push(new ContentInfo({ contentType: Pkcs12Oid.encryptedData, content: data.toSchema() }));
  }
  if (contents.keys.length > 0) {
    const keyBags: SafeBag[] = [];
    for (const k of contents.keys) {
      const encrypted = await pbes2Encrypt(k.pkcs8, password, options.iterations);
      keyBags.push(
        new SafeBag({
          bagId: Pkcs12Oid.pkcs8ShroudedKeyBag,
          bagValue: new PKCS8ShroudedKeyBag({
            encryptionAlgorithm: encrypted.algorithm,
            encryptedData: new asn1js.OctetString({ valueHex: encrypted.ciphertext }),
          }),
          bagAttributes: attributes(k),
        }),
      );
    }
    const plain = new SafeContents({ safeBags: keyBags });
    safes.push(
      new ContentInfo({
        contentType: Pkcs12Oid.data,
        content: new asn1js.OctetString({ valueHex: der(plain.toSchema()) }),
      }),
    );
  }
  const authSafe = der(new AuthenticatedSafe({ safeContents: safes }).toSchema());
  const salt = randomBytes(MAC_SALT_BYTES);
  const key = macKey("sha256", password, salt, options.iterations);
  const mac = createHmac("sha256", key).update(authSafe).digest();
  key.fill(0);
  const pfx = new PFX({
    version: 3,
    authSafe: new ContentInfo({ contentType: Pkcs12Oid.data, content: new asn1js.OctetString({ valueHex: authSafe }) }),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: new AlgorithmIdentifier({ algorithmId: SHA256_OID, algorithmParams: new asn1js.Null() }),
        digest: new asn1js.OctetString({ valueHex: mac }),
      }),
      macSalt: new asn1js.OctetString({ valueHex: salt }),
      iterations: options.iterations,
    }),
  });
  return der(pfx.toSchema());
}

function octets(value: unknown, file: string, what: string): Uint8Array<ArrayBuffer> {
  if (!(value instanceof asn1js.OctetString)) throw corrupt(file, `has no ${what}`);
  return new Uint8Array(value.getValue());
}

function verifyMac(pfx: PFX, authSafe: Uint8Array, password: string, file: string): void {
  const macData = pfx.macData;
  if (macData === undefined)
    throw corrupt(file, "has no integrity MAC (RFC 7292 §4), so its password cannot be checked");
  const hash = MAC_HASH_OID[macData.mac.digestAlgorithm.algorithmId];
  if (hash === undefined)
    throw corrupt(file, `uses an unsupported MAC digest ${macData.mac.digestAlgorithm.algorithmId}`);
  const key = macKey(hash, password, octets(macData.macSalt, file, "MAC salt"), macData.iterations ?? 1);
  const expected = createHmac(hash, key).update(authSafe).digest();
  key.fill(0);
  const actual = octets(macData.mac.digest, file, "MAC value");
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw wrongPassword(file);
}

async function readBags(bags: readonly SafeBag[], password: string, file: string, out: Pkcs12Contents): Promise<void> {
  for (const bag of bags) {
    const attrs = readAttributes(bag);
    if (bag.bagId === Pkcs12Oid.pkcs8ShroudedKeyBag && bag.bagValue instanceof PKCS8ShroudedKeyBag) {
      const pkcs8 = await pbes2Decrypt(
        bag.bagValue.encryptionAlgorithm,
        octets(bag.bagValue.encryptedData, file, "encrypted key"),
        password,
        file,
      );
      out.keys.push({ ...attrs, pkcs8 });
    } else if (bag.bagId === Pkcs12Oid.keyBag) {
      // An unencrypted key bag (`openssl pkcs12 -export -keypbe NONE`).
      const value = bag.bagValue as unknown as { toSchema(): { toBER(sizeOnly?: boolean): ArrayBuffer } };
      out.keys.push({ ...attrs, pkcs8: der(value.toSchema()) });
    } else if (bag.bagId === Pkcs12Oid.certBag && bag.bagValue instanceof CertBag) {
      if (bag.bagValue.certId !== Pkcs12Oid.x509Certificate) continue;
      out.certificates.push({ ...attrs, der: octets(bag.bagValue.certValue, file, "certificate value") });
    }
  }
}

/**
 * Decode a PKCS#12 PFX: verify the MAC with `password` first, then decrypt the safes and bags.
 * `file` names the source in errors.
 * @throws CardwrightError `SOFTSTORE_WRONG_PASSWORD` when the MAC does not verify;
 * `SOFTSTORE_CORRUPT` when the file is not a PKCS#12 PFX cardwright can read (public-key
 * integrity mode, no MAC, legacy PKCS#12 PBE algorithms, damaged ASN.1).
 */
export async function readPkcs12(bytes: Uint8Array, password: string, file: string): Promise<Pkcs12Contents> {
  let pfx: PFX;
  let authSafeBytes: Uint8Array<ArrayBuffer>;
  let authSafe: AuthenticatedSafe;
  try {
    pfx = PFX.fromBER(new Uint8Array(bytes));
    if (pfx.authSafe.contentType !== Pkcs12Oid.data) {
      throw new Error(`integrity mode ${pfx.authSafe.contentType} is not password integrity`);
    }
    authSafeBytes = octets(pfx.authSafe.content, file, "authenticated safe");
    authSafe = AuthenticatedSafe.fromBER(authSafeBytes);
  } catch (err) {
    throw corrupt(file, "is not a readable PKCS#12 file", err);
  }
  verifyMac(pfx, authSafeBytes, password, file);
  const out: Pkcs12Contents = { keys: [], certificates: [] };
  for (const safe of authSafe.safeContents) {
    let contents: SafeContents;
    if (safe.contentType === Pkcs12Oid.data) {
      try {
        contents = SafeContents.fromBER(octets(safe.content, file, "safe contents"));
      } catch (err) {
        throw corrupt(file, "has unreadable safe contents", err);
      }
    } else if (safe.contentType === Pkcs12Oid.encryptedData) {
      let info: EncryptedContentInfo;
      try {
        info = new EncryptedData({ schema: safe.content }).encryptedContentInfo;
      } catch (err) {
        throw corrupt(file, "has an unreadable encrypted safe", err);
      }
      const plain = await pbes2Decrypt(
        info.contentEncryptionAlgorithm,
        new Uint8Array(info.getEncryptedContent()),
        password,
        file,
      );
      try {
        contents = SafeContents.fromBER(new Uint8Array(plain));
      } catch (err) {
        throw corrupt(file, "has unreadable encrypted safe contents", err);
      }
    } else {
      throw corrupt(file, `has a safe of unsupported content type ${safe.contentType}`);
    }
    await readBags(contents.safeBags, password, file, out);
  }
  return out;
}
