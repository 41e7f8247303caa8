import { describe, expect, it } from "vitest";
import { isCardwrightError } from "../errors.js";
import { SeededRandom } from "../testing/seeded-random.js";
import { PIV_FACTORY_PUK, SoftwareKeyDevice } from "../testing/software-key-device.js";
import {
  createUnblockChallenge,
  makeUnblockResponse,
  openUnblockResponse,
  readUnblockChallenge,
  redeemUnblockResponse,
} from "./offline-unblock.js";
import { decodeCode, encodeCode } from "./unblock-code.js";

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; problem?: unknown }> {
  try {
    if (typeof p === "function") p();
    else await p;
  } catch (err) {
    if (isCardwrightError(err)) return { code: err.code, problem: err.details.problem };
    throw err;
  }
  throw new Error("expected a CardwrightError");
}

describe("offline unblock code exchange", () => {
  const at = (serial: string) => ({ identity: { serial, type: "piv" as const, model: "test card" } });
  const card = at("12345678");

  it("a response opens to the PUK for its own challenge, and codes are short", () => {
    const challenge = createUnblockChallenge(card);
    expect(challenge.code.replaceAll("-", "")).toHaveLength(17);
    const response = makeUnblockResponse(challenge.code, "12345678", "04817263");
    expect(response.replaceAll("-", "")).toHaveLength(27);
    expect(openUnblockResponse(challenge, response)).toBe("04817263");
    // 6- and 7-digit PUKs (SP 800-73-4 allows 6–8) keep their leading zeros too.
    expect(openUnblockResponse(challenge, makeUnblockResponse(challenge.code, "12345678", "000001"))).toBe("000001");
    expect(openUnblockResponse(challenge, makeUnblockResponse(challenge.code, "12345678", "9999999"))).toBe("9999999");
  });

  it("every challenge has a fresh nonce, and the response never contains the PUK", () => {
    const a = createUnblockChallenge(card);
    const b = createUnblockChallenge(card);
    expect(a.code).not.toBe(b.code);
    const r1 = makeUnblockResponse(a.code, "12345678", "12345678");
    const r2 = makeUnblockResponse(a.code, "12345678", "12345678");
    expect(r1).not.toBe(r2); // a fresh salt per response: no key and IV used twice
    expect(r1.replaceAll("-", "")).not.toContain("12345678");
  });

  it("the helpdesk refuses a challenge made on another card", async () => {
    const challenge = createUnblockChallenge(at("87654321"));
    expect(await codeOf(() => readUnblockChallenge(challenge.code, "12345678"))).toEqual({
      code: "OFFLINE_CODE_INVALID",
      problem: "card",
    });
  });

  it("a response is refused for another challenge (replay) and when tampered with", async () => {
    const first = createUnblockChallenge(card);
    const second = createUnblockChallenge(card);
    const response = makeUnblockResponse(first.code, "12345678", "12345678");
    expect(await codeOf(() => openUnblockResponse(second, response))).toEqual({
      code: "OFFLINE_CODE_INVALID",
      problem: "authentication",
    });
    // A valid-looking code (check character recomputed) with one payload bit flipped: GCM refuses it.
    const bytes = decodeCode(response, 16, "response");
    for (let bit = 0; bit < 128; bit += 9) {
      const forged = Uint8Array.from(bytes);
      forged[bit >> 3]! ^= 1 << (bit & 7);
      expect(await codeOf(() => openUnblockResponse(first, encodeCode(forged)))).toEqual({
        code: "OFFLINE_CODE_INVALID",
        problem: "authentication",
      });
    }
    // A typo is caught by the check character before any decryption.
    const typo = response.replace(/[0-9A-Z]/, (c) => (c === "A" ? "B" : "A"));
    expect((await codeOf(() => openUnblockResponse(first, typo))).problem).toMatch(/check|format/);
  });

  it("the agent redeems on the card: the PUK unblocks a blocked PIN and the new PIN verifies", async () => {
    const device = new SoftwareKeyDevice({ serial: "5550001" });
    for (let i = 0; i < 3; i++) await device.verifyPin("000000").catch(() => undefined);
    expect((await device.pinStatus()).blocked).toBe(true);
    const challenge = createUnblockChallenge(device, new SeededRandom(7));
    const response = makeUnblockResponse(challenge.code, "5550001", PIV_FACTORY_PUK);
    await redeemUnblockResponse({ device, challenge, responseCode: response, newPin: "24681357" });
    await device.verifyPin("24681357");
    expect((await device.pinStatus()).blocked).toBe(false);
  });

  it("the agent refuses another card in the reader, a bad new PIN and a forged response before touching the card", async () => {
    const device = new SoftwareKeyDevice({ serial: "5550002" });
    const other = new SoftwareKeyDevice({ serial: "5550003" });
    const challenge = createUnblockChallenge(device);
    const response = makeUnblockResponse(challenge.code, "5550002", PIV_FACTORY_PUK);
    expect(
      (await codeOf(redeemUnblockResponse({ device: other, challenge, responseCode: response, newPin: "24681357" })))
        .code,
    ).toBe("DEVICE_MISMATCH");
    const pinPolicy = { minLength: 6, maxLength: 8, allowed: ["digits"] as const, random: false };
    expect(
      (
        await codeOf(
          redeemUnblockResponse({
            device,
            challenge,
            responseCode: response,
            newPin: "abc",
            pinPolicy: { ...pinPolicy, allowed: [...pinPolicy.allowed] },
          }),
        )
      ).code,
    ).toBe("POLICY_RULE");
    const forged = makeUnblockResponse(createUnblockChallenge(device).code, "5550002", PIV_FACTORY_PUK);
    expect(
      (await codeOf(redeemUnblockResponse({ device, challenge, responseCode: forged, newPin: "24681357" }))).code,
    ).toBe("OFFLINE_CODE_INVALID");
    expect(device.calls).not.toContain("unblockPin");
    expect(other.calls).not.toContain("unblockPin");
  });
});
