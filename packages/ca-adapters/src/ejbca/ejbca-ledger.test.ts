import { describe, expect, it } from "vitest";
import { MemoryEjbcaLedger } from "./ejbca-ledger.js";

describe("MemoryEjbcaLedger", () => {
  it("lets a decision replace a pending entry, then keeps the decision", async () => {
    const ledger = new MemoryEjbcaLedger();
    const spki = new Uint8Array([0x30]);
    await ledger.record({
      requestId: "r",
      status: "pending",
      caRequestId: "approval-7",
      approvalId: 7,
      username: "u",
      spki,
    });
    expect(await ledger.byCaRequestId("approval-7")).toMatchObject({ status: "pending", approvalId: 7 });
    await ledger.record({
      requestId: "r",
      status: "issued",
      caRequestId: "approval-7",
      certificate: new Uint8Array([1]),
      chain: [],
    });
    await ledger.record({ requestId: "r", status: "rejected", caRequestId: "approval-7", reason: "late" });
    expect(await ledger.byRequestId("r")).toMatchObject({ status: "issued" });
    expect(await ledger.byCaRequestId("approval-7")).toMatchObject({ status: "issued" });
    expect(await ledger.byCaRequestId("approval-8")).toBeUndefined();
  });
});
