import { isCardwrightError } from "@cardwright/core";
import * as asn1js from "asn1js";
import { AlgorithmIdentifier, PBES2Params, PBKDF2Params } from "pkijs";
import { describe, expect, it } from "vitest";
import { Pbes2Oid, pbes2Decrypt, pbes2Encrypt } from "./pbes2.js";

const plaintext = new TextEncoder().encode("a PKCS#8 key would be here");

describe("PBES2 (RFC 8018 §6.2)", () => {
  it("writes PBKDF2-HMAC-SHA-256 with a 16-byte salt and AES-256-CBC, and decrypts it", async () => {
    const { algorithm, ciphertext } = await pbes2Encrypt(plaintext, "pässword", 2048);
    expect(algorithm.algorithmId).toBe(Pbes2Oid.pbes2);
    const params = new PBES2Params({ schema: algorithm.algorithmParams });
    expect(params.encryptionScheme.algorithmId).toBe(Pbes2Oid.aes256Cbc);
    const kdf = new PBKDF2Params({ schema: params.keyDerivationFunc.algorithmParams });
    expect(kdf.iterationCount).toBe(2048);
    expect(kdf.prf?.algorithmId).toBe(Pbes2Oid.hmacWithSha256);
    expect((kdf.salt as asn1js.OctetString).valueBlock.valueHexView.length).toBe(16);
    expect(ciphertext.length % 16).toBe(0);
    expect(await pbes2Decrypt(algorithm, ciphertext, "pässword", "f")).toEqual(plaintext);
  });

  it("uses a fresh salt and IV each time", async () => {
    const a = await pbes2Encrypt(plaintext, "pw", 2048);
    const b = await pbes2Encrypt(plaintext, "pw", 2048);
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
  });

  it("reports another scheme and undecryptable content as corrupt", async () => {
    const legacy = new AlgorithmIdentifier({
      algorithmId: "1.2.840.113549.1.12.1.3",
      algorithmParams: new asn1js.Null(),
    });
    await expect(pbes2Decrypt(legacy, plaintext, "pw", "f")).rejects.toSatisfy((e) =>
      isCardwrightError(e, "SOFTSTORE_CORRUPT"),
    );
    const { algorithm, ciphertext } = await pbes2Encrypt(plaintext, "pw", 2048);
    // Not a whole number of AES blocks: deterministically undecryptable.
    await expect(pbes2Decrypt(algorithm, ciphertext.subarray(1), "pw", "f")).rejects.toSatisfy((e) =>
      isCardwrightError(e, "SOFTSTORE_CORRUPT"),
    );
  });
});
