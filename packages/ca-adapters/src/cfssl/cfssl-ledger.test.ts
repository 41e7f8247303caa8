import { describe, expect, it } from "vitest";
import { MemoryCfsslLedger } from "./cfssl-ledger.js";

describe("MemoryCfsslLedger", () => {
  it("keeps the first outcome for a requestId and finds issued ones by serial", async () => {
    const ledger = new MemoryCfsslLedger();
    const certificate = new Uint8Array([0x30, 1, 2]);
    await ledger.record({ requestId: "r", status: "issued", caRequestId: "0a", certificate, issuedAt: "t" });
    await ledger.record({ requestId: "r", status: "rejected", reason: "late", decidedAt: "t" });
    expect(await ledger.byRequestId("r")).toMatchObject({ status: "issued", caRequestId: "0a" });
    expect((await ledger.byCaRequestId("0a"))?.certificate).toEqual(certificate);
    expect(await ledger.byCaRequestId("0b")).toBeUndefined();
    expect(ledger.size).toBe(1);
  });

  it("hands out copies, so callers cannot change what was recorded", async () => {
    const ledger = new MemoryCfsslLedger();
    await ledger.record({
      requestId: "r",
      status: "issued",
      caRequestId: "0a",
      certificate: new Uint8Array([1]),
      issuedAt: "t",
    });
    const copy = await ledger.byCaRequestId("0a");
    copy?.certificate.fill(9);
    expect((await ledger.byCaRequestId("0a"))?.certificate).toEqual(new Uint8Array([1]));
  });
});
