/**
 * End-to-end issue on a virtual YubiKey through every real layer, each result cross-checked with
 * OpenSSL and with the card itself.
 */
import { type IssueResult, parseCertificate } from "@cardwright/core";
import { KeyRef } from "@cardwright/pcsc";
import { YUBIKEY_5_ATR } from "@cardwright/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSlotSignaturesVerify } from "./support/card-checks.js";
import { certificateText, verifyCertificate, verifyCsr } from "./support/openssl.js";
import { createStack, type Stack } from "./support/stack.js";

const b64 = (s: string) => Uint8Array.from(Buffer.from(s, "base64"));

describe("issue on a virtual YubiKey with the embedded CA and store", () => {
  let stack: Stack;
  let result: Extract<IssueResult, { status: "active" }>;
  const progress: string[] = [];

  beforeAll(async () => {
    stack = await createStack();
    const r = await stack.cardwright.issueCard({
      userId: "alice",
      device: stack.device,
      actor: "operator-1",
      onProgress: (e) => progress.push(`${e.step}:${e.index}/${e.total}`),
    });
    expect(r.status).toBe("active");
    result = r as typeof result;
  });
  afterAll(async () => stack?.close());

  it("records an active card with both certificates written", async () => {
    expect(result.card.state).toBe("active");
    expect(result.card.userId).toBe("alice");
    expect(result.card.deviceSerial).toBe(String(stack.card.serial));
    expect(result.certificates.map((c) => [c.slot, c.status]).sort()).toEqual([
      ["9a", "written"],
      ["9c", "written"],
    ]);
    expect(progress.length).toBeGreaterThan(5);
    expect(YUBIKEY_5_ATR.length).toBeGreaterThan(0);
  });

  it("issues certificates openssl verifies against the CA, with the policy's subject, SAN and EKU", async () => {
    const chain = await stack.ca.chain();
    for (const record of result.certificates) {
      const der = b64(record.certificate!);
      const v = verifyCertificate(der, chain);
      expect(v.output).toContain("cert.pem: OK");
      expect(v.status).toBe(0);
      const text = certificateText(der);
      expect(text).toContain("Alice Example");
      if (record.slot === "9a") {
        expect(text).toContain("Microsoft Smartcard Login");
        expect(text).toContain("TLS Web Client Authentication");
        expect(text).toMatch(/othername:\s*UPN::alice@corp\.example\.com|UPN:alice@corp\.example\.com/i);
      } else {
        expect(text).toContain("email:alice@example.com");
        expect(text).toContain("E-mail Protection");
      }
    }
  });

  it("made CSRs that openssl req -verify accepts, signed by the card", async () => {
    const [operation] = await stack.store.operations.list({ cardId: result.card.id });
    const requests = await stack.store.requests.listByOperation(operation!.id);
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      const v = verifyCsr(b64(request.csr!));
      expect(v.output).toMatch(/verify OK|Certificate request self-signature verify OK/);
      expect(v.status).toBe(0);
    }
  });

  it("certifies exactly the public key the card generated in each slot", async () => {
    for (const record of result.certificates) {
      const keyRef = Number.parseInt(record.slot, 16);
      const metadata = await stack.device.session.getMetadata(keyRef);
      const cert = parseCertificate(b64(record.certificate!));
      expect(Buffer.from(cert.spki).equals(Buffer.from(metadata.publicKey!))).toBe(true);
      // And the certificate stored on the card is the one recorded.
      const onCard = await stack.device.readCertificate(record.slot);
      expect(Buffer.from(onCard!).toString("base64")).toBe(record.certificate);
    }
  });

  it("signs with each slot's key under the random PIN, verified with the certificate", async () => {
    expect(result.pin).toMatch(/^\d{8}$/);
    await expectSlotSignaturesVerify(stack.device, result.certificates, result.pin!);
  });

  it("replaced the factory management key with the vault-wrapped random one", async () => {
    const factory = await stack.device.factoryCredentials();
    await expect(stack.device.authenticateAdmin(factory.admin)).rejects.toMatchObject({ code: "PIV_AUTH_FAILED" });
    const card = (await stack.store.cards.get(result.card.id))!;
    expect(card.adminCredential?.alg).toBe("A256GCM");
    const key = await stack.vault.unwrap(card.adminCredential!, `cardwright:card:${card.id}:admin-credential`);
    await stack.device.authenticateAdmin({ kind: "management-key", algorithm: "AES192", key });
  });

  it("wrote a fresh CHUID (GUID recorded on the card record) and a CCC", async () => {
    const chuid = await stack.device.session.readChuid();
    expect(Buffer.from(chuid!.guid).toString("hex")).toBe(result.card.chuidGuid);
    expect(await stack.device.session.readCcc()).not.toBeNull();
  });

  it("keeps PIN, PUK and management key out of the store, snapshots and audit", async () => {
    const card = (await stack.store.cards.get(result.card.id))!;
    const mgmKey = Buffer.from(
      await stack.vault.unwrap(card.adminCredential!, `cardwright:card:${card.id}:admin-credential`),
    );
    const puk = Buffer.from(await stack.vault.unwrap(card.puk!, `cardwright:card:${card.id}:puk`)).toString("utf8");
    const [operation] = await stack.store.operations.list({ cardId: card.id });
    const everything = JSON.stringify([
      await stack.store.cards.list(),
      await stack.store.certificates.list(),
      await stack.store.operations.list(),
      await stack.store.requests.listByOperation(operation!.id),
      await stack.store.audit.list(),
      stack.notifier.sent.filter((n) => n.kind !== "pin"),
    ]);
    for (const secret of [result.pin!, puk, mgmKey.toString("hex"), mgmKey.toString("base64")]) {
      expect(everything).not.toContain(secret);
    }
    // The PIN reached the user through the notifier, the one channel meant for it.
    expect(stack.notifier.ofKind("pin").some((n) => n.pin === result.pin)).toBe(true);
  });

  it("audited every state change in a hash chain that verifies", async () => {
    const verification = await stack.cardwright.verifyAudit();
    expect(verification.ok).toBe(true);
    const actions = (await stack.store.audit.list({ cardId: result.card.id })).map((e) => e.action);
    expect(actions.length).toBeGreaterThanOrEqual(3);
  });

  it("uses the key types the card reports for its slots", async () => {
    expect((await stack.device.session.getMetadata(KeyRef.authentication)).algorithm).toBe("ECCP256");
    expect((await stack.device.session.getMetadata(KeyRef.signature)).algorithm).toBe("RSA2048");
  });
});
