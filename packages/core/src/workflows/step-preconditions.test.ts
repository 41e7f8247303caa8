import { describe, expect, it } from "vitest";
import type { CardRecord } from "../domain/card.js";
import { isCardwrightError } from "../errors.js";
import type { CertificateAuthority } from "../ports/certificate-authority.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import {
  assertCardHeldBy,
  assertDeviceIsCard,
  assertResumingOnCard,
  requireCard,
  requireCertificateAuthority,
  requireOperation,
} from "./step-preconditions.js";

async function storedCard(pendingOperationId?: string): Promise<{ store: InMemoryStore; card: CardRecord }> {
  const store = new InMemoryStore();
  const card = await store.cards.create({
    id: "card-1",
    deviceSerial: "12345678",
    deviceType: "piv",
    state: "issuing",
    ...(pendingOperationId === undefined ? {} : { pendingOperationId }),
  });
  return { store, card };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

describe("step preconditions", () => {
  it("finds stored records and refuses missing ones with STORE_NOT_FOUND and the record's kind", async () => {
    const { store, card } = await storedCard();
    expect(await requireCard(store, card.id)).toEqual(card);
    await expect(requireCard(store, "nope")).rejects.toMatchObject({
      code: "STORE_NOT_FOUND",
      details: { recordKind: "card", recordId: "nope", cardId: "nope" },
    });
    await expect(requireOperation(store, "op-x")).rejects.toMatchObject({
      code: "STORE_NOT_FOUND",
      details: { recordKind: "operation", recordId: "op-x" },
    });
  });

  it("accepts the holding operation only", async () => {
    const { card } = await storedCard("op-1");
    expect(() => assertCardHeldBy(card, "op-1")).not.toThrow();
    const other = thrown(() => assertCardHeldBy(card, "op-2"));
    expect(isCardwrightError(other, "WORKFLOW_STATE")).toBe(true);
    const { card: free } = await storedCard();
    expect(thrown(() => assertCardHeldBy(free, "op-1"))).toMatchObject({
      message: "card card-1 is held by operation none, not op-1",
    });
  });

  it("refuses another card in the reader with DEVICE_MISMATCH, naming both serials", async () => {
    const { card } = await storedCard("op-1");
    expect(() => assertDeviceIsCard(card, "12345678")).not.toThrow();
    expect(() => assertResumingOnCard("op-1", card, "12345678")).not.toThrow();
    expect(thrown(() => assertDeviceIsCard(card, "999"))).toMatchObject({
      code: "DEVICE_MISMATCH",
      details: { cardId: "card-1", deviceSerial: "999", expectedSerial: "12345678" },
    });
    expect(thrown(() => assertResumingOnCard("op-1", card, "999"))).toMatchObject({
      code: "DEVICE_MISMATCH",
      details: { operationId: "op-1", cardId: "card-1", deviceSerial: "999", expectedSerial: "12345678" },
    });
  });

  it("finds a configured CA and refuses an unknown id with CONFIG_INVALID", () => {
    const ca = { id: "ca-1" } as unknown as CertificateAuthority;
    const authorities = new Map([["ca-1", ca]]);
    expect(requireCertificateAuthority(authorities, "ca-1")).toBe(ca);
    expect(thrown(() => requireCertificateAuthority(authorities, "ca-2"))).toMatchObject({
      code: "CONFIG_INVALID",
      details: { caId: "ca-2" },
    });
  });
});
