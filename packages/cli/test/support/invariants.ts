/**
 * The failure rule of DESIGN.md, checked against the real parts: no card is `active` without its
 * certificates on the card, and every certificate the CA issued is either written to the card
 * and recorded, or revoked at the CA and recorded.
 */

import type { EmbeddedCa } from "@cardwright/ca-adapters";
import type { Device, Store } from "@cardwright/core";
import { expect } from "vitest";

/** Devices by card serial, to read what is really on each card. */
export type DevicesBySerial = ReadonlyMap<string, Device>;

export async function expectConsistent(store: Store, ca: EmbeddedCa, devices: DevicesBySerial): Promise<void> {
  const certificates = await store.certificates.list();
  const bySerial = new Map(certificates.filter((c) => c.serialHex).map((c) => [c.serialHex!, c]));
  const pendingOperations = new Set(
    (await store.operations.list())
      .filter((o) => o.status === "pending" || o.status === "running")
      .map((o) => o.cardId),
  );

  for (const card of await store.cards.list()) {
    const device = devices.get(card.deviceSerial);
    const own = certificates.filter((c) => c.cardId === card.id);
    if (card.state === "active") {
      expect(own.length, `active card ${card.id} has certificates`).toBeGreaterThan(0);
      for (const c of own.filter((x) => x.status !== "revoked")) {
        expect(c.status, `certificate ${c.serialHex} of active card`).toBe("written");
        if (device) {
          const onCard = await device.readCertificate(c.slot);
          expect(
            onCard && Buffer.from(onCard).toString("base64"),
            `slot ${c.slot} holds the recorded certificate`,
          ).toBe(c.certificate);
        }
      }
    }
  }

  for (const issued of await ca.listIssued()) {
    const record = bySerial.get(issued.serialHex);
    expect(record, `CA-issued certificate ${issued.serialHex} is recorded`).toBeDefined();
    if (!record) continue;
    if (issued.revocation?.reason === "certificateHold") {
      // On hold: the card was suspended, and its record says so.
      expect(record.status, `held certificate ${issued.serialHex} recorded as suspended`).toBe("suspended");
      expect(
        (await store.cards.get(record.cardId))?.state,
        `held certificate ${issued.serialHex} is on a suspended card`,
      ).toBe("suspended");
      continue;
    }
    if (issued.revocation) {
      expect(record.status, `revoked certificate ${issued.serialHex} recorded as revoked`).toBe("revoked");
      continue;
    }
    // Not revoked: it must be on an active card — or its operation is still resumable.
    const card = await store.cards.get(record.cardId);
    if (pendingOperations.has(record.cardId)) continue;
    expect(record.status, `unrevoked certificate ${issued.serialHex} is written`).toBe("written");
    expect(card?.state, `unrevoked certificate ${issued.serialHex} is on an active card`).toBe("active");
  }
}
