/**
 * Failures on the real stack: each surfaces as a typed error and leaves the store consistent
 * (see support/invariants.ts for the rule checked).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EmbeddedCa } from "@cardwright/ca-adapters";
import type { Cardwright, Device, Policy } from "@cardwright/core";
import { PivDevice, YubiKeyDefaults } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard, type VirtualPivCardOptions } from "@cardwright/simulator";
import type { PgliteStore } from "@cardwright/store-sql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staffPivPolicy } from "../src/index.js";
import { expectConsistent } from "./support/invariants.js";
import { openParts, sdkOver } from "./support/stack.js";

/** The staff policy without the factory reset, so a card's own state matters. */
const noResetPolicy: Policy = { ...staffPivPolicy, id: "staff-piv-no-reset", initialiseOnIssue: false };

describe("issue failures on the real stack", () => {
  let ca: EmbeddedCa;
  let store: PgliteStore;
  let cardwright: Cardwright;
  let noReset: Cardwright;
  const devices = new Map<string, Device>();

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-failures-"));
    ({ ca, store } = await openParts(dir));
    cardwright = sdkOver({ ca, store }).cardwright;
    noReset = sdkOver({ ca, store }, noResetPolicy).cardwright;
  });
  afterAll(async () => store?.close());

  async function insert(options: VirtualPivCardOptions = {}) {
    const card = await VirtualPivCard.create(options);
    const transport = new InMemoryTransport(card);
    const device = await PivDevice.open(transport);
    devices.set(device.identity.serial, device);
    return { card, transport, device };
  }

  it("a PIN typed wrong counts down, then blocks — typed errors with the tries left", async () => {
    const { device } = await insert();
    const result = await cardwright.issueCard({ userId: "alice", device, actor: "op" });
    expect(result.status).toBe("active");
    await expect(device.verifyPin("00000000")).rejects.toMatchObject({
      code: "PIV_WRONG_PIN",
      details: { retriesLeft: 2 },
    });
    await expect(device.verifyPin("00000000")).rejects.toMatchObject({
      code: "PIV_WRONG_PIN",
      details: { retriesLeft: 1 },
    });
    await expect(device.verifyPin("00000000")).rejects.toMatchObject({ code: "PIV_PIN_BLOCKED" });
    // Blocked means blocked: even the right PIN is refused now.
    await expect(device.verifyPin(result.status === "active" ? result.pin! : "")).rejects.toMatchObject({
      code: "PIV_PIN_BLOCKED",
    });
    expect(await device.pinStatus()).toMatchObject({ blocked: true, retriesLeft: 0 });
    await expectConsistent(store, ca, devices);
  });

  it("a card whose PIN and PUK were changed elsewhere: typed wrong-PIN error, nothing issued stays unrevoked", async () => {
    const { device } = await insert();
    await device.changePin(YubiKeyDefaults.pin, "24681357");
    await device.changePuk(YubiKeyDefaults.puk, "97531864");
    const error = await noReset.issueCard({ userId: "bob", device, actor: "op" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: expect.stringMatching(/^PIV_(WRONG_PIN|PIN_BLOCKED)$/) });
    const card = (await store.cards.list({ deviceSerial: device.identity.serial }))[0];
    expect(card?.state).not.toBe("active");
    await expectConsistent(store, ca, devices);
  });

  it("a card whose management key was changed elsewhere: PIV_AUTH_FAILED before any key is generated", async () => {
    const { device, transport } = await insert();
    const factory = await device.factoryCredentials();
    await device.authenticateAdmin(factory.admin);
    await device.setAdminCredential({ kind: "management-key", algorithm: "AES192", key: new Uint8Array(24).fill(7) });
    transport.clearTranscript();
    await expect(noReset.issueCard({ userId: "bob", device, actor: "op" })).rejects.toMatchObject({
      code: "PIV_AUTH_FAILED",
    });
    expect(transport.transcript.some((e) => e.instruction === "GENERATE ASYMMETRIC KEY PAIR")).toBe(false);
    await expectConsistent(store, ca, devices);
  });

  it("a full card: PIV_CARD_FULL, and the certificates the CA issued for it are revoked", async () => {
    // Room for CHUID, CCC and discovery but not for two certificates.
    const { device } = await insert({ totalObjectBytes: 900 });
    const before = (await ca.listIssued()).length;
    await expect(cardwright.issueCard({ userId: "alice", device, actor: "op" })).rejects.toMatchObject({
      code: "PIV_CARD_FULL",
    });
    const issued = (await ca.listIssued()).slice(before);
    expect(issued.length).toBeGreaterThan(0);
    for (const c of issued) expect(c.revocation?.reason).toBe("cessationOfOperation");
    await expectConsistent(store, ca, devices);
  });

  it("a CA rejection: CA_REJECTED naming the template, card not active, other certificates revoked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-reject-"));
    const parts = await openParts(dir, true);
    try {
      const sdk = sdkOver(parts).cardwright;
      const { device } = await insert();
      const pending = await sdk.issueCard({ userId: "alice", device, actor: "op" });
      expect(pending.status).toBe("pending");
      if (pending.status !== "pending") return;
      const [first, second] = pending.pendingRequests;
      await parts.ca.approve(first!.caRequestId!);
      await parts.ca.reject(second!.caRequestId!, "subject not verified by the registration officer");
      const error = await sdk.resumeOperation(pending.operationId, { device, actor: "op" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "CA_REJECTED" });
      expect(String((error as Error).message)).toContain("subject not verified");
      expect((await parts.store.cards.get(pending.card.id))?.state).not.toBe("active");
      await expectConsistent(parts.store, parts.ca, devices);
    } finally {
      await parts.store.close();
    }
  });

  describe("card removed at every APDU of an issue", () => {
    /** APDUs of one issue under the staff policy after PivDevice.open; pinned so every k below fires. */
    const ISSUE_APDUS = 31;

    it(`an issue takes exactly ${ISSUE_APDUS} APDUs (update the bound when the flow changes)`, async () => {
      const { transport, device } = await insert();
      const before = transport.apduCount;
      await cardwright.issueCard({ userId: "bob", device, actor: "op" });
      expect(transport.apduCount - before).toBe(ISSUE_APDUS);
    });

    for (let k = 1; k <= ISSUE_APDUS; k++) {
      it(`removed at APDU ${k}: APDU_CARD_REMOVED, consistent store, and a retry after re-insertion succeeds`, async () => {
        const { card, transport, device } = await insert();
        transport.injectFault({ trigger: { atApdu: transport.apduCount + k }, action: { kind: "remove-card" } });
        const error = await cardwright.issueCard({ userId: "bob", device, actor: "op" }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: "APDU_CARD_REMOVED" });
        transport.clearFaults();
        transport.insert(card);
        const again = await PivDevice.open(transport);
        devices.set(again.identity.serial, again);
        await expectConsistent(store, ca, devices);
        const retry = await cardwright.issueCard({ userId: "bob", device: again, actor: "op" });
        expect(retry.status).toBe("active");
        await expectConsistent(store, ca, devices);
      });
    }
  });
});
