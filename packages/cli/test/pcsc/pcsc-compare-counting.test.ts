/**
 * The counting under the PC/SC benchmark (packages/cli/bench/pcsc-compare.ts): pcscd's `--apdu`
 * log read back into exchanges, and the SP 800-73-4 minimum for the two-certificate job, checked
 * against hand-counted cases.
 */
import { describe, expect, it } from "vitest";
import { jobMinimum, parsePcscdApdus } from "../../bench/pcsc-compare.js";

// Lines as pcscd 1.9.9 --apdu --debug writes them (the harness blanks secret bytes to "xx").
const LOG = [
  "00000006 APDU: 00 A4 04 00 05 A0 00 00 03 08 ",
  "00044680 SW: 61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00 ",
  "00000012 ifdhandler.c:1234:IFDHTransmitToICC() some debug line",
  "00000005 APDU: 00 20 00 80 08 xx xx xx xx xx xx xx xx ",
  "00046877 SW: 90 00 ",
  "00000031 APDU: 10 DB 3F FF 03 5C 03 5F ",
  "00044658 SW: 90 00 ",
  "00000004 APDU: 00 C0 00 00 00 ",
].join("\n");

describe("parsePcscdApdus", () => {
  it("pairs each command with its response, keeps the length of blanked bytes and skips other lines", () => {
    const exchanges = parsePcscdApdus(LOG);
    expect(exchanges.map((e) => [e.command.length, e.responseLength])).toEqual([
      [10, 21],
      [13, 2],
      [8, 2],
      [5, -1], // no response logged yet: the bench waits for it
    ]);
    expect(exchanges[0]!.command[1]).toBe(0xa4);
    expect(exchanges[1]!.command.slice(5)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(exchanges[2]!.command[0]).toBe(0x10);
  });
});

describe("jobMinimum", () => {
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

  it("is 22 APDUs for certificates of 562 and 742 bytes: each certificate object fits three 255-byte pieces", () => {
    const m = jobMinimum(562, 742);
    expect(m["open the card"]).toBe(1);
    expect(m["management-key authentication"]).toBe(2);
    expect(m["factory reset"]).toBe(0);
    // GENERATE: P-256 answer 70 bytes (1 APDU); RSA-2048 answer 270 bytes (1 + 1 GET RESPONSE).
    expect(m["key generation (9A, 9C)"]).toBe(3);
    // VERIFY, P-256 signature 1, RSA-2048 command 266 bytes (2 chained) + answer 264 bytes (1 GET RESPONSE).
    expect(m["CSR signatures (VERIFY + sign)"]).toBe(5);
    // 562 + 18 = 580 and 742 + 18 = 760 bytes of PUT DATA: three pieces each.
    expect(m["certificates written (9A, 9C)"]).toBe(6);
    expect(total(m)).toBe(22);
  });

  it("adds a PUT DATA piece when a certificate object crosses a multiple of 255 bytes", () => {
    // 747 + 18 = 765 = 3 × 255 exactly; one byte more needs a fourth piece.
    expect(jobMinimum(562, 747)["certificates written (9A, 9C)"]).toBe(6);
    expect(jobMinimum(562, 748)["certificates written (9A, 9C)"]).toBe(7);
    expect(total(jobMinimum(562, 748))).toBe(23);
  });
});
