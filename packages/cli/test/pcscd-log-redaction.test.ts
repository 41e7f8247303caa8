/** The pcscd harness keeps APDU logs for failing tests; the secrets in them are blanked first. */
import { describe, expect, it } from "vitest";
import { redactApduLine } from "./support/pcscd.js";

describe("pcscd log redaction", () => {
  it("blanks VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, SET MANAGEMENT KEY and 9B authentication data", () => {
    expect(redactApduLine("00000012 APDU: 00 20 00 80 08 31 32 33 34 35 36 FF FF ")).toBe(
      "00000012 APDU: 00 20 00 80 08 xx xx xx xx xx xx xx xx ",
    );
    for (const ins of ["24", "2C", "FF"]) {
      expect(redactApduLine(`APDU: 00 ${ins} 00 80 03 01 02 03 `)).toBe(`APDU: 00 ${ins} 00 80 03 xx xx xx `);
    }
    expect(redactApduLine("APDU: 00 87 0A 9B 04 7C 02 80 00 ")).toBe("APDU: 00 87 0A 9B 04 xx xx xx xx ");
  });

  it("keeps everything else as pcscd wrote it", () => {
    for (const line of [
      "APDU: 00 CB 3F FF 05 5C 03 5F C1 02 ",
      "APDU: 00 87 11 9A 04 7C 02 82 00 ",
      "SW: 90 00 ",
      "daemon ready",
    ]) {
      expect(redactApduLine(line)).toBe(line);
    }
  });
});
