import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isCardwrightError } from "../errors.js";
import { AesGcmSecretVault } from "./aes-gcm-vault.js";

const kek = () => new Uint8Array(randomBytes(32));
const secret = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);

async function expectUnwrapFailure(p: Promise<unknown>) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isCardwrightError(err, "VAULT_UNWRAP_FAILED")).toBe(true);
  expect(JSON.stringify(err)).not.toContain(Buffer.from(secret).toString("hex"));
}

describe("AesGcmSecretVault", () => {
  it("round-trips with the same context, and each wrap uses a fresh IV", async () => {
    const vault = AesGcmSecretVault.fromKey("k1", kek());
    const a = await vault.wrap(secret, "card:c1:management-key");
    const b = await vault.wrap(secret, "card:c1:management-key");
    expect(a.alg).toBe("A256GCM");
    expect(Buffer.from(a.iv, "base64")).toHaveLength(12);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toContain(Buffer.from(secret).toString("base64"));
    expect(await vault.unwrap(a, "card:c1:management-key")).toEqual(secret);
  });

  it("refuses a wrong context, a wrong KEK and a tampered ciphertext", async () => {
    const vault = AesGcmSecretVault.fromKey("k1", kek());
    const w = await vault.wrap(secret, "card:c1:puk");
    await expectUnwrapFailure(vault.unwrap(w, "card:c2:puk"));
    await expectUnwrapFailure(AesGcmSecretVault.fromKey("k1", kek()).unwrap(w, "card:c1:puk"));
    const body = Buffer.from(w.ciphertext, "base64");
    body[0] = (body[0] ?? 0) ^ 1;
    await expectUnwrapFailure(vault.unwrap({ ...w, ciphertext: body.toString("base64") }, "card:c1:puk"));
    await expectUnwrapFailure(vault.unwrap({ ...w, kekId: "unknown" }, "card:c1:puk"));
  });

  it("rotates: wraps with the current KEK and unwraps older ones by id", async () => {
    const k1 = kek();
    const old = AesGcmSecretVault.fromKey("k1", k1);
    const w1 = await old.wrap(secret, "ctx");
    const rotated = new AesGcmSecretVault({ keys: { k1, k2: kek() }, currentKekId: "k2" });
    expect(await rotated.unwrap(w1, "ctx")).toEqual(secret);
    const w2 = await rotated.wrap(secret, "ctx");
    expect(w2.kekId).toBe("k2");
    await expectUnwrapFailure(old.unwrap(w2, "ctx"));
  });

  it("refuses a KEK that is not 32 bytes", () => {
    expect(() => AesGcmSecretVault.fromKey("k", new Uint8Array(16))).toThrow(/32 bytes/);
    expect(() => new AesGcmSecretVault({ keys: { a: kek() }, currentKekId: "b" })).toThrow(/not among/);
  });
});
