/**
 * End-to-end replacement of virtual YubiKeys with the embedded CA and the PGlite store, every part
 * real: the CA's signed CRL, read back with `openssl crl -text`, must show each replacement's RFC
 * 5280 reason (and nothing for a recovered encryption certificate); new cards' certificates must
 * pass `openssl verify`; the key recovered into 9D must be the one the card reports for its slot;
 * a returned temporary card must be in factory state. The only injected faults are a CA wrapper
 * counting revocations and a new card pulled out of the reader during its issue.
 */
import type { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  type CardRecord,
  type Cardwright,
  CardwrightError,
  type CertificateRecord,
  type Device,
  type Policy,
  parseCertificate,
  spkiEquals,
  unwrapArchivedKey,
} from "@cardwright/core";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CA_ID, staffPivPolicy } from "../src/index.js";
import { CountingCa } from "./support/counting-ca.js";
import { bare, crlEntries } from "./support/crl.js";
import { rejection } from "./support/errors.js";
import { expectConsistent } from "./support/invariants.js";
import { openssl, verifyCertificate } from "./support/openssl.js";
import { pem } from "./support/pem.js";
import { createStack, type Stack, sdkWith } from "./support/stack.js";

const der = (c: CertificateRecord) => Uint8Array.from(Buffer.from(c.certificate!, "base64"));

/** `openssl verify -crl_check` of a certificate against the CA and its current CRL. */
async function verifyWithCrl(ca: EmbeddedCa, certificate: Uint8Array): Promise<{ status: number; output: string }> {
  const chain = await ca.chain();
  return openssl(["verify", "-crl_check", "-CAfile", "root.pem", "-CRLfile", "crl.pem", "cert.pem"], {
    "root.pem": pem("CERTIFICATE", chain[chain.length - 1]!),
    "crl.pem": pem("X509 CRL", await ca.crl()),
    "cert.pem": pem("CERTIFICATE", certificate),
  });
}

/** The demo policy plus a key-management certificate in 9D whose key is archived, and a 3-day temporary card. */
const policy: Policy = {
  ...staffPivPolicy,
  certificates: [
    ...staffPivPolicy.certificates,
    {
      id: "key-management",
      name: "Key Management (encryption)",
      mandatory: true,
      caId: DEMO_CA_ID,
      slot: "9d",
      keyAlgorithm: "ECCP256",
      subject: "CN={displayName},OU={attributes.department},O=Example Corp",
      san: { email: "{email}" },
      keyUsage: ["keyAgreement"],
      extendedKeyUsage: ["emailProtection"],
      validityDays: 365,
      archiveKey: true,
    },
  ],
  replacement: { temporary: { validityDays: 3, templates: ["piv-auth"] } },
};

/** The same device with some capabilities overridden, or a method failing once. */
function altered(
  device: Device,
  options: { capabilities?: Partial<Device["capabilities"]>; failOnce?: keyof Device },
): Device {
  const capabilities = { ...device.capabilities, ...options.capabilities };
  let failed = false;
  return new Proxy(device, {
    get(target, prop) {
      if (prop === "capabilities") return capabilities;
      if (prop === "importKeyPair" && options.capabilities?.keyImport === false) return undefined;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === options.failOnce && !failed) {
        return async () => {
          failed = true;
          throw new CardwrightError("APDU_CARD_REMOVED", "injected: the card was pulled out of the reader", {
            details: {},
          });
        };
      }
      return value.bind(target);
    },
  });
}

describe("replace lost, stolen, damaged and forgotten virtual YubiKeys, recovering the archived 9D key", () => {
  let stack: Stack;
  let counting: CountingCa;
  let sdk: Cardwright;
  const devices: PivDevice[] = [];
  const cards = new Map<string, { card: CardRecord; device: Device }>();
  const secrets: string[] = [];
  const operator = { id: "operator-1", kind: "operator" as const };
  const alice = { id: "alice", kind: "user" as const };

  async function freshDevice(): Promise<PivDevice> {
    const device = await PivDevice.open(new InMemoryTransport(await VirtualPivCard.create()));
    devices.push(device);
    return device;
  }

  /** Remembers the card's PIN, PUK and management key for the final secret scan. */
  async function collectSecrets(card: CardRecord, pin?: string): Promise<void> {
    const record = (await stack.store.cards.get(card.id))!;
    const key = Buffer.from(
      await stack.vault.unwrap(record.adminCredential!, `cardwright:card:${card.id}:admin-credential`),
    );
    const puk = Buffer.from(await stack.vault.unwrap(record.puk!, `cardwright:card:${card.id}:puk`)).toString("utf8");
    secrets.push(puk, key.toString("hex"), key.toString("base64"));
    if (pin !== undefined) secrets.push(pin);
  }

  /** The archived PKCS#8 of a certificate record, unwrapped, for the scan (and to compare keys). */
  async function archivedKey(c: CertificateRecord): Promise<Buffer> {
    return Buffer.from(await unwrapArchivedKey(stack.vault, c.archivedKey!, { cardId: c.cardId, requestId: c.id }));
  }

  beforeAll(async () => {
    stack = await createStack({ policy });
    devices.push(stack.device);
    counting = new CountingCa(stack.ca);
    sdk = sdkWith(stack, counting, { policies: [policy] });
    const r = await sdk.issueCard({ userId: "alice", device: stack.device, actor: "operator-1" });
    expect(r.status).toBe("active");
    if (r.status !== "active") return;
    cards.set("original", { card: r.card, device: stack.device });
    await collectSecrets(r.card, r.pin);
  });
  afterAll(async () => {
    for (const d of devices) await d.close().catch(() => undefined);
    await stack?.close();
  });

  it("issued the original card with its 9D key generated off-card and archived", async () => {
    const { card } = cards.get("original")!;
    const certs = await stack.store.certificates.list({ cardId: card.id });
    expect(certs.map((c) => c.slot).sort()).toEqual(["9a", "9c", "9d"]);
    const km = certs.find((c) => c.slot === "9d")!;
    expect(km.archivedKey).toBeDefined();
    expect(certs.filter((c) => c.archivedKey !== undefined)).toHaveLength(1);
  });

  it("refuses a user replacing their own card (no default replace permission), changing nothing", async () => {
    const { card } = cards.get("original")!;
    const err = await rejection(
      sdk.replaceCard({ cardId: card.id, reason: "lost", newDevice: await freshDevice(), actor: alice }),
    );
    expect(err.code).toBe("AUTHZ_DENIED");
    expect(err.details.permission).toBe("user:replace:own:active");
    expect((await stack.store.cards.get(card.id))!.state).toBe("active");
    expect((await stack.store.operations.list({ cardId: card.id })).map((o) => o.kind)).toEqual(["issue"]);
    const refused = (await stack.store.audit.list({ cardId: card.id })).at(-1);
    expect(refused).toMatchObject({
      action: "operation.refused",
      actor: "alice",
      details: { operation: "replace", code: "AUTHZ_DENIED", replacementReason: "lost" },
    });
  });

  it("refuses a new card that cannot import keys when the 9D key is to be recovered, before anything changes", async () => {
    const { card } = cards.get("original")!;
    const newDevice = altered(await freshDevice(), { capabilities: { keyImport: false } });
    const err = await rejection(sdk.replaceCard({ cardId: card.id, reason: "lost", newDevice, actor: operator }));
    expect(err.code).toBe("DEVICE_CAPABILITY");
    expect(err.details).toMatchObject({ capability: "keyImport", slots: ["9d"] });
    expect(counting.revokeCalls).toEqual([]);
    expect((await stack.store.cards.get(card.id))!.state).toBe("active");
    expect((await stack.store.certificates.list({ cardId: card.id })).map((c) => c.status)).toEqual([
      "written",
      "written",
      "written",
    ]);
    expect(await stack.store.cards.list({ deviceSerial: newDevice.identity.serial })).toEqual([]);
    const crl = crlEntries(await stack.ca.crl());
    for (const c of await stack.store.certificates.list({ cardId: card.id }))
      expect(crl.has(bare(c.serialHex!))).toBe(false);
    // The old card itself cannot be its own replacement either.
    const self = await rejection(
      sdk.replaceCard({ cardId: card.id, reason: "lost", newDevice: stack.device, actor: operator }),
    );
    expect(self.code).toBe("DEVICE_MISMATCH");
  });

  it("lost: 9A and 9C revoked (Superseded), the 9D certificate and key recovered to the new card, not revoked", async () => {
    const { card } = cards.get("original")!;
    const oldCerts = await stack.store.certificates.list({ cardId: card.id });
    const oldKm = oldCerts.find((c) => c.slot === "9d")!;
    const newDevice = await freshDevice();
    const progress: string[] = [];
    const r = await sdk.replaceCard({
      cardId: card.id,
      reason: "lost",
      newDevice,
      actor: operator,
      comment: "lost on the train",
      onProgress: (e) => progress.push(e.step),
    });
    expect(r.status).toBe("completed");
    if (r.status !== "completed") return;
    await collectSecrets(r.newCard, r.pin);
    cards.set("lost", { card: r.newCard, device: newDevice });
    expect(progress).toEqual(
      expect.arrayContaining(["changeCertificate", "handleOldCard", "issueNewCard", "recoverKey", "done"]),
    );

    // The old card: lost, replaced, its on-card keys' certificates revoked with the rule's reason.
    expect(r.oldCard).toMatchObject({ state: "lost", replacedBy: r.newCard.id });
    expect(r.oldCard.pendingOperationId).toBeUndefined();
    const oldNow = await stack.store.certificates.list({ cardId: card.id });
    expect(Object.fromEntries(oldNow.map((c) => [c.slot, c.status]))).toEqual({
      "9a": "revoked",
      "9c": "revoked",
      "9d": "removed",
    });
    const crl = crlEntries(await stack.ca.crl());
    for (const c of oldCerts.filter((x) => x.slot !== "9d")) expect(crl.get(bare(c.serialHex!))).toBe("Superseded");
    expect(crl.has(bare(oldKm.serialHex!))).toBe(false);
    expect(counting.revokeCalls.map((c) => c.serialHex)).not.toContain(oldKm.serialHex);

    // The new card: active for alice, new 9A/9C, the same 9D certificate, recorded as recovered.
    expect(r.newCard).toMatchObject({ state: "active", userId: "alice" });
    expect(r.certificates.map((c) => c.slot).sort()).toEqual(["9a", "9c", "9d"]);
    expect(r.recovered).toHaveLength(1);
    const km = r.recovered[0]!;
    expect(km).toMatchObject({ slot: "9d", status: "written", serialHex: oldKm.serialHex, recoveredFrom: oldKm.id });
    expect(km.certificate).toBe(oldKm.certificate);
    for (const c of r.certificates) {
      const check = verifyCertificate(der(c), await stack.ca.chain());
      expect(check.status, check.output).toBe(0);
    }
    // With the CRL: the recovered certificate is good, the revoked ones are not.
    expect((await verifyWithCrl(stack.ca, der(km))).status).toBe(0);
    const revoked = await verifyWithCrl(stack.ca, der(oldCerts.find((c) => c.slot === "9a")!));
    expect(revoked.status).not.toBe(0);
    expect(revoked.output).toContain("certificate revoked");

    // The card itself: 9D holds the certificate, and the key the card reports for 9D is the
    // certificate's key — the archived one (a key-management key cannot sign, so compare SPKIs).
    expect(Buffer.from((await newDevice.readCertificate("9d"))!).toString("base64")).toBe(oldKm.certificate);
    const slot = (await newDevice.listObjects()).find((o) => o.slot === "9d")!;
    const certSpki = parseCertificate(der(oldKm)).spki;
    expect(spkiEquals(slot.publicKey!.spki, certSpki)).toBe(true);
    // The key stays archived: re-wrapped for the new card's record, the same PKCS#8 as the old one.
    const oldKey = await archivedKey(oldKm);
    expect((await archivedKey(km)).equals(oldKey)).toBe(true);
    secrets.push(oldKey.toString("base64"), oldKey.toString("hex"));
    // And its public half is what the card holds.
    const { createPrivateKey, createPublicKey } = await import("node:crypto");
    const pub = createPublicKey(createPrivateKey({ key: oldKey, format: "der", type: "pkcs8" })).export({
      format: "der",
      type: "spki",
    });
    expect(spkiEquals(new Uint8Array(pub), slot.publicKey!.spki)).toBe(true);

    const op = (await stack.store.operations.get(r.operationId))!;
    expect(op).toMatchObject({ kind: "replace", status: "completed", actor: "operator-1" });
    const events = (await stack.store.audit.list()).filter((e) => e.operationId === r.operationId);
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        "operation.started",
        "certificate.revoked",
        "card.state",
        "replacement.issued",
        "key.recovered",
        "card.replaced",
      ]),
    );
    expect(events.find((e) => e.action === "operation.started")?.details).toMatchObject({
      replacementReason: "lost",
      revocationReason: "superseded",
      comment: "lost on the train",
      actorKind: "operator",
    });
  });

  it("stolen: Key Compromise on the CRL; the recovered 9D key is recovered again, from the replacement's record", async () => {
    const { card } = cards.get("lost")!;
    const before = await stack.store.certificates.list({ cardId: card.id });
    const newDevice = await freshDevice();
    const r = await sdk.replaceCard({
      cardId: card.id,
      reason: "stolen",
      newDevice,
      actor: operator,
      comment: "bag stolen",
    });
    expect(r.status).toBe("completed");
    if (r.status !== "completed") return;
    await collectSecrets(r.newCard, r.pin);
    cards.set("stolen", { card: r.newCard, device: newDevice });
    expect(r.oldCard.state).toBe("lost");
    const crl = crlEntries(await stack.ca.crl());
    for (const c of before.filter((x) => x.slot !== "9d")) expect(crl.get(bare(c.serialHex!))).toBe("Key Compromise");
    const km = before.find((c) => c.slot === "9d")!;
    expect(crl.has(bare(km.serialHex!))).toBe(false);
    expect(r.recovered.map((c) => c.serialHex)).toEqual([km.serialHex]);
    const slot = (await newDevice.listObjects()).find((o) => o.slot === "9d")!;
    expect(spkiEquals(slot.publicKey!.spki, parseCertificate(der(km)).spki)).toBe(true);
  });

  it("damaged: Cessation Of Operation, the old card damaged", async () => {
    const { card } = cards.get("stolen")!;
    const before = await stack.store.certificates.list({ cardId: card.id });
    const newDevice = await freshDevice();
    const r = await sdk.replaceCard({ cardId: card.id, reason: "damaged", newDevice, actor: operator });
    expect(r.status).toBe("completed");
    if (r.status !== "completed") return;
    await collectSecrets(r.newCard, r.pin);
    cards.set("damaged", { card: r.newCard, device: newDevice });
    expect(r.oldCard).toMatchObject({ state: "damaged", replacedBy: r.newCard.id });
    const crl = crlEntries(await stack.ca.crl());
    for (const c of before.filter((x) => x.slot !== "9d")) {
      expect(crl.get(bare(c.serialHex!))).toBe("Cessation Of Operation");
    }
    // A damaged card found to still answer can be wiped: damaged → retired is in the table.
    const wiped = await sdk.retireCard({ cardId: card.id, device: cards.get("stolen")!.device, actor: operator });
    expect(wiped.card.state).toBe("retired");
    expect(await cards.get("stolen")!.device.listObjects()).toEqual([]);
  });

  it("forgotten: the card is held (Certificate Hold), a 3-day temporary card with only PIV Authentication is issued", async () => {
    const { card } = cards.get("damaged")!;
    const held = await stack.store.certificates.list({ cardId: card.id });
    const temporaryDevice = await freshDevice();
    const r = await sdk.replaceCard({
      cardId: card.id,
      reason: "forgotten",
      newDevice: temporaryDevice,
      actor: operator,
      comment: "left at home",
    });
    expect(r.status).toBe("completed");
    if (r.status !== "completed") return;
    await collectSecrets(r.newCard, r.pin);
    cards.set("temporary", { card: r.newCard, device: temporaryDevice });
    expect(r.oldCard).toMatchObject({ state: "suspended", replacedBy: r.newCard.id });
    const crl = crlEntries(await stack.ca.crl());
    for (const c of held) expect(crl.get(bare(c.serialHex!))).toBe("Certificate Hold");
    // Only piv-auth, valid three days (the CA may round to the second), nothing recovered.
    expect(r.certificates.map((c) => c.templateId)).toEqual(["piv-auth"]);
    expect(r.recovered).toEqual([]);
    const cert = parseCertificate(der(r.certificates[0]!));
    const days = (Date.parse(cert.notAfter) - Date.parse(cert.notBefore)) / 86_400_000;
    expect(days).toBeGreaterThan(2.9);
    expect(days).toBeLessThanOrEqual(3.01);
    expect(r.newCard.temporary).toEqual({ replacesCardId: card.id, expiresAt: r.certificates[0]!.notAfter });
    const check = verifyCertificate(der(r.certificates[0]!), await stack.ca.chain());
    expect(check.status, check.output).toBe(0);
    expect(await temporaryDevice.readCertificate("9d")).toBeNull();
  });

  it("the permanent card returns: the temporary card is revoked and wiped to factory state, the hold lifted", async () => {
    const permanent = cards.get("damaged")!;
    const temporary = cards.get("temporary")!;
    const tempCerts = await stack.store.certificates.list({ cardId: temporary.card.id });
    // The wrong card offered as the permanent one is refused.
    const wrong = await rejection(
      sdk.returnTemporaryCard({
        temporaryCardId: temporary.card.id,
        temporaryDevice: temporary.device,
        permanentDevice: temporary.device,
        actor: operator,
      }),
    );
    expect(wrong.code).toBe("DEVICE_MISMATCH");
    // Not a temporary card.
    const notTemporary = await rejection(
      sdk.returnTemporaryCard({
        temporaryCardId: permanent.card.id,
        temporaryDevice: permanent.device,
        permanentDevice: permanent.device,
        actor: operator,
      }),
    );
    expect(notTemporary.code).toBe("CARD_STATE");

    const r = await sdk.returnTemporaryCard({
      temporaryCardId: temporary.card.id,
      temporaryDevice: temporary.device,
      permanentDevice: permanent.device,
      actor: operator,
      comment: "brought the card back",
    });
    expect(r.operationIds).toHaveLength(3);
    expect(r.temporaryCard.state).toBe("retired");
    expect(r.temporaryCard.temporary?.returnedAt).toBeDefined();
    expect(r.permanentCard.state).toBe("active");
    expect(r.permanentCard.replacedBy).toBeUndefined();
    // The temporary card is in factory state: nothing in any slot, factory credentials work.
    expect(await temporary.device.listObjects()).toEqual([]);
    const factory = await temporary.device.factoryCredentials();
    await temporary.device.authenticateAdmin(factory.admin);
    await temporary.device.verifyPin(factory.pin);
    const crl = crlEntries(await stack.ca.crl());
    for (const c of tempCerts) expect(crl.get(bare(c.serialHex!))).toBe("Cessation Of Operation");
    for (const c of await stack.store.certificates.list({ cardId: permanent.card.id })) {
      expect(c.status).toBe("written");
      expect(crl.has(bare(c.serialHex!))).toBe(false);
    }
    expect((await stack.store.audit.list({ cardId: permanent.card.id })).at(-1)).toMatchObject({
      action: "card.returned",
      actor: "operator-1",
      details: { temporaryCardId: temporary.card.id, comment: "brought the card back" },
    });
    // Returned once only.
    const again = await rejection(
      sdk.returnTemporaryCard({
        temporaryCardId: temporary.card.id,
        temporaryDevice: temporary.device,
        permanentDevice: permanent.device,
        actor: operator,
      }),
    );
    expect(again.code).toBe("CARD_STATE");
  });

  it("a replacement interrupted after the old card was handled resumes with the new card's issue, revoking nothing twice", async () => {
    const { card } = cards.get("damaged")!;
    const before = await stack.store.certificates.list({ cardId: card.id });
    const device = await freshDevice();
    const revokesBefore = counting.revokeCalls.length;
    const err = await rejection(
      sdk.replaceCard({
        cardId: card.id,
        reason: "lost",
        newDevice: altered(device, { failOnce: "generateKeyPair" }),
        actor: operator,
      }),
    );
    expect(err.code).toBe("APDU_CARD_REMOVED");
    expect(err.details).toMatchObject({ resumable: true, oldCardHandled: true, newCardIssued: false });
    const operationId = String(err.details.operationId);
    const op = (await stack.store.operations.get(operationId))!;
    expect(op.status).toBe("pending");
    expect((op.snapshot as { value: string; context: { oldCardHandled: boolean } }).context.oldCardHandled).toBe(true);
    const old = (await stack.store.cards.get(card.id))!;
    expect(old).toMatchObject({ state: "lost", pendingOperationId: operationId });
    // The new card's issue rolled back: the card is registered, not active.
    expect((await stack.store.cards.list({ deviceSerial: device.identity.serial }))[0]?.state).toBe("registered");
    const revoked = counting.revokeCalls.slice(revokesBefore).map((c) => c.serialHex);

    // Another instance resumes it with the card back in the reader.
    const other = sdkWith(stack, counting, { policies: [policy] });
    const denied = await rejection(other.resumeReplaceOperation(operationId, { actor: alice, newDevice: device }));
    expect(denied.code).toBe("AUTHZ_DENIED");
    expect(denied.details.permission).toBe("user:replace:own:lost");
    const r = await other.resumeReplaceOperation(operationId, { actor: operator, newDevice: device });
    expect(r.status).toBe("completed");
    if (r.status !== "completed") return;
    await collectSecrets(r.newCard, r.pin);
    expect(r.oldCard).toMatchObject({ state: "lost", replacedBy: r.newCard.id });
    expect(r.recovered.map((c) => c.slot)).toEqual(["9d"]);
    // Each of the old card's revoked certificates went to the CA exactly once.
    const after = counting.revokeCalls.slice(revokesBefore).map((c) => c.serialHex);
    for (const c of before.filter((x) => x.slot !== "9d")) {
      expect(after.filter((s) => s === c.serialHex)).toHaveLength(1);
      expect(revoked).toContain(c.serialHex);
    }
    expect((await stack.store.operations.get(operationId))!.status).toBe("completed");
    await expect(other.resumeReplaceOperation(operationId, { actor: operator })).rejects.toMatchObject({
      code: "WORKFLOW_STATE",
    });
  });

  it("audited everything in a hash chain that verifies, with no PIN, PUK, management key or archived key anywhere", async () => {
    expect((await sdk.verifyAudit()).ok).toBe(true);
    // The failure rule over the whole run: every certificate the CA issued is on an active card
    // (and in its slot) or revoked, the recovered 9D one on the last replacement.
    await expectConsistent(stack.store, stack.ca, new Map(devices.map((d) => [d.identity.serial, d])));
    const operations = await stack.store.operations.list();
    expect(operations.filter((o) => o.kind === "replace").map((o) => o.status)).toEqual([
      "completed",
      "completed",
      "completed",
      "completed",
      "completed",
    ]);
    // Every event of every replacement names its actor, kind and reason.
    const replaceIds = new Set(operations.filter((o) => o.kind === "replace").map((o) => o.id));
    const replaceEvents = (await stack.store.audit.list()).filter((e) => replaceIds.has(e.operationId ?? ""));
    expect(replaceEvents.length).toBeGreaterThan(30);
    for (const e of replaceEvents.filter((x) => x.details?.replacementReason !== undefined)) {
      expect(e).toMatchObject({ actor: "operator-1", details: { actorKind: "operator" } });
    }
    expect(new Set(replaceEvents.map((e) => e.details?.replacementReason))).toEqual(
      new Set(["lost", "stolen", "damaged", "forgotten", undefined]),
    );
    const requests = (await Promise.all(operations.map((o) => stack.store.requests.listByOperation(o.id)))).flat();
    const everything = JSON.stringify([
      await stack.store.cards.list(),
      await stack.store.certificates.list(),
      operations,
      requests,
      await stack.store.audit.list(),
    ]);
    expect(secrets.length).toBeGreaterThanOrEqual(20);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe("a policy that treats theft as compromise of the escrowed key too (keyRecovery: false for stolen)", () => {
  let stack: Stack;
  let device: PivDevice | undefined;
  const strict: Policy = {
    ...policy,
    replacement: {
      ...policy.replacement,
      reasons: {
        stolen: {
          oldCard: "revoke",
          revocationReason: "keyCompromise",
          oldCardState: "lost",
          newCard: "permanent",
          keyRecovery: false,
        },
      },
    },
  };

  beforeAll(async () => {
    stack = await createStack({ policy: strict });
  });
  afterAll(async () => {
    await device?.close().catch(() => undefined);
    await stack?.close();
  });

  it("revokes the 9D certificate with the others and gives the new card a new, archived 9D key", async () => {
    const issued = await stack.cardwright.issueCard({ userId: "bob", device: stack.device, actor: "operator-1" });
    expect(issued.status).toBe("active");
    const before = await stack.store.certificates.list({ cardId: issued.card.id });
    const oldKm = before.find((c) => c.slot === "9d")!;
    device = await PivDevice.open(new InMemoryTransport(await VirtualPivCard.create()));
    const r = await stack.cardwright.replaceCard({
      cardId: issued.card.id,
      reason: "stolen",
      newDevice: device,
      actor: { id: "operator-2", kind: "operator" },
      comment: "stolen with the laptop bag",
    });
    expect(r.status).toBe("completed");
    if (r.status !== "completed") return;
    expect(r.recovered).toEqual([]);
    const crl = crlEntries(await stack.ca.crl());
    for (const c of before) expect(crl.get(bare(c.serialHex!))).toBe("Key Compromise");
    const km = r.certificates.find((c) => c.slot === "9d")!;
    expect(km.serialHex).not.toBe(oldKm.serialHex);
    expect(km.archivedKey).toBeDefined();
    expect(km.recoveredFrom).toBeUndefined();
    const slot = (await device.listObjects()).find((o) => o.slot === "9d")!;
    expect(spkiEquals(slot.publicKey!.spki, parseCertificate(der(km)).spki)).toBe(true);
    expect(spkiEquals(slot.publicKey!.spki, parseCertificate(der(oldKm)).spki)).toBe(false);
    expect((await stack.cardwright.verifyAudit()).ok).toBe(true);
  });
});

describe("a card an update moved to another policy is replaced under that policy", () => {
  /** Applies to nobody in the directory: a card gets it only by an update's `policyId`. */
  const special: Policy = {
    ...staffPivPolicy,
    id: "staff-piv-special",
    name: "Staff PIV, special assignment",
    priority: 0,
    appliesTo: { groups: ["nobody"] },
    certificates: staffPivPolicy.certificates.filter((t) => t.slot === "9a"),
  };
  let stack: Stack;
  let device: PivDevice | undefined;

  beforeAll(async () => {
    stack = await createStack();
  });
  afterAll(async () => {
    await device?.close().catch(() => undefined);
    await stack?.close();
  });

  it("keeps the updated policy on the new card instead of the one the directory resolves", async () => {
    const sdk = sdkWith(stack, stack.ca, { policies: [staffPivPolicy, special] });
    const operator = { id: "operator-1", kind: "operator" as const };
    const issued = await sdk.issueCard({ userId: "alice", device: stack.device, actor: "operator-1" });
    if (issued.status !== "active") throw new Error("issue did not complete");
    const updated = await sdk.updateCard({
      cardId: issued.card.id,
      device: stack.device,
      actor: operator,
      policyId: special.id,
      pin: issued.pin!,
    });
    expect(updated.status).toBe("completed");
    device = await PivDevice.open(new InMemoryTransport(await VirtualPivCard.create()));
    const r = await sdk.replaceCard({ cardId: issued.card.id, reason: "lost", newDevice: device, actor: operator });
    expect(r.status).toBe("completed");
    if (r.status !== "completed") return;
    expect(r.newCard.policyId).toBe(special.id);
    expect(r.certificates.map((c) => c.slot).sort()).toEqual(["9a"]);
    const auth = r.certificates[0]!;
    const v = verifyCertificate(der(auth), await stack.ca.chain());
    expect(v.status, v.output).toBe(0);
  });
});
