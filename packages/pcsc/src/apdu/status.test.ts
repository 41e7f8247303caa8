import { CardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import {
  ApduStatusError,
  CardFullError,
  ConditionsNotSatisfiedError,
  NotFoundError,
  PinBlockedError,
  SecurityStatusError,
  UnsupportedError,
  WrongDataError,
  WrongPinError,
} from "../errors.js";
import { checkStatus, retriesFromSw, statusError } from "./status.js";

describe("status words → typed errors", () => {
  const cases: Array<[number, new (...args: never[]) => CardwrightError, string]> = [
    [0x63c2, WrongPinError, "PIV_WRONG_PIN"],
    [0x63c0, PinBlockedError, "PIV_PIN_BLOCKED"],
    [0x6983, PinBlockedError, "PIV_PIN_BLOCKED"],
    [0x6982, SecurityStatusError, "PIV_SECURITY_STATUS"],
    [0x6a82, NotFoundError, "PIV_NOT_FOUND"],
    [0x6a88, NotFoundError, "PIV_NOT_FOUND"],
    [0x6a80, WrongDataError, "PIV_WRONG_DATA"],
    [0x6a84, CardFullError, "PIV_CARD_FULL"],
    [0x6581, CardFullError, "PIV_CARD_FULL"],
    [0x6985, ConditionsNotSatisfiedError, "PIV_CONDITIONS_NOT_SATISFIED"],
    [0x6d00, UnsupportedError, "PIV_UNSUPPORTED"],
    [0x6e00, UnsupportedError, "PIV_UNSUPPORTED"],
    [0x6f00, ApduStatusError, "APDU_UNEXPECTED_STATUS"],
    [0x6700, ApduStatusError, "APDU_UNEXPECTED_STATUS"],
  ];
  for (const [sw, type, code] of cases) {
    it(`${sw.toString(16).toUpperCase()} → ${type.name} (${code})`, () => {
      const err = statusError(sw, { instruction: "GET DATA" });
      expect(err).toBeInstanceOf(type);
      expect(err).toBeInstanceOf(CardwrightError);
      expect(err.code).toBe(code);
      expect(err.details.sw).toBe(sw.toString(16).toUpperCase().padStart(4, "0"));
      expect(err.details.instruction).toBe("GET DATA");
    });
  }

  it("says how many tries are left and what to do", () => {
    const err = statusError(0x63c2, { instruction: "VERIFY", credential: "PIN" });
    expect(err.message).toBe("wrong PIN, 2 tries left before the PIN is blocked; check the value before trying again");
    expect(err.details.retriesLeft).toBe(2);
    expect(statusError(0x63c1, { instruction: "RESET RETRY COUNTER", credential: "PUK" }).message).toMatch(
      /^wrong PUK, 1 try left before the PUK is blocked/,
    );
  });

  it("tells how to recover from a blocked PIN", () => {
    const err = statusError(0x6983, { instruction: "VERIFY", credential: "PIN" });
    expect(err.message).toMatch(/unblock it with the PUK/);
    expect(err.details.retriesLeft).toBe(0);
  });

  it("names what was not found and keeps extra details", () => {
    const err = statusError(0x6a82, {
      instruction: "GET DATA",
      what: "data object 5FC105",
      details: { objectTag: "5FC105" },
    });
    expect(err.message).toBe("data object 5FC105 not found on the card");
    expect(err.details).toMatchObject({ sw: "6A82", objectTag: "5FC105", instruction: "GET DATA" });
  });

  it("serialises to JSON with code and details", () => {
    const json = JSON.parse(JSON.stringify(statusError(0x63c1, { instruction: "VERIFY" })));
    expect(json).toMatchObject({
      name: "WrongPinError",
      code: "PIV_WRONG_PIN",
      details: { sw: "63C1", retriesLeft: 1 },
    });
  });

  it("checkStatus passes 9000 data and throws otherwise", () => {
    expect(checkStatus({ data: Uint8Array.of(1), sw: 0x9000 }, { instruction: "X" })).toEqual(Uint8Array.of(1));
    expect(() => checkStatus({ data: new Uint8Array(0), sw: 0x6a80 }, { instruction: "X" })).toThrow(WrongDataError);
  });

  it("reads retries only from 63Cx", () => {
    expect(retriesFromSw(0x63c5)).toBe(5);
    expect(retriesFromSw(0x6300)).toBeUndefined();
    expect(retriesFromSw(0x9000)).toBeUndefined();
  });
});
