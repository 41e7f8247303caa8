/**
 * PBES2 (RFC 8018 §6.2) with PBKDF2 (§5.2) and AES-CBC (RFC 3565 OIDs): the scheme OpenSSL 3
 * uses by default for the key and certificate bags of a PKCS#12 file. The password goes to
 * PBKDF2 as its UTF-8 bytes, as OpenSSL passes it (RFC 9579 §2 notes the same).
 */
import { createCipheriv, createDecipheriv, pbkdf2, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import * as asn1js from "asn1js";
import { AlgorithmIdentifier, PBES2Params, PBKDF2Params } from "pkijs";
import { corrupt } from "./store-errors.js";

const pbkdf2Async = promisify(pbkdf2);

/** Object identifiers of RFC 8018 Appendix A and C, and RFC 3565 §4.1 (AES-CBC). */
export const Pbes2Oid = {
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSha1: "1.2.840.113549.2.7",
  hmacWithSha224: "1.2.840.113549.2.8",
  hmacWithSha256: "1.2.840.113549.2.9",
  hmacWithSha384: "1.2.840.113549.2.10",
  hmacWithSha512: "1.2.840.113549.2.11",
  aes128Cbc: "2.16.840.1.101.3.4.1.2",
  aes192Cbc: "2.16.840.1.101.3.4.1.22",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
} as const;

const PRF_HASH: Readonly<Record<string, string>> = {
  [Pbes2Oid.hmacWithSha1]: "sha1",
  [Pbes2Oid.hmacWithSha224]: "sha224",
  [Pbes2Oid.hmacWithSha256]: "sha256",
  [Pbes2Oid.hmacWithSha384]: "sha384",
  [Pbes2Oid.hmacWithSha512]: "sha512",
};

const CIPHER: Readonly<Record<string, { name: string; keyBytes: number }>> = {
  [Pbes2Oid.aes128Cbc]: { name: "aes-128-cbc", keyBytes: 16 },
  [Pbes2Oid.aes192Cbc]: { name: "aes-192-cbc", keyBytes: 24 },
  [Pbes2Oid.aes256Cbc]: { name: "aes-256-cbc", keyBytes: 32 },
};

/** Salt length OpenSSL 3 uses for PBES2 (`PKCS5_DEFAULT_PBE2_SALT_LEN`). */
const SALT_BYTES = 16;

/** Ciphertext and the `AlgorithmIdentifier` (PBES2 with its parameters) that decrypts it. */
export interface Pbes2Encrypted {
  algorithm: AlgorithmIdentifier;
  ciphertext: Uint8Array;
}

/**
 * Encrypt `plaintext` with PBES2: PBKDF2 with HMAC-SHA-256, a random 16-byte salt and
 * `iterations`, then AES-256-CBC with a random IV (RFC 8018 §6.2.1).
 */
export async function pbes2Encrypt(
  plaintext: Uint8Array,
  password: string,
  iterations: number,
): Promise<Pbes2Encrypted> {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(16);
  const key = await pbkdf2Async(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);
  const kdf = new PBKDF2Params({
    salt: new asn1js.OctetString({ valueHex: salt }),
    iterationCount: iterations,
    prf: new AlgorithmIdentifier({ algorithmId: Pbes2Oid.hmacWithSha256, algorithmParams: new asn1js.Null() }),
  });
  const params = new PBES2Params({
    keyDerivationFunc: new AlgorithmIdentifier({ algorithmId: Pbes2Oid.pbkdf2, algorithmParams: kdf.toSchema() }),
    encryptionScheme: new AlgorithmIdentifier({
      algorithmId: Pbes2Oid.aes256Cbc,
      algorithmParams: new asn1js.OctetString({ valueHex: iv }),
    }),
  });
  return {
    algorithm: new AlgorithmIdentifier({ algorithmId: Pbes2Oid.pbes2, algorithmParams: params.toSchema() }),
    ciphertext: new Uint8Array(ciphertext),
  };
}

/**
 * Decrypt PBES2 content (RFC 8018 §6.2.2): PBKDF2 with HMAC-SHA-1/224/256/384/512, AES-CBC.
 * Call only after the PFX MAC has verified the password, so a failure here means a damaged file.
 * @throws CardwrightError `SOFTSTORE_CORRUPT` for another scheme, bad parameters or bad padding.
 */
export async function pbes2Decrypt(
  algorithm: AlgorithmIdentifier,
  ciphertext: Uint8Array,
  password: string,
  file: string,
): Promise<Uint8Array> {
  if (algorithm.algorithmId !== Pbes2Oid.pbes2) {
    throw corrupt(file, `is encrypted with ${algorithm.algorithmId}, not PBES2; re-export it with OpenSSL 3 defaults`);
  }
  let kdf: PBKDF2Params;
  let params: PBES2Params;
  try {
    params = new PBES2Params({ schema: algorithm.algorithmParams });
    if (params.keyDerivationFunc.algorithmId !== Pbes2Oid.pbkdf2) throw new Error("key derivation is not PBKDF2");
    kdf = new PBKDF2Params({ schema: params.keyDerivationFunc.algorithmParams });
  } catch (err) {
    throw corrupt(file, "has unreadable PBES2 parameters", err);
  }
  const hash = PRF_HASH[kdf.prf?.algorithmId ?? Pbes2Oid.hmacWithSha1];
  const cipher = CIPHER[params.encryptionScheme.algorithmId];
  const ivBlock: unknown = params.encryptionScheme.algorithmParams;
  if (hash === undefined || cipher === undefined || !(ivBlock instanceof asn1js.OctetString)) {
    throw corrupt(
      file,
      `uses an unsupported PBES2 variant (prf ${kdf.prf?.algorithmId ?? "hmacWithSHA1"}, cipher ${params.encryptionScheme.algorithmId})`,
    );
  }
  const salt = kdf.salt instanceof asn1js.OctetString ? kdf.salt.valueBlock.valueHexView : undefined;
  if (salt === undefined) throw corrupt(file, "uses a PBKDF2 salt choice other than an octet string");
  const key = await pbkdf2Async(Buffer.from(password, "utf8"), salt, kdf.iterationCount, cipher.keyBytes, hash);
  try {
    const decipher = createDecipheriv(cipher.name, key, ivBlock.valueBlock.valueHexView);
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  } catch (err) {
    throw corrupt(file, "does not decrypt although its MAC verified", err);
  } finally {
    key.fill(0);
  }
}
