/**
 * Embedding cardwright: an application brings its own user directory and notification channel
 * (two small ports), picks a CA and a store, and issues a PIV card.
 *
 *   node --conditions=source --import tsx examples/issue-card.ts
 *
 * Here the card is a virtual YubiKey and the CA and store live in memory; in production the
 * transport is a PC/SC reader, the CA is your AD CS / EJBCA / CMP CA, the store PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  Cardwright,
  type Directory,
  type DirectoryUser,
  type Notification,
  type Notifier,
  type Policy,
} from "@cardwright/core";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { PgliteStore } from "@cardwright/store-sql";

/** Your HR system or LDAP, behind the Directory port. */
class HrDirectory implements Directory {
  readonly #users = new Map<string, DirectoryUser>([
    [
      "e1042",
      {
        id: "e1042",
        displayName: "Grace Hopper",
        upn: "ghopper@corp.example.org",
        email: "grace.hopper@example.org",
        groups: ["engineering"],
        attributes: { employeeNumber: "1042" },
      },
    ],
  ]);
  async getUser(id: string): Promise<DirectoryUser | null> {
    return this.#users.get(id) ?? null;
  }
}

/** Your mail or chat gateway, behind the Notifier port. Only `pin` notifications carry a secret. */
class ConsoleNotifier implements Notifier {
  async notify(n: Notification): Promise<void> {
    if (n.kind === "pin") console.log(`  (notifier) PIN for ${n.userId} sent through the secure channel`);
    else console.log(`  (notifier) ${n.kind} for card ${n.cardId}`);
  }
}

const policy: Policy = {
  id: "engineering-piv",
  version: 1,
  name: "Engineering PIV",
  priority: 1,
  appliesTo: { groups: ["engineering"] },
  deviceTypes: ["piv"],
  initialiseOnIssue: true,
  pin: { minLength: 6, maxLength: 8, allowed: ["digits"], random: true, randomPuk: true },
  certificates: [
    {
      id: "logon",
      name: "Smart card logon",
      mandatory: true,
      caId: "issuing-ca",
      slot: "9a",
      keyAlgorithm: "ECCP256",
      subject: "CN={displayName},serialNumber={attributes.employeeNumber},O=Example Org",
      san: { upn: "{upn}" },
      keyUsage: ["digitalSignature"],
      extendedKeyUsage: ["clientAuth", "smartcardLogon"],
      validityDays: 365,
    },
  ],
};

const ca = await EmbeddedCa.create({
  id: "issuing-ca",
  subject: "CN=Example Org Issuing CA,O=Example Org",
  keyAlgorithm: "ECCP256",
  validityDays: 1825,
});
const store = await PgliteStore.open(); // in memory; pass { dataDir } to keep it
const cardwright = new Cardwright({
  store,
  // The KEK comes from your KMS or HSM; a random one here.
  vault: new AesGcmSecretVault({ keys: { "kek-2026": randomBytes(32) }, currentKekId: "kek-2026" }),
  directory: new HrDirectory(),
  certificateAuthorities: [ca],
  policies: [policy],
  notifier: new ConsoleNotifier(),
});

const device = await PivDevice.open(new InMemoryTransport(await VirtualPivCard.create()));
const result = await cardwright.issueCard({
  userId: "e1042",
  device,
  actor: "helpdesk-7",
  onProgress: (e) => console.log(`  ${e.step} ${e.index}/${e.total}`),
});
if (result.status !== "active") throw new Error(`unexpected ${result.status}`);
for (const c of result.certificates) console.log(`issued ${c.slot}: ${c.subject}, serial ${c.serialHex}`);
console.log(`card ${result.card.id} is ${result.card.state}`);
await device.close();
await store.close();
