import { describe, expect, it } from "vitest";
import { bmpPassword, pkcs12Kdf } from "./pkcs12-kdf.js";

// Expected values computed by OpenSSL 3.0 (`openssl kdf -keylen N -kdfopt digest:D
// -kdfopt hexpass:<BMPString> -kdfopt hexsalt:S -kdfopt iter:I -kdfopt id:ID PKCS12KDF`);
// the first is also BouncyCastle's PKCS12 test vector.
describe("pkcs12Kdf (RFC 7292 Appendix B.2)", () => {
  it("matches OpenSSL for SHA-1, one iteration, encryption key id", () => {
    const key = pkcs12Kdf("sha1", "smeg", Buffer.from("0A58CF64530D823F", "hex"), 1, 1, 24);
    expect(key.toString("hex")).toBe("8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3");
  });

  it("matches OpenSSL for SHA-256, 1000 iterations, MAC id, two output blocks", () => {
    const key = pkcs12Kdf("sha256", "queeg", Buffer.from("3D83C0E4546AC140", "hex"), 1000, 3, 40);
    expect(key.toString("hex")).toBe(
      "0695f1c812aea33e3e2916f7b7a4bad27ff8b88a6ae8d8c617cb1eed19c91f88a8bb6c78f4fd667d",
    );
  });

  it("formats the password as a NUL-terminated big-endian BMPString (Appendix B.1)", () => {
    expect(bmpPassword("ab").toString("hex")).toBe("006100620000");
    expect(bmpPassword("é").toString("hex")).toBe("00e90000");
  });
});
