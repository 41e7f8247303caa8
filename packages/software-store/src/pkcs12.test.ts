import { generateKeyPairSync } from "node:crypto";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import { isCardwrightError } from "@cardwright/core";
import { beforeAll, describe, expect, it } from "vitest";
import { readPkcs12, writePkcs12 } from "./pkcs12.js";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pkcs8 = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
let certificate: Uint8Array;
beforeAll(async () => {
  const ca = await EmbeddedCa.create({ id: "t", subject: "CN=Bag Test", keyAlgorithm: "ECCP256", validityDays: 1 });
  certificate = (await ca.chain())[0] ?? new Uint8Array();
});
const options = { iterations: 2048 };

describe("writePkcs12 / readPkcs12 (RFC 7292)", () => {
  it("round-trips a key and a certificate with their attributes", async () => {
    const id = new Uint8Array([1, 2, 3, 4]);
    const file = await writePkcs12(
      {
        keys: [{ pkcs8, friendlyName: "slot 9a", localKeyId: id }],
        certificates: [{ der: certificate, friendlyName: "slot 9a", localKeyId: id }],
      },
      "pw",
      options,
    );
    const back = await readPkcs12(file, "pw", "mem.p12");
    expect(back.keys).toHaveLength(1);
    expect(Buffer.from(back.keys[0]?.pkcs8 ?? []).equals(Buffer.from(pkcs8))).toBe(true);
    expect(back.keys[0]?.friendlyName).toBe("slot 9a");
    expect(back.keys[0]?.localKeyId).toEqual(id);
    expect(back.certificates.map((c) => Buffer.from(c.der).toString("hex"))).toEqual([
      Buffer.from(certificate).toString("hex"),
    ]);
    expect(back.certificates[0]?.localKeyId).toEqual(id);
  });

  it("holds a key without any certificate bag", async () => {
    const file = await writePkcs12({ keys: [{ pkcs8 }], certificates: [] }, "pw", options);
    const back = await readPkcs12(file, "pw", "mem.p12");
    expect(back.certificates).toEqual([]);
    expect(back.keys).toHaveLength(1);
  });

  it("never contains the key in clear", async () => {
    const file = Buffer.from(await writePkcs12({ keys: [{ pkcs8 }], certificates: [] }, "pw", options));
    expect(file.includes(Buffer.from(pkcs8).subarray(30, 90))).toBe(false);
  });

  it("refuses a wrong password by the MAC, before decrypting", async () => {
    const file = await writePkcs12({ keys: [{ pkcs8 }], certificates: [] }, "pw", options);
    await expect(readPkcs12(file, "PW", "mem.p12")).rejects.toSatisfy((e) =>
      isCardwrightError(e, "SOFTSTORE_WRONG_PASSWORD"),
    );
  });

  it("refuses garbage and truncation as corrupt", async () => {
    const file = await writePkcs12({ keys: [{ pkcs8 }], certificates: [] }, "pw", options);
    await expect(readPkcs12(file.subarray(0, 100), "pw", "mem.p12")).rejects.toSatisfy((e) =>
      isCardwrightError(e, "SOFTSTORE_CORRUPT"),
    );
    await expect(readPkcs12(new Uint8Array([1, 2, 3]), "pw", "mem.p12")).rejects.toSatisfy((e) =>
      isCardwrightError(e, "SOFTSTORE_CORRUPT"),
    );
  });
});
