import { describe, expect, it } from "vitest";
import type { CardState, CertificateStatus } from "../domain/card.js";
import type { CardwrightError } from "../errors.js";
import { examplePivPolicy } from "../testing/example-policy.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { assertWithinLimits } from "./issuance-limits.js";

const NOW = new Date("2026-06-01T00:00:00Z");

async function refusal(p: Promise<unknown>): Promise<CardwrightError | undefined> {
  return p.then(
    () => undefined,
    (e: CardwrightError) => e,
  );
}

async function cardOf(store: InMemoryStore, id: string, userId: string, state: CardState) {
  return store.cards.create({ id, deviceSerial: `serial-${id}`, deviceType: "piv", userId, state });
}

async function certificate(store: InMemoryStore, id: string, status: CertificateStatus, notAfter: string) {
  await store.certificates.create({
    id,
    cardId: "held",
    userId: "ann",
    templateId: "piv-auth",
    slot: "9a",
    status,
    notAfter,
  });
}

describe("issuance limits", () => {
  it("maxCardsPerUser counts cards in use, not retired or revoked ones, nor the card being issued", async () => {
    const store = new InMemoryStore();
    const policy = examplePivPolicy({ limits: { maxCardsPerUser: 2 } });
    const check = { policy, userId: "ann", cardId: "new", templateIds: ["piv-auth"], now: NOW };
    await cardOf(store, "new", "ann", "bound");
    await cardOf(store, "old", "ann", "retired");
    await cardOf(store, "gone", "ann", "revoked");
    await cardOf(store, "held", "ann", "suspended");
    await cardOf(store, "bobs", "bob", "active");
    expect(await refusal(assertWithinLimits(store, check))).toBeUndefined();
    await cardOf(store, "second", "ann", "pending");
    const err = await refusal(assertWithinLimits(store, check));
    expect(err?.code).toBe("POLICY_LIMIT");
    expect(err?.details).toMatchObject({ rule: "limits.maxCardsPerUser", limit: 2, current: 2, userId: "ann" });
  });

  it("maxCertificatesPerTemplate counts live certificates of that template only", async () => {
    const store = new InMemoryStore();
    const policy = examplePivPolicy({ limits: { maxCertificatesPerTemplate: 2 } });
    const check = { policy, userId: "ann", cardId: "new", templateIds: ["piv-auth"], now: NOW };
    await certificate(store, "c1", "written", "2027-01-01T00:00:00Z");
    await certificate(store, "revoked", "revoked", "2027-01-01T00:00:00Z");
    await certificate(store, "expired", "written", "2026-05-01T00:00:00Z");
    expect(await refusal(assertWithinLimits(store, check))).toBeUndefined();
    // Another template's limit is not this one's.
    expect(await refusal(assertWithinLimits(store, { ...check, templateIds: ["signature"] }))).toBeUndefined();
    await certificate(store, "c2", "suspended", "2027-01-01T00:00:00Z");
    const err = await refusal(assertWithinLimits(store, check));
    expect(err?.code).toBe("POLICY_LIMIT");
    expect(err?.details).toMatchObject({
      rule: "limits.maxCertificatesPerTemplate",
      limit: 2,
      current: 2,
      templateId: "piv-auth",
    });
  });

  it("does nothing without limits", async () => {
    const store = new InMemoryStore();
    await cardOf(store, "a", "ann", "active");
    await cardOf(store, "b", "ann", "active");
    const check = { policy: examplePivPolicy(), userId: "ann", cardId: "c", templateIds: ["piv-auth"], now: NOW };
    expect(await refusal(assertWithinLimits(store, check))).toBeUndefined();
  });
});
