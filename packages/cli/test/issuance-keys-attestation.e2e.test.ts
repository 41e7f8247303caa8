/**
 * End-to-end key archival and attestation policy on a virtual YubiKey with the embedded CA and a
 * PGlite store, every part real:
 * - a 9D key-management template with `archiveKey`: the key is generated off-card, archived
 *   wrapped, imported (the card reports it `imported`), certified, and the archive unwraps to the
 *   certified key; no store row, snapshot or SQL table holds the clear key;
 * - `archiveKey` on a device that cannot import is refused before anything is generated;
 * - `requireAttestation`: the slot attestation chain is verified against the configured root and
 *   kept on the request, and `openssl verify -partial_chain` agrees; against the wrong root the
 *   issue fails with `ATTESTATION_FAILED` and nothing reaches the CA.
 */
import { createPublicKey, verify as verifySignature } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  Cardwright,
  type CertificateAuthority,
  type CertificateTemplate,
  type Device,
  type IssueResult,
  isCardwrightError,
  type Policy,
  parseCertificate,
  publicKeyOfPkcs8,
  unwrapArchivedKey,
} from "@cardwright/core";
import { InMemoryDirectory, SoftwareKeyDevice } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { AttestationAuthority, InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { migrate, migrations, PgliteExecutor, SqlStore } from "@cardwright/store-sql";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "../src/index.js";
import { rejection as refusalOf } from "./support/errors.js";
import { openssl } from "./support/openssl.js";
import { certificatePem } from "./support/pem.js";
import {
  addSqlTables,
  addStoreRows,
  describeFindings,
  Haystack,
  harvestVirtualCard,
  recordingDevice,
  SecretRegistry,
  scanForSecrets,
} from "./support/secret-scan.js";
import { TEST_KEK } from "./support/stack.js";

const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** `openssl verify -partial_chain -CAfile root.pem -untrusted intermediate.pem leaf.pem`. */
function opensslVerifyAttestation(root: Uint8Array, chain: readonly Uint8Array[]) {
  const [leaf, intermediate] = chain;
  if (leaf === undefined || intermediate === undefined) throw new Error("attestation chain without F9 certificate");
  return openssl(["verify", "-partial_chain", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "leaf.pem"], {
    "root.pem": certificatePem(root),
    "intermediate.pem": certificatePem(intermediate),
    "leaf.pem": certificatePem(leaf),
  });
}

/** The CardwrightError an issue is expected to be refused with. */
const rejection = (p: Promise<unknown>) => refusalOf(p, "expected a CardwrightError, the issue succeeded");

const pivAuth = staffPivPolicy.certificates.find((t) => t.id === "piv-auth") as CertificateTemplate;

/** A 9D key-management certificate whose key is archived (RSA key transport, as S/MIME uses it). */
const keyManagement: CertificateTemplate = {
  id: "key-management",
  name: "Key Management",
  mandatory: true,
  caId: DEMO_CA_ID,
  slot: "9d",
  keyAlgorithm: "RSA2048",
  subject: "CN={displayName},OU={attributes.department},O=Example Corp",
  san: { email: "{email}" },
  keyUsage: ["keyEncipherment"],
  extendedKeyUsage: ["emailProtection"],
  validityDays: 365,
  archiveKey: true,
};

const archivePolicy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-archive",
  certificates: [pivAuth, keyManagement],
};

const attestPolicy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-attest",
  certificates: [{ ...pivAuth, requireAttestation: true }],
};

describe("key archival and attestation policy on a virtual YubiKey", () => {
  let dir: string;
  let db: PGlite;
  let store: SqlStore;
  let embedded: EmbeddedCa;
  /** The embedded CA, counting the requests submitted to it. */
  let ca: CertificateAuthority;
  const submitted: string[] = [];
  const vault = new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" });
  let authority: AttestationAuthority;
  let otherAuthority: AttestationAuthority;

  function sdk(policy: Policy, attestationRoots?: readonly Uint8Array[]): Cardwright {
    return new Cardwright({
      store,
      vault,
      directory: new InMemoryDirectory(sampleUsers),
      certificateAuthorities: [ca],
      policies: [policy],
      ...(attestationRoots === undefined ? {} : { attestationRoots }),
    });
  }

  async function virtualYubiKey(): Promise<{ card: VirtualPivCard; device: PivDevice }> {
    const card = await VirtualPivCard.create({ attestationAuthority: authority });
    return { card, device: await PivDevice.open(new InMemoryTransport(card)) };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cw-keys-e2e-"));
    embedded = await EmbeddedCa.create({
      id: DEMO_CA_ID,
      subject: "CN=Cardwright Test CA,O=Example Corp",
      keyAlgorithm: "ECCP256",
      validityDays: 3650,
      directory: join(dir, "ca"),
      approvalMode: "automatic",
    });
    ca = new Proxy(embedded, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === "submit") {
          return (request: Parameters<CertificateAuthority["submit"]>[0]) => {
            submitted.push(request.requestId);
            return target.submit(request);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    db = await PGlite.create({ dataDir: join(dir, "store") });
    const executor = new PgliteExecutor(db);
    await migrate(executor, migrations);
    store = new SqlStore(executor);
    authority = await AttestationAuthority.create({ commonName: "Test Yubico PIV Root CA" });
    otherAuthority = await AttestationAuthority.create({ commonName: "Someone Else's PIV Root CA" });
  });
  afterAll(async () => {
    await db?.close();
  });

  describe("archiveKey: a 9D key generated off-card, archived, imported", () => {
    let result: Extract<IssueResult, { status: "active" }>;
    let card: VirtualPivCard;
    let device: PivDevice;
    const registry = new SecretRegistry();

    beforeAll(async () => {
      ({ card, device } = await virtualYubiKey());
      const recorded: Device = recordingDevice(device, registry, "alice's card");
      const r = await sdk(archivePolicy).issueCard({ userId: "alice", device: recorded, actor: "operator-1" });
      expect(r.status).toBe("active");
      result = r as typeof result;
      harvestVirtualCard(card, registry, "alice's card");
    });

    it("the card holds, as an imported key, the key the 9D certificate certifies; 9A stays on-card generated", async () => {
      const record = result.certificates.find((c) => c.slot === "9d");
      expect(record?.status).toBe("written");
      const certified = parseCertificate(b64(record?.certificate ?? "")).spki;
      const listed = (await device.listObjects()).find((o) => o.slot === "9d");
      expect(listed?.publicKey?.algorithm).toBe("RSA2048");
      expect(same(listed?.publicKey?.spki ?? new Uint8Array(), certified)).toBe(true);
      expect((await device.session.getMetadata(0x9d)).origin).toBe("imported");
      expect((await device.session.getMetadata(0x9a)).origin).toBe("generated");
      // The card's 9D private key answers for the certified public key.
      await device.verifyPin(result.pin ?? "");
      const data = new TextEncoder().encode("proof of possession of the imported key");
      const signature = await device.sign("9d", "RSA2048", "SHA-256", data);
      const key = createPublicKey({ key: Buffer.from(certified), format: "der", type: "spki" });
      expect(verifySignature("sha256", data, key, signature)).toBe(true);
    });

    it("the archived key on the certificate record unwraps to the certified key; 9A has no archive", async () => {
      const record = result.certificates.find((c) => c.slot === "9d");
      expect(record?.archivedKey).toMatchObject({ kekId: "test", alg: "A256GCM" });
      const certified = parseCertificate(b64(record?.certificate ?? "")).spki;
      const pkcs8 = await unwrapArchivedKey(vault, record!.archivedKey!, {
        cardId: result.card.id,
        requestId: record!.id,
      });
      expect(same(publicKeyOfPkcs8("RSA2048", pkcs8), certified)).toBe(true);
      // Wrapped for this card and request only.
      const err = await rejection(
        unwrapArchivedKey(vault, record!.archivedKey!, { cardId: result.card.id, requestId: "another-request" }),
      );
      expect(err.code).toBe("VAULT_UNWRAP_FAILED");
      expect(result.certificates.find((c) => c.slot === "9a")?.archivedKey).toBeUndefined();
      const request = await store.requests.get(record!.id);
      expect(request?.archivedKey).toEqual(record?.archivedKey);
      const actions = (await store.audit.list()).filter((e) => e.cardId === result.card.id).map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(["key.archived", "key.imported", "key.generated"]));
    });

    it("no store row, SQL table or snapshot holds the clear key; snapshots hold no wrapped key either", async () => {
      const keys = registry.ofKind("private-key");
      // The key handed to importKeyPair and the card's own keys (9A, 9D) are all registered. The
      // imported 9D key and the card's copy of it are often byte for byte one secret, registered
      // once under the first label with both sources: so look in the sources, not the label.
      expect(keys.some((k) => k.sources.some((s) => s.includes("importKeyPair")))).toBe(true);
      expect(keys.some((k) => k.sources.some((s) => s.includes("slot 9d")))).toBe(true);
      const haystack = new Haystack();
      await addStoreRows(haystack, store, ["alice"]);
      const tables = await addSqlTables(haystack, (sql) => db.query<Record<string, unknown>>(sql));
      expect(tables.length).toBeGreaterThan(3);
      const findings = scanForSecrets(haystack, keys);
      expect(findings, describeFindings(findings)).toEqual([]);
      const wrapped = result.certificates.find((c) => c.slot === "9d")?.archivedKey?.ciphertext ?? "";
      expect(wrapped.length).toBeGreaterThan(100);
      for (const op of await store.operations.list()) {
        expect(JSON.stringify(op.snapshot ?? null)).not.toContain(wrapped);
        expect(JSON.stringify(op.input ?? null)).not.toContain(wrapped);
      }
    });
  });

  it("archiveKey on a device that cannot import keys is refused before anything is generated", async () => {
    const device = new SoftwareKeyDevice({ serial: "55550001", capabilities: { keyImport: false } });
    const before = submitted.length;
    const err = await rejection(sdk(archivePolicy).issueCard({ userId: "bob", device, actor: "operator-1" }));
    expect(err.code).toBe("DEVICE_CAPABILITY");
    expect(err.details).toMatchObject({ capability: "keyImport", templateId: "key-management" });
    for (const op of ["generateKeyPair", "importKeyPair", "reset", "writeCertificate", "sign"] as const) {
      expect(device.calls).not.toContain(op);
    }
    expect(submitted.length).toBe(before);
    expect(await device.listObjects()).toEqual([]);
  });

  it("a policy that both archives and requires attestation is refused as invalid", () => {
    let caught: unknown;
    try {
      sdk({ ...archivePolicy, certificates: [{ ...keyManagement, requireAttestation: true }] }, [
        authority.certificate,
      ]);
    } catch (err) {
      caught = err;
    }
    expect(isCardwrightError(caught) && caught.code).toBe("POLICY_INVALID");
    expect(isCardwrightError(caught) && caught.details.rule).toBe("archiveKey.requireAttestation");
  });

  it("requireAttestation: the chain verifies against the configured root, is kept on the request, and openssl agrees", async () => {
    const { device } = await virtualYubiKey();
    const r = await sdk(attestPolicy, [authority.certificate]).issueCard({
      userId: "alice",
      device,
      actor: "operator-1",
    });
    expect(r.status).toBe("active");
    const issued = r as Extract<IssueResult, { status: "active" }>;
    const record = issued.certificates.find((c) => c.slot === "9a");
    const request = await store.requests.get(record!.id);
    expect(request?.status).toBe("issued");
    const chain = (request?.attestation ?? []).map(b64);
    expect(chain).toHaveLength(2);
    const [leaf] = chain;
    // The attested key is the certified key.
    expect(same(parseCertificate(leaf!).spki, parseCertificate(b64(record!.certificate!)).spki)).toBe(true);
    expect(parseCertificate(leaf!).subject).toContain("YubiKey PIV Attestation 9a");
    const v = opensslVerifyAttestation(authority.certificate, chain);
    expect(v.output).toContain("leaf.pem: OK");
    expect(v.status).toBe(0);
    const attested = (await store.audit.list()).find((e) => e.action === "key.attested" && e.cardId === issued.card.id);
    expect(attested?.details).toMatchObject({ slot: "9a", deviceSerial: Number(device.identity.serial) });
  });

  it("requireAttestation against the wrong root: ATTESTATION_FAILED, nothing sent to the CA; openssl refuses it too", async () => {
    const { device } = await virtualYubiKey();
    const before = submitted.length;
    const err = await rejection(
      sdk(attestPolicy, [otherAuthority.certificate]).issueCard({ userId: "bob", device, actor: "operator-1" }),
    );
    expect(err.code).toBe("ATTESTATION_FAILED");
    expect(err.details.check).toBe("root");
    expect(submitted.length).toBe(before);
    const cardRecord = (await store.cards.list()).find((c) => c.deviceSerial === device.identity.serial);
    expect(cardRecord?.state).not.toBe("active");
    const operations = (await store.operations.list()).filter((o) => o.cardId === cardRecord?.id);
    expect(operations.length).toBeGreaterThan(0);
    for (const op of operations) {
      for (const request of await store.requests.listByOperation(op.id)) {
        expect(request.csr).toBeUndefined();
        expect(request.status).toBe("created");
      }
    }
    const failed = (await store.audit.list()).find(
      (e) => e.action === "key.attestation.failed" && e.cardId === cardRecord?.id,
    );
    expect(failed?.details).toMatchObject({ check: "root", slot: "9a" });
    // The key the card generated is attested by the card's own root, not by the configured one.
    const chain = await device.attest("9a");
    expect(opensslVerifyAttestation(otherAuthority.certificate, chain).status).not.toBe(0);
    expect(opensslVerifyAttestation(authority.certificate, chain).status).toBe(0);
  });
});
