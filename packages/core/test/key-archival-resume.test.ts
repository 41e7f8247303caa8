/**
 * Key archival across a crash: the process dies while importing the archived key (before or after
 * the card applied it); the resumed run re-imports the key it archived rather than making another,
 * so the certificate, the card and the archive all hold one and the same key.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AesGcmSecretVault,
  Cardwright,
  type CertificateTemplate,
  type Policy,
  parseCertificate,
  publicKeyOfPkcs8,
  type Store,
  unwrapArchivedKey,
} from "../src/index.js";
import { examplePivPolicy, InMemoryDirectory, InMemoryStore, SoftwareKeyDevice } from "../src/testing/index.js";
import { ann, archivedKeyManagement } from "./support/fixtures.js";
import { mortalStore } from "./support/mortal-store.js";
import { ScriptedCa } from "./support/scripted-ca.js";

const base = examplePivPolicy();
const policy: Policy = { ...base, certificates: [base.certificates[0] as CertificateTemplate, archivedKeyManagement] };
const DYING_LEASE_MS = 250;

describe("archived key import interrupted by a crash", () => {
  it.each([false, true])(
    "dies in importKeyPair (applied: %s): the resumed run imports the same archived key",
    async (applied) => {
      const store = new InMemoryStore();
      const vault = AesGcmSecretVault.fromKey("kek-1", new Uint8Array(randomBytes(32)));
      const ca = new ScriptedCa("ca");
      const facade = (s: Store = store, leaseTtlMs?: number) =>
        new Cardwright({
          store: s,
          vault,
          directory: new InMemoryDirectory([ann]),
          certificateAuthorities: [ca],
          policies: [policy],
          ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
        });
      const mortal = mortalStore(store);
      const device = new SoftwareKeyDevice({ serial: `archive-${applied}` });
      device.failOn("importKeyPair", { hang: true, applied });
      void facade(mortal.store, DYING_LEASE_MS).issueCard({ userId: "ann", device, actor: "op" });
      for (let i = 0; i < 400 && !device.calls.includes("importKeyPair"); i++)
        await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
      const [operation] = await store.operations.list();
      expect(operation?.status).toBe("running");
      // The key was archived before the card was asked to take it.
      const archived = (await store.requests.listByOperation(operation!.id)).find(
        (r) => r.templateId === "key-management",
      );
      expect(archived?.archivedKey).toBeDefined();
      expect(archived?.csr).toBeUndefined();

      mortal.kill();
      const lease = await store.leases.get(operation!.cardId);
      const wait = Date.parse(lease!.expiresAt) - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + 10));
      device.insertCard();
      const done = await facade().resumeOperation(operation!.id, { device, actor: "op-2" });
      if (done.status !== "active") throw new Error("expected active");

      const record = done.certificates.find((c) => c.slot === "9d");
      expect(record?.archivedKey).toEqual(archived?.archivedKey);
      const pkcs8 = await unwrapArchivedKey(vault, record!.archivedKey!, {
        cardId: done.card.id,
        requestId: record!.id,
      });
      const certified = parseCertificate(Buffer.from(record!.certificate!, "base64")).spki;
      expect(Buffer.from(publicKeyOfPkcs8("ECCP256", pkcs8)).equals(Buffer.from(certified))).toBe(true);
      const onCard = (await device.listObjects()).find((o) => o.slot === "9d")?.publicKey?.spki;
      expect(Buffer.from(onCard ?? []).equals(Buffer.from(certified))).toBe(true);
      const archivals = (await store.audit.list()).filter((e) => e.action === "key.archived");
      expect(archivals).toHaveLength(1);
      // The 9D key is never generated on the device.
      expect(device.calls.filter((c) => c === "generateKeyPair")).toHaveLength(1);
    },
  );
});
