import { createHash, verify } from "node:crypto";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import {
  apdu,
  authenticate,
  dataOf,
  newCard,
  pad,
  SELECT_PIV,
  send,
  swOf,
  verifyPin,
} from "../../test/apdu-helpers.js";
import { VirtualPivCard } from "./virtual-piv-card.js";

async function preparedCard() {
  const card = await newCard({ firmware: "5.4.3", serial: 7654321 });
  await send(card, SELECT_PIV);
  expect(await authenticate(card, 0x03)).toBe("9000");
  const gen = await send(card, "0047009A05AC0380011100");
  expect(swOf(gen)).toBe("9000");
  expect(await send(card, "00DB3FFF095C035FC1025302AABB")).toBe("9000");
  await send(card, apdu(0, 0x24, 0, 0x80, Uint8Array.from([...pad("123456"), ...pad("13572468")])));
  await verifyPin(card, "000000");
  return { card, point: gen.slice(10, -4) };
}

async function signWith(card: VirtualPivCard, digest: Uint8Array) {
  const body = Uint8Array.from([0x7c, digest.length + 4, 0x82, 0x00, 0x81, digest.length, ...digest]);
  const rsp = await send(card, apdu(0, 0x87, 0x11, 0x9a, body, 0));
  expect(swOf(rsp)).toBe("9000");
  return dataOf(rsp).subarray(4);
}

describe("card image", () => {
  it("round-trips keys, objects, counters, PIN and management key; volatile state is not kept", async () => {
    const { card, point } = await preparedCard();
    const copy = VirtualPivCard.fromImage(JSON.parse(JSON.stringify(card.toImage())));
    expect(copy.serial).toBe(7654321);
    expect(copy.firmware).toBe("5.4.3");
    await send(copy, SELECT_PIV);
    expect(await send(copy, "00CB3FFF055C035FC10200")).toBe("5302AABB9000");
    expect(await send(copy, "00F7008000")).toBe("0101FF050100060203029000");
    expect(await send(copy, "00DB3FFF075C035FC1025300")).toBe("6982");
    expect(await authenticate(copy, 0x03)).toBe("9000");
    expect((await send(copy, "00F7009A00")).slice(28, -4)).toBe(point);
    expect(await verifyPin(copy, "13572468")).toBe("9000");
    const message = Buffer.from("signed after reload");
    const sig = await signWith(copy, new Uint8Array(createHash("sha256").update(message).digest()));
    const spki = (await send(copy, "00F7009A00")).slice(28, -4);
    const x = Buffer.from(spki.slice(2, 66), "hex").toString("base64url");
    const y = Buffer.from(spki.slice(66), "hex").toString("base64url");
    expect(
      verify("sha256", message, { key: { kty: "EC", crv: "P-256", x, y }, format: "jwk", dsaEncoding: "der" }, sig),
    ).toBe(true);
  });

  it("saves with owner-only permissions and loads back", async () => {
    const { card } = await preparedCard();
    const dir = await mkdtemp(join(tmpdir(), "cardwright-image-"));
    const path = join(dir, "card.json");
    await card.saveImage(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const loaded = await VirtualPivCard.loadImage(path);
    expect(loaded.toImage()).toEqual(card.toImage());
    expect(JSON.parse(await readFile(path, "utf8")).format).toBe("cardwright-virtual-piv-card");
  });

  it("rejects a malformed image with CONFIG_INVALID and no secret in the message", async () => {
    const { card } = await preparedCard();
    const image = card.toImage();
    const bad = { ...image, managementKey: { ...image.managementKey, key: "0102" } };
    try {
      VirtualPivCard.fromImage(bad);
      expect.unreachable();
    } catch (err) {
      expect(isCardwrightError(err, "CONFIG_INVALID")).toBe(true);
      expect(String((err as Error).message)).not.toContain("0102");
    }
    expect(() => VirtualPivCard.fromImage("{not json")).toThrow(/not JSON/);
    expect(() => VirtualPivCard.fromImage({ ...image, version: 2 } as never)).toThrow(/format/);
  });
});
