import { CardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { loadPcscBinding, PCSC_BINDING_MODULE } from "./binding.js";
import { pcscError, scardCodeOf } from "./pcsc-errors.js";

describe("pcscError", () => {
  it.each([
    ["PC/SC service not running", "PCSC_NO_SERVICE", "SCARD_E_NO_SERVICE"],
    ["Card was removed", "APDU_CARD_REMOVED", "SCARD_W_REMOVED_CARD"],
    ["No smart card present", "APDU_CARD_REMOVED", "SCARD_E_NO_SMARTCARD"],
    ["Sharing violation", "PCSC_SHARING_VIOLATION", "SCARD_E_SHARING_VIOLATION"],
    ["Operation timed out", "APDU_TIMEOUT", "SCARD_E_TIMEOUT"],
    ["Card was reset", "PCSC_CARD_RESET", "SCARD_W_RESET_CARD"],
    ["Unknown reader", "DEVICE_NOT_FOUND", "SCARD_E_UNKNOWN_READER"],
    ["Protocol mismatch", "APDU_TRANSPORT", "SCARD_E_PROTO_MISMATCH"],
    ["Transaction failed", "APDU_TRANSPORT", "SCARD_E_NOT_TRANSACTED"],
  ])("maps the binding's %s to %s", (message, code, scard) => {
    const err = pcscError(new Error(message), { action: "transmitting VERIFY", reader: "Reader 00" });
    expect(err).toBeInstanceOf(CardwrightError);
    expect(err.code).toBe(code);
    expect(err.details).toMatchObject({ reader: "Reader 00", scard });
    expect(err.message).toContain("transmitting VERIFY (Reader 00)");
    expect(scardCodeOf(new Error(message))).toBe(scard);
  });

  it("keeps an unknown failure as APDU_TRANSPORT with its text, and passes cardwright errors through", () => {
    const err = pcscError(new Error("Something odd"), { action: "connecting" });
    expect(err.code).toBe("APDU_TRANSPORT");
    expect(err.message).toContain("Something odd");
    const own = new CardwrightError("APDU_TIMEOUT", "slow");
    expect(pcscError(own, { action: "x" })).toBe(own);
  });
});

describe("loadPcscBinding", () => {
  it("names the fix when the native module is missing", async () => {
    const missing = () => Promise.reject(new Error(`Cannot find module '${PCSC_BINDING_MODULE}'`));
    await expect(loadPcscBinding(missing)).rejects.toMatchObject({
      code: "PCSC_UNAVAILABLE",
      message: expect.stringContaining("npm run setup"),
    });
  });

  it("refuses a module that is not the binding", async () => {
    await expect(loadPcscBinding(async () => ({ default: { hello: 1 } }))).rejects.toMatchObject({
      code: "PCSC_UNAVAILABLE",
    });
  });

  it("loads the installed smartcard binding lazily, with the PC/SC constants", async () => {
    const binding = await loadPcscBinding();
    expect(typeof binding.Context).toBe("function");
    expect(binding.SCARD_SHARE_EXCLUSIVE).toBe(1);
    expect(binding.SCARD_PROTOCOL_T1).toBe(2);
  });
});
