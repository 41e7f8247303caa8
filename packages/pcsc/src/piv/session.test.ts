import {
  constants,
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  privateEncrypt,
  randomBytes,
  verify,
} from "node:crypto";
import { gzipSync } from "node:zlib";
import type { ManagementKeyAlgorithm } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import type { ApduTraceEntry } from "../apdu/processors.js";
import { concat, decodeMap, tlv } from "../tlv.js";
import type { ApduTransport } from "../transport.js";
import { PivSession } from "./session.js";

/**
 * A scripted peer for the session's unit tests: it answers the few instructions each test needs,
 * computing cryptographic answers with node:crypto, and records every command it saw. It is not
 * a PIV card — end-to-end tests against the virtual card live in packages/simulator/test.
 */
class ScriptedCard implements ApduTransport {
  readonly commands: Uint8Array[] = [];
  version = Uint8Array.of(5, 7, 1);
  managementAlgorithm: ManagementKeyAlgorithm = "AES192";
  managementKey = Uint8Array.from({ length: 24 }, (_, i) => (i % 8) + 1);
  /** Set to make the card answer the host's challenge wrongly (an impostor card). */
  lieAboutChallenge = false;
  pinTries = 3;
  objects = new Map<string, Uint8Array>();
  handlers = new Map<number, (apdu: { p1: number; p2: number; data: Uint8Array }) => Uint8Array>();
  private witness: Uint8Array | undefined;
  private chained: Uint8Array[] = [];
  private pending = new Uint8Array(0);

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    this.commands.push(Uint8Array.from(command));
    const [cla, ins, p1, p2] = command as unknown as number[];
    const part = command.length > 5 ? command.subarray(5, 5 + (command[4] as number)) : new Uint8Array(0);
    if (((cla as number) & 0x10) !== 0) {
      this.chained.push(Uint8Array.from(part));
      return sw(0x9000);
    }
    if (ins === 0xc0) return this.respond(ok(this.pending));
    const data = concat(...this.chained, part);
    this.chained = [];
    return this.respond(this.dispatch(ins as number, p1 as number, p2 as number, data));
  }

  /** Short APDUs: more than 256 response bytes go out through 61xx and GET RESPONSE. */
  private respond(answer: Uint8Array): Uint8Array {
    const body = answer.subarray(0, answer.length - 2);
    if (body.length <= 256) return answer;
    this.pending = Uint8Array.from(body.subarray(256));
    const rest = Math.min(this.pending.length, 256);
    return concat(body.subarray(0, 256), sw(0x6100 | (rest & 0xff)));
  }

  private dispatch(ins: number, p1: number, p2: number, data: Uint8Array): Uint8Array {
    const apdu = { p1, p2, data };
    const custom = this.handlers.get(ins);
    if (custom) return custom(apdu);
    switch (ins) {
      case 0xa4:
        return ok(tlv(0x61, tlv(0x4f, Uint8Array.of(0, 0, 0x10, 0, 1, 0))));
      case 0xfd:
        return ok(this.version);
      case 0xf7:
        if (apdu.p2 === 0x9b)
          return ok(concat(tlv(1, Uint8Array.of(ALG[this.managementAlgorithm])), tlv(5, Uint8Array.of(1))));
        return sw(0x6a88);
      case 0x87:
        return this.generalAuthenticate(apdu);
      case 0x20:
        return this.verify(apdu.data);
      case 0xcb: {
        const object = this.objects.get(Buffer.from(decodeMap(data).get(0x5c) ?? []).toString("hex"));
        return object === undefined ? sw(0x6a82) : ok(tlv(0x53, object));
      }
      default:
        return sw(0x6d00);
    }
  }

  private generalAuthenticate(apdu: { p1: number; p2: number; data: Uint8Array }): Uint8Array {
    const template = decodeMap(decodeMap(apdu.data).get(0x7c) ?? new Uint8Array(0));
    const cipher = CIPHER[this.managementAlgorithm];
    if (apdu.p1 !== ALG[this.managementAlgorithm]) return sw(0x6a80);
    const witness = template.get(0x80);
    if (witness !== undefined && witness.length === 0) {
      this.witness = Uint8Array.from(randomBytes(cipher.block));
      return ok(tlv(0x7c, tlv(0x80, ecb(true, cipher.name, this.managementKey, this.witness))));
    }
    if (witness === undefined || this.witness === undefined || !Buffer.from(witness).equals(this.witness)) {
      return sw(0x6982);
    }
    const challenge = template.get(0x81) ?? new Uint8Array(0);
    const answer = ecb(true, cipher.name, this.managementKey, challenge);
    if (this.lieAboutChallenge) answer[0] = (answer[0] as number) ^ 1;
    return ok(tlv(0x7c, tlv(0x82, answer)));
  }

  private verify(data: Uint8Array): Uint8Array {
    if (this.pinTries === 0) return sw(0x6983);
    if (data.length === 0) return sw(0x63c0 | this.pinTries);
    if (Buffer.from(data).equals(Buffer.from("313233343536FFFF", "hex"))) {
      this.pinTries = 3;
      return sw(0x9000);
    }
    this.pinTries--;
    return sw(0x63c0 | this.pinTries);
  }

  async getAtr(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }
  async reset(): Promise<void> {}
}

const ALG: Record<ManagementKeyAlgorithm, number> = { TDES: 0x03, AES128: 0x08, AES192: 0x0a, AES256: 0x0c };
const CIPHER: Record<ManagementKeyAlgorithm, { name: string; block: number }> = {
  TDES: { name: "des-ede3-ecb", block: 8 },
  AES128: { name: "aes-128-ecb", block: 16 },
  AES192: { name: "aes-192-ecb", block: 16 },
  AES256: { name: "aes-256-ecb", block: 16 },
};

function ecb(encrypt: boolean, name: string, key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = encrypt ? createCipheriv(name, key, null) : createDecipheriv(name, key, null);
  c.setAutoPadding(false);
  return Uint8Array.from(Buffer.concat([c.update(block), c.final()]));
}
const sw = (s: number) => Uint8Array.of(s >> 8, s & 0xff);
const ok = (data: Uint8Array) => concat(data, sw(0x9000));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

describe("PivSession.open", () => {
  it("selects the PIV AID and reads the firmware version", async () => {
    const card = new ScriptedCard();
    const session = await PivSession.open(card);
    expect(card.commands.map(hex)).toEqual(["00A4040009A00000030800001000010000".replace("09", "0B"), "00FD000000"]);
    expect(session.firmware).toBe("5.7.1");
    expect(session.isYubiKey).toBe(true);
  });

  it("treats a card without GET VERSION as a plain PIV card", async () => {
    const card = new ScriptedCard();
    card.handlers.set(0xfd, () => sw(0x6d00));
    const session = await PivSession.open(card);
    expect(session.firmware).toBeUndefined();
    await expect(session.getSerial()).rejects.toMatchObject({ code: "PIV_UNSUPPORTED" });
  });
});

describe("management key mutual authentication (SP 800-73-4 Part 2 Appendix A.1)", () => {
  for (const algorithm of ["TDES", "AES128", "AES192", "AES256"] as const) {
    it(`authenticates with ${algorithm}`, async () => {
      const card = new ScriptedCard();
      card.managementAlgorithm = algorithm;
      card.managementKey = Uint8Array.from(randomBytes(algorithm === "AES128" ? 16 : algorithm === "AES256" ? 32 : 24));
      const session = await PivSession.open(card);
      await session.authenticateManagementKey(algorithm, card.managementKey);
      const [first, second] = card.commands.slice(2).map(hex);
      expect(first).toBe(`0087${hex(Uint8Array.of(ALG[algorithm]))}9B047C02800000`);
      expect(second?.startsWith(`0087${hex(Uint8Array.of(ALG[algorithm]))}9B`)).toBe(true);
    });
  }

  it("keeps witness, challenge and response out of the APDU trace", async () => {
    const card = new ScriptedCard();
    const entries: ApduTraceEntry[] = [];
    const session = await PivSession.open(card, { trace: (e) => entries.push(e) });
    await session.authenticateManagementKey("AES192", card.managementKey);
    await session.setManagementKey("AES192", new Uint8Array(24).fill(0x5a)).catch(() => undefined);
    const sensitive = entries.filter(
      (e) => e.instruction === "GENERAL AUTHENTICATE" || e.instruction === "SET MANAGEMENT KEY",
    );
    expect(sensitive).toHaveLength(3);
    expect(sensitive.every((e) => e.redacted && !/7C|5A5A/.test(e.command.slice(10)))).toBe(true);
    expect(sensitive.every((e) => e.response === "" || e.response.startsWith("<redacted"))).toBe(true);
  });

  it("reports a wrong key as PIV_AUTH_FAILED", async () => {
    const card = new ScriptedCard();
    const session = await PivSession.open(card);
    await expect(session.authenticateManagementKey("AES192", new Uint8Array(24).fill(9))).rejects.toMatchObject({
      code: "PIV_AUTH_FAILED",
      details: { sw: "6982", instruction: "GENERAL AUTHENTICATE" },
    });
  });

  it("reports the wrong algorithm as PIV_AUTH_FAILED", async () => {
    const card = new ScriptedCard();
    const session = await PivSession.open(card);
    await expect(session.authenticateManagementKey("TDES", card.managementKey)).rejects.toMatchObject({
      code: "PIV_AUTH_FAILED",
    });
  });

  it("refuses a card that cannot prove it knows the key", async () => {
    const card = new ScriptedCard();
    card.lieAboutChallenge = true;
    const session = await PivSession.open(card);
    await expect(session.authenticateManagementKey("AES192", card.managementKey)).rejects.toMatchObject({
      code: "PIV_AUTH_FAILED",
      message: expect.stringMatching(/did not prove/),
    });
  });

  it("refuses AES before firmware 5.4 without sending anything", async () => {
    const card = new ScriptedCard();
    card.version = Uint8Array.of(5, 3, 0);
    const session = await PivSession.open(card);
    const before = card.commands.length;
    await expect(session.authenticateManagementKey("AES128", new Uint8Array(16))).rejects.toMatchObject({
      code: "PIV_UNSUPPORTED",
    });
    expect(card.commands.length).toBe(before);
  });

  it("refuses a key of the wrong length before I/O", async () => {
    const card = new ScriptedCard();
    const session = await PivSession.open(card);
    await expect(session.authenticateManagementKey("AES256", new Uint8Array(24))).rejects.toMatchObject({
      code: "APDU_INVALID_COMMAND",
    });
    expect(card.commands.length).toBe(2);
  });

  it("reads the management-key algorithm from metadata, and assumes TDES only without GET METADATA", async () => {
    const card = new ScriptedCard();
    expect(await (await PivSession.open(card)).getManagementKeyAlgorithm()).toBe("AES192");
    const old = new ScriptedCard();
    old.version = Uint8Array.of(5, 2, 7);
    const session = await PivSession.open(old);
    expect(await session.getManagementKeyAlgorithm()).toBe("TDES");
    expect(old.commands.some((c) => c[1] === 0xf7)).toBe(false);
  });
});

describe("PIN", () => {
  it("pads the PIN with FF and reports tries left", async () => {
    const card = new ScriptedCard();
    const session = await PivSession.open(card);
    await expect(session.verifyPin("654321")).rejects.toMatchObject({
      code: "PIV_WRONG_PIN",
      details: { retriesLeft: 2, sw: "63C2" },
      message: "wrong PIN, 2 tries left before the PIN is blocked; check the value before trying again",
    });
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe("0020008008363534333231FFFF");
    expect(await session.pinRetries()).toBe(2);
    await session.verifyPin("123456");
    expect(card.pinTries).toBe(3);
  });

  it("blocks after the last try and refuses short PINs before I/O", async () => {
    const card = new ScriptedCard();
    card.pinTries = 1;
    const session = await PivSession.open(card);
    await expect(session.verifyPin("000000")).rejects.toMatchObject({ code: "PIV_PIN_BLOCKED" });
    await expect(session.verifyPin("000000")).rejects.toMatchObject({
      code: "PIV_PIN_BLOCKED",
      details: { sw: "6983" },
    });
    expect(await session.pinRetries()).toBe(0);
    const sent = card.commands.length;
    await expect(session.verifyPin("123")).rejects.toMatchObject({ code: "APDU_INVALID_COMMAND" });
    await expect(session.verifyPin("123456789")).rejects.toMatchObject({ code: "APDU_INVALID_COMMAND" });
    expect(card.commands.length).toBe(sent);
  });

  it("tryReferenceData sends the APDUs of verifyPin / changePuk and answers tries left instead of throwing", async () => {
    const card = new ScriptedCard();
    let pukTries = 2;
    card.handlers.set(0x24, (apdu) => {
      if (apdu.p2 !== 0x81) return sw(0x6a86);
      if (pukTries === 0) return sw(0x6983);
      pukTries--;
      return sw(0x63c0 | pukTries);
    });
    const session = await PivSession.open(card);
    expect(await session.tryReferenceData("PIN", "654321")).toBe(2);
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe("0020008008363534333231FFFF");
    await expect(session.verifyPin("654321")).rejects.toMatchObject({ code: "PIV_WRONG_PIN" });
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe("0020008008363534333231FFFF");
    expect(await session.tryReferenceData("PIN", "654321")).toBe(0);
    expect(await session.tryReferenceData("PIN", "654321")).toBe(0); // 6983
    card.pinTries = 3;
    expect(await session.tryReferenceData("PIN", "123456")).toBeUndefined();

    expect(await session.tryReferenceData("PUK", "abcdefgh")).toBe(1);
    const changePuk = `0024008110${"6162636465666768".repeat(2)}`;
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe(changePuk.toUpperCase());
    await expect(session.changePuk("abcdefgh", "abcdefgh")).rejects.toMatchObject({ code: "PIV_PIN_BLOCKED" });
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe(changePuk.toUpperCase());
    expect(await session.tryReferenceData("PUK", "abcdefgh")).toBe(0);
  });

  it("tryReferenceData throws the typed error of any other answer, and checks lengths before I/O", async () => {
    const card = new ScriptedCard();
    card.handlers.set(0x20, () => sw(0x6982));
    const session = await PivSession.open(card);
    await expect(session.tryReferenceData("PIN", "654321")).rejects.toMatchObject({
      code: "PIV_SECURITY_STATUS",
      details: { instruction: "VERIFY", sw: "6982" },
    });
    card.handlers.set(0x24, () => sw(0x6a80));
    await expect(session.tryReferenceData("PUK", "12345678")).rejects.toMatchObject({
      code: "PIV_WRONG_DATA",
      details: { instruction: "CHANGE REFERENCE DATA", sw: "6A80" },
    });
    const sent = card.commands.length;
    await expect(session.tryReferenceData("PUK", "12345")).rejects.toMatchObject({ code: "APDU_INVALID_COMMAND" });
    expect(card.commands.length).toBe(sent);
  });

  it("never puts the PIN in an error", async () => {
    const card = new ScriptedCard();
    const session = await PivSession.open(card);
    const err = await session.verifyPin("987654").catch((e) => e);
    expect(JSON.stringify(err)).not.toContain("987654");
    expect(err.message).not.toContain("987654");
  });
});

describe("certificates and data objects", () => {
  it("reads plain and gzip-compressed certificates, and null for an empty slot", async () => {
    const card = new ScriptedCard();
    const der = Uint8Array.from(randomBytes(900));
    card.objects.set("5fc105", concat(tlv(0x70, der), tlv(0x71, Uint8Array.of(0)), tlv(0xfe)));
    card.objects.set("5fc10a", concat(tlv(0x70, gzipSync(der)), tlv(0x71, Uint8Array.of(1)), tlv(0xfe)));
    const session = await PivSession.open(card);
    expect(await session.readCertificate(0x9a)).toEqual(der);
    expect(await session.readCertificate(0x9c)).toEqual(der);
    expect(await session.readCertificate(0x9d)).toBeNull();
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe("00CB3FFF055C035FC10B00");
  });

  it("writes a certificate object with chaining: 5C tag list, 53 wrapper, 70/71/FE", async () => {
    const card = new ScriptedCard();
    const bodies: Uint8Array[] = [];
    card.handlers.set(0xdb, ({ data }) => {
      bodies.push(Uint8Array.from(data));
      return sw(0x9000);
    });
    const session = await PivSession.open(card);
    const der = new Uint8Array(400).fill(0x30);
    await session.writeCertificate(0x95, der);
    const putData = card.commands.filter((c) => (c[1] as number) === 0xdb);
    expect(putData.map((c) => c[0])).toEqual([0x10, 0x00]);
    const sent = concat(...bodies);
    expect(hex(sent.subarray(0, 14))).toBe("5C035FC120538201997082019030");
    expect(hex(sent.subarray(sent.length - 5))).toBe("710100FE00");
  });

  it("reports a card without room as PIV_CARD_FULL with the object named", async () => {
    const card = new ScriptedCard();
    card.handlers.set(0xdb, () => sw(0x6a84));
    const session = await PivSession.open(card);
    await expect(session.writeCertificate(0x9a, new Uint8Array(10))).rejects.toMatchObject({
      code: "PIV_CARD_FULL",
      details: { sw: "6A84", objectTag: "5FC105", instruction: "PUT DATA" },
    });
  });
});

describe("keys", () => {
  it("generates an EC key and returns its SPKI; RSA uses the long time limit", async () => {
    const card = new ScriptedCard();
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = ec.publicKey.export({ format: "jwk" });
    const point = concat(
      Uint8Array.of(4),
      Buffer.from(jwk.x as string, "base64url"),
      Buffer.from(jwk.y as string, "base64url"),
    );
    card.handlers.set(0x47, () => ok(tlv(0x7f49, tlv(0x86, point))));
    const session = await PivSession.open(card);
    const spki = await session.generateKeyPair(0x9a, "ECCP256", { pinPolicy: "once", touchPolicy: "always" });
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe("0047009A0BAC09800111AA0102AB010200");
    expect(Buffer.from(spki).equals(ec.publicKey.export({ type: "spki", format: "der" }))).toBe(true);
  });

  it("signs with RSA: the card applies the raw key to our EMSA-PKCS1-v1_5 block", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const card = new ScriptedCard();
    card.handlers.set(0x87, ({ p1, p2, data }) => {
      expect([p1, p2]).toEqual([0x07, 0x9c]);
      const input = decodeMap(decodeMap(data).get(0x7c) ?? new Uint8Array(0)).get(0x81) ?? new Uint8Array(0);
      const raw = privateEncrypt({ key: rsa.privateKey, padding: constants.RSA_NO_PADDING }, input);
      return ok(tlv(0x7c, tlv(0x82, raw)));
    });
    const session = await PivSession.open(card);
    const message = Buffer.from("certification request info");
    const signature = await session.sign(0x9c, "RSA2048", "SHA-256", message);
    expect(verify("sha256", message, rsa.publicKey, signature)).toBe(true);
  });

  it("signs with ECDSA: sends the truncated hash and returns the card's DER signature", async () => {
    const card = new ScriptedCard();
    const der = Buffer.from("3006020101020102", "hex");
    card.handlers.set(0x87, () => ok(tlv(0x7c, tlv(0x82, der))));
    const session = await PivSession.open(card);
    const signature = await session.sign(0x9a, "ECCP256", "SHA-384", Buffer.from("x"));
    expect(Buffer.from(signature).equals(der)).toBe(true);
    const command = card.commands.at(-1) ?? new Uint8Array(0);
    expect(hex(command.subarray(0, 11))).toBe("0087119A267C2482008120");
  });

  it("refuses a signature that is not an ECDSA-Sig-Value", async () => {
    const card = new ScriptedCard();
    card.handlers.set(0x87, () => ok(tlv(0x7c, tlv(0x82, Uint8Array.of(1, 2, 3)))));
    const session = await PivSession.open(card);
    await expect(session.sign(0x9a, "ECCP256", "SHA-256", Buffer.from("x"))).rejects.toMatchObject({
      code: "APDU_MALFORMED_RESPONSE",
    });
  });
});

describe("YubiKey extensions", () => {
  it("reads serial and full metadata", async () => {
    const card = new ScriptedCard();
    card.handlers.set(0xf8, () => ok(Uint8Array.of(0x01, 0x2d, 0x68, 0x7f)));
    const ec = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const jwk = ec.publicKey.export({ format: "jwk" });
    const point = concat(
      Uint8Array.of(4),
      Buffer.from(jwk.x as string, "base64url"),
      Buffer.from(jwk.y as string, "base64url"),
    );
    card.handlers.set(0xf7, ({ p2 }) =>
      p2 === 0x80
        ? ok(concat(tlv(1, Uint8Array.of(0xff)), tlv(5, Uint8Array.of(0)), tlv(6, Uint8Array.of(5, 4))))
        : ok(
            concat(
              tlv(1, Uint8Array.of(0x14)),
              tlv(2, Uint8Array.of(2, 3)),
              tlv(3, Uint8Array.of(1)),
              tlv(4, tlv(0x86, point)),
            ),
          ),
    );
    const session = await PivSession.open(card);
    expect(await session.getSerial()).toBe(19753087);
    expect(await session.getMetadata(0x80)).toEqual({
      algorithm: "PIN",
      isDefault: false,
      retries: { total: 5, remaining: 4 },
    });
    const key = await session.getMetadata(0x9d);
    expect(key).toMatchObject({ algorithm: "ECCP384", pinPolicy: "once", touchPolicy: "cached", origin: "generated" });
    expect(Buffer.from(key.publicKey ?? []).equals(ec.publicKey.export({ type: "spki", format: "der" }))).toBe(true);
  });

  it("refuses GET METADATA before 5.3 without I/O", async () => {
    const card = new ScriptedCard();
    card.version = Uint8Array.of(4, 3, 7);
    const session = await PivSession.open(card);
    await expect(session.getMetadata(0x9a)).rejects.toMatchObject({
      code: "PIV_UNSUPPORTED",
      details: { required: "5.3.0" },
    });
    expect(card.commands.length).toBe(2);
  });

  it("sets the management key with touch flag, and the retries", async () => {
    const card = new ScriptedCard();
    card.handlers.set(0xff, () => sw(0x9000));
    card.handlers.set(0xfa, () => sw(0x9000));
    const session = await PivSession.open(card);
    await session.setManagementKey("AES128", new Uint8Array(16).fill(0xab), { requireTouch: true });
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe(`00FFFFFE13089B10${"AB".repeat(16)}`);
    await session.setPinRetries(5, 4);
    expect(hex(card.commands.at(-1) ?? new Uint8Array(0))).toBe("00FA0504");
  });

  it("explains a refused RESET", async () => {
    const card = new ScriptedCard();
    card.handlers.set(0xfb, () => sw(0x6985));
    const session = await PivSession.open(card);
    await expect(session.reset()).rejects.toMatchObject({
      code: "PIV_CONDITIONS_NOT_SATISFIED",
      message: expect.stringMatching(/both the PIN and the PUK are blocked/),
    });
  });
});
