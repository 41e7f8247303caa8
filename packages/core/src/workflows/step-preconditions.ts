/**
 * The checks every workflow makes before a step acts: the records it names exist, the CA it
 * names is configured, the operation holds the card (`pendingOperationId`, the store's claim on it), and the device in
 * the reader is that card (`DeviceIdentity.serial`: YubiKey, CHUID-derived or token serial). Shared
 * by the issue, certificate-status and retire workflows and by the facades that resume them.
 */
import type { CardRecord, OperationRecord } from "../domain/card.js";
import { CardwrightError } from "../errors.js";
import type { CertificateAuthority } from "../ports/certificate-authority.js";
import type { Store } from "../ports/store.js";

/**
 * The card record `cardId`.
 * @throws CardwrightError `STORE_NOT_FOUND` when the store has no such card.
 */
export async function requireCard(store: Store, cardId: string): Promise<CardRecord> {
  const card = await store.cards.get(cardId);
  if (card === null) {
    throw new CardwrightError("STORE_NOT_FOUND", `card ${cardId} does not exist`, {
      details: { recordKind: "card", recordId: cardId, cardId },
    });
  }
  return card;
}

/**
 * The operation record `operationId`.
 * @throws CardwrightError `STORE_NOT_FOUND` when the store has no such operation.
 */
export async function requireOperation(store: Store, operationId: string): Promise<OperationRecord> {
  const operation = await store.operations.get(operationId);
  if (operation === null) {
    throw new CardwrightError("STORE_NOT_FOUND", `operation ${operationId} does not exist`, {
      details: { recordKind: "operation", recordId: operationId },
    });
  }
  return operation;
}

/**
 * Check that operation `operationId` holds `card`, so no other operation changes it meanwhile.
 * @throws CardwrightError `WORKFLOW_STATE` when another operation (or none) holds it.
 */
export function assertCardHeldBy(card: CardRecord, operationId: string): void {
  if (card.pendingOperationId !== operationId) {
    throw new CardwrightError(
      "WORKFLOW_STATE",
      `card ${card.id} is held by operation ${card.pendingOperationId ?? "none"}, not ${operationId}`,
      { details: { cardId: card.id, operationId } },
    );
  }
}

/**
 * Check that the device in the reader, serial `deviceSerial`, is `card` (a workflow step).
 * @throws CardwrightError `DEVICE_MISMATCH` when it is another card.
 */
export function assertDeviceIsCard(card: CardRecord, deviceSerial: string): void {
  if (deviceSerial !== card.deviceSerial) {
    throw new CardwrightError(
      "DEVICE_MISMATCH",
      `the device in the reader (serial ${deviceSerial}) is not card ${card.id} (serial ${card.deviceSerial})`,
      { details: { cardId: card.id, deviceSerial, expectedSerial: card.deviceSerial } },
    );
  }
}

/**
 * Check that the device offered to resume operation `operationId`, serial `deviceSerial`, is
 * the operation's `card`.
 * @throws CardwrightError `DEVICE_MISMATCH` when it is another card.
 */
export function assertResumingOnCard(operationId: string, card: CardRecord, deviceSerial: string): void {
  if (deviceSerial !== card.deviceSerial) {
    throw new CardwrightError(
      "DEVICE_MISMATCH",
      `operation ${operationId} is for card serial ${card.deviceSerial}, but the reader holds serial ${deviceSerial}`,
      { details: { operationId, cardId: card.id, deviceSerial, expectedSerial: card.deviceSerial } },
    );
  }
}

/**
 * The certificate authority `caId` among the configured ones.
 * @throws CardwrightError `CONFIG_INVALID` when none has that id.
 */
export function requireCertificateAuthority(
  authorities: ReadonlyMap<string, CertificateAuthority>,
  caId: string,
): CertificateAuthority {
  const ca = authorities.get(caId);
  if (ca === undefined) {
    throw new CardwrightError("CONFIG_INVALID", `no certificate authority with id ${caId} is configured`, {
      details: { caId },
    });
  }
  return ca;
}
