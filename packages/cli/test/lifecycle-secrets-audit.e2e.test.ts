/**
 * After every lifecycle operation on a virtual YubiKey (embedded CA, PGlite store, every part
 * real): the audit hash chain verifies, the audit lists the operation with its actor (and comment
 * or reason where the operation takes one), and no PIN, PUK, management key or private key appears
 * in any log line, APDU trace line, audit event, persisted snapshot or input, store write, store row
 * (store API and raw SQL over every table), error or notification — see support/secret-scan.ts for
 * how secrets are captured and matched.
 *
 * The operations are a table ({@link ROWS}): a new operation is one more row whose `run` does it
 * and returns what the audit must show. A self-test (below the table) proves the scan catches a
 * planted secret in each place and each encoding, and a whole-token test pins down the PIN rule.
 */
import { spawnSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  type AgentTaskHandlers,
  Cardwright,
  CardwrightError,
  type CertificateAuthority,
  createUnblockChallenge,
  DEFAULT_LIFECYCLE_PERMISSIONS,
  type Device,
  type DeviceIdentity,
  type DeviceProvider,
  type DirectoryUser,
  type EnrollmentAgent,
  type ErrorCode,
  type HashAlgorithm,
  HashChainAuditLog,
  type IssueResult,
  isCardwrightError,
  type LifecycleActor,
  normaliseAnswer,
  type Policy,
  redeemUnblockResponse,
  type Store,
} from "@cardwright/core";
import { InMemoryDirectory, RecordingNotifier } from "@cardwright/core/testing";
import { type ApduTraceEntry, PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { migrate, migrations, PgliteExecutor, SqlStore } from "@cardwright/store-sql";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "../src/index.js";
import {
  addError,
  addLogLines,
  addNotifications,
  addSqlTables,
  addStoreRows,
  addWrites,
  type CapturedSecret,
  describeFindings,
  type Finding,
  Haystack,
  harvestVirtualCard,
  type RecordedWrite,
  RecordingLogger,
  RecordingVault,
  recordingDevice,
  recordingStore,
  SecretRegistry,
  scanForSecrets,
  unpadReferenceData,
} from "./support/secret-scan.js";
import { TEST_KEK } from "./support/stack.js";

// ---------------------------------------------------------------- the stack

/** A user whose policy has them choose their PIN (staff get a random one). */
const carol: DirectoryUser = {
  id: "carol",
  displayName: "Carol Contractor",
  givenName: "Carol",
  surname: "Contractor",
  upn: "carol@corp.example.com",
  email: "carol@example.com",
  groups: ["contractors"],
  attributes: { department: "Facilities" },
};
/** A user whose cards are issued only after a validation officer approved the request. */
const dave: DirectoryUser = {
  ...carol,
  id: "dave",
  displayName: "Dave Validated",
  givenName: "Dave",
  surname: "Validated",
  upn: "dave@corp.example.com",
  email: "dave@example.com",
  groups: ["validated"],
};
/** A user whose encryption key is archived (issue generates it off-card; replace recovers it). */
const erin: DirectoryUser = {
  ...carol,
  id: "erin",
  displayName: "Erin Keyholder",
  givenName: "Erin",
  surname: "Keyholder",
  upn: "erin@corp.example.com",
  email: "erin@example.com",
  groups: ["key-holders"],
};
/** A user who issues their own card once an operator bound it to them (self-service). */
const frank: DirectoryUser = {
  ...carol,
  id: "frank",
  displayName: "Frank Selfserve",
  givenName: "Frank",
  surname: "Selfserve",
  upn: "frank@corp.example.com",
  email: "frank@example.com",
  groups: ["self-service"],
};
/** A user whose requests an enrollment agent signs on their behalf (RFC 5272 CMC). */
const grace: DirectoryUser = {
  ...carol,
  id: "grace",
  displayName: "Grace Onbehalf",
  givenName: "Grace",
  surname: "Onbehalf",
  upn: "grace@corp.example.com",
  email: "grace@example.com",
  groups: ["on-behalf"],
};
/** A user whose certificates are written only after an administrator approved her documents. */
const heidi: DirectoryUser = {
  ...carol,
  id: "heidi",
  displayName: "Heidi Documents",
  givenName: "Heidi",
  surname: "Documents",
  upn: "heidi@corp.example.com",
  email: "heidi@example.com",
  groups: ["documented"],
};
const users = [...sampleUsers, carol, dave, erin, frank, grace, heidi];

/** Contractors choose their PIN; the factory PUK stays (no random PUK). */
const contractorPolicy: Policy = {
  ...staffPivPolicy,
  id: "contractor-piv",
  name: "Contractor PIV card",
  appliesTo: { groups: ["contractors"] },
  pin: { minLength: 6, maxLength: 8, allowed: ["digits"], random: false },
};

/** Validated issuance: a validation officer approves each request first (four-eyes rule). */
const validatedPolicy: Policy = {
  ...staffPivPolicy,
  id: "validated-piv",
  name: "Validated PIV card",
  appliesTo: { groups: ["validated"] },
  issuance: { mode: "validated" },
  // Operators of this policy may also see a card's administrator credential (no default grants it).
  permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "operator", operations: ["view-admin-pin"] }],
};

/**
 * Staff policy plus an encryption certificate (PIV 9D) whose key is archived: generated off-card,
 * wrapped by the vault and imported — the private key passes through the SDK, so it must leak nowhere.
 * It applies to erin's group.
 */
const archivingPolicy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-archive",
  name: "Staff PIV card with key management",
  appliesTo: { groups: ["key-holders"] },
  certificates: [
    ...staffPivPolicy.certificates,
    {
      id: "key-management",
      name: "Key Management",
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
};

/** Self-service: the user issues their own card, once an operator bound it to them. */
const selfServicePolicy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-self-service",
  name: "Self-service PIV card",
  appliesTo: { groups: ["self-service"] },
  issuance: { mode: "self-service", requireBinding: true },
  permissions: [...DEFAULT_LIFECYCLE_PERMISSIONS, { actor: "user", operations: ["issue"], scope: "own" }],
};

/** Enrol on behalf: every request goes to the CA as CMC signed by the enrollment agent. */
const onBehalfPolicy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-on-behalf",
  name: "PIV card enrolled on behalf",
  appliesTo: { groups: ["on-behalf"] },
  issuance: { enrollOnBehalf: true },
};

/** Document check: certificates are written only after an administrator approved both forms. */
const documentsPolicy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-documents",
  name: "PIV card with a document check",
  appliesTo: { groups: ["documented"] },
  documents: {
    required: [
      { type: "certificate-request-form", name: "Certificate request form" },
      { type: "certificate-form", name: "Certificate form" },
    ],
  },
};

/** RFC 5272 id-kp-certificateRequestAgent (Microsoft's Certificate Request Agent EKU). */
const REQUEST_AGENT_EKU = "1.3.6.1.4.1.311.20.2.1";

/** Runs openssl in `dir`; a failure fails the test with openssl's output. */
function opensslIn(dir: string, args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.error) throw r.error;
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
}

/**
 * An enrollment agent made with openssl: a CA-flagged agent issuer (the embedded CA trusts it) and
 * a P-256 agent certificate with the Certificate Request Agent EKU. Both keys are secrets.
 */
function makeEnrollmentAgent(dir: string): {
  issuer: Uint8Array;
  certificate: Uint8Array;
  key: KeyObject;
  issuerKey: KeyObject;
} {
  writeFileSync(
    join(dir, "agent.ext"),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${REQUEST_AGENT_EKU}\n`,
  );
  opensslIn(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "agent-issuer.key"]);
  opensslIn(dir, [
    "req",
    "-x509",
    "-new",
    "-key",
    "agent-issuer.key",
    "-subj",
    "/CN=agent-issuer/O=Example Corp",
    "-days",
    "30",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-outform",
    "PEM",
    "-out",
    "agent-issuer.pem",
  ]);
  opensslIn(dir, ["x509", "-in", "agent-issuer.pem", "-outform", "DER", "-out", "agent-issuer.der"]);
  opensslIn(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "agent.key"]);
  opensslIn(dir, [
    "req",
    "-new",
    "-key",
    "agent.key",
    "-subj",
    "/CN=enrollment-agent/O=Example Corp",
    "-out",
    "agent.csr",
  ]);
  opensslIn(dir, [
    "x509",
    "-req",
    "-in",
    "agent.csr",
    "-CA",
    "agent-issuer.pem",
    "-CAkey",
    "agent-issuer.key",
    "-CAcreateserial",
    "-days",
    "30",
    "-extfile",
    "agent.ext",
    "-outform",
    "DER",
    "-out",
    "agent.der",
  ]);
  const read = (f: string) => readFileSync(join(dir, f));
  const agent = {
    issuer: new Uint8Array(read("agent-issuer.der")),
    certificate: new Uint8Array(read("agent.der")),
    key: createPrivateKey(read("agent.key").toString("utf8")),
    issuerKey: createPrivateKey(read("agent-issuer.key").toString("utf8")),
  };
  rmSync(join(dir, "agent.key"));
  rmSync(join(dir, "agent-issuer.key"));
  return agent;
}

/** Staff policy plus a Card Authentication certificate (PIV 9E): what an update adds. */
const staffPlusPolicy: Policy = {
  ...staffPivPolicy,
  id: "staff-piv-plus",
  name: "Staff PIV card with card authentication",
  priority: 1,
  certificates: [
    ...staffPivPolicy.certificates,
    {
      id: "card-auth",
      name: "Card Authentication",
      mandatory: true,
      caId: DEMO_CA_ID,
      slot: "9e",
      keyAlgorithm: "ECCP256",
      subject: "CN={displayName},O=Example Corp",
      keyUsage: ["digitalSignature"],
      extendedKeyUsage: ["clientAuth"],
      validityDays: 365,
    },
  ],
};

/**
 * The embedded CA with faults to arm: submit (or revoke) call number → error code to throw instead.
 * `use` swaps in another instance over the same CA directory (one in manual approval mode).
 */
class FaultyCa implements CertificateAuthority {
  submitCalls = 0;
  failSubmits = new Map<number, ErrorCode>();
  revokeCalls = 0;
  failRevokes = new Map<number, ErrorCode>();
  constructor(private ca: EmbeddedCa) {}
  use(ca: EmbeddedCa): void {
    this.ca = ca;
  }
  get id() {
    return this.ca.id;
  }
  get renewal() {
    return this.ca.renewal;
  }
  submit: CertificateAuthority["submit"] = async (r) => {
    const code = this.failSubmits.get(++this.submitCalls);
    if (code !== undefined) {
      throw new CardwrightError(code, `injected: the CA answered ${code}`, { details: { requestId: r.requestId } });
    }
    return this.ca.submit(r);
  };
  poll: CertificateAuthority["poll"] = (id) => this.ca.poll(id);
  renew: CertificateAuthority["renew"] = (r) => this.ca.renew(r);
  revoke: CertificateAuthority["revoke"] = async (s, reason) => {
    const code = this.failRevokes.get(++this.revokeCalls);
    if (code !== undefined) {
      throw new CardwrightError(code, `injected: the CA answered ${code}`, { details: { serialHex: s } });
    }
    return this.ca.revoke(s, reason);
  };
  suspend: CertificateAuthority["suspend"] = (s) => this.ca.suspend(s);
  unsuspend: CertificateAuthority["unsuspend"] = (s) => this.ca.unsuspend(s);
  chain: CertificateAuthority["chain"] = () => this.ca.chain();
}

/** One virtual card in its reader, seen through the recording device wrapper. */
interface CardInReader {
  card: VirtualPivCard;
  device: Device;
}

/** Everything one scenario touches, and the recordings the scan reads. */
class Scenario {
  readonly registry = new SecretRegistry();
  readonly logger = new RecordingLogger();
  readonly trace: ApduTraceEntry[] = [];
  readonly notifier = new RecordingNotifier();
  readonly errors: Array<{ where: string; err: unknown }> = [];
  readonly cards = new Map<string, CardInReader>();
  /** Random PINs handed back (issue, reset), by card id: what each `pin` notification must carry. */
  readonly pins = new Map<string, string[]>();
  /** The validated-issuance request the rows decide. */
  approvalId: string | undefined;
  /** The issue operation waiting for its documents. */
  documentIssue: string | undefined;
  /** Every issue result, by card name. */
  readonly issued = new Map<string, Extract<IssueResult, { status: "active" }>>();
  readonly cardwright: Cardwright;
  #scanned = { logs: 0, trace: 0, writes: 0, notifications: 0, errors: 0 };

  private constructor(
    readonly dir: string,
    readonly db: PGlite,
    readonly store: Store,
    readonly writes: RecordedWrite[],
    readonly ca: FaultyCa,
    readonly embeddedCa: EmbeddedCa,
    enrollmentAgent: EnrollmentAgent,
  ) {
    this.cardwright = new Cardwright({
      store,
      vault: new RecordingVault(
        new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" }),
        this.registry,
      ),
      directory: new InMemoryDirectory(users),
      certificateAuthorities: [ca],
      policies: [
        staffPivPolicy,
        contractorPolicy,
        validatedPolicy,
        archivingPolicy,
        staffPlusPolicy,
        selfServicePolicy,
        onBehalfPolicy,
        documentsPolicy,
      ],
      enrollmentAgent,
      notifier: this.notifier,
      logger: this.logger,
      caRetry: { attempts: 2, baseDelayMs: 1, sleep: async () => undefined },
    });
  }

  static async create(): Promise<Scenario> {
    const dir = mkdtempSync(join(tmpdir(), "cw-secrets-"));
    const agentDir = mkdtempSync(join(dir, "agent-"));
    const agent = makeEnrollmentAgent(agentDir);
    const embeddedCa = await EmbeddedCa.create({
      enrollmentAgentIssuers: [agent.issuer],
      id: DEMO_CA_ID,
      subject: "CN=Cardwright Test CA,O=Example Corp",
      keyAlgorithm: "ECCP256",
      validityDays: 3650,
      directory: join(dir, "ca"),
      approvalMode: "automatic",
    });
    // The store over a PGlite of our own, so the scan can also read every table with raw SQL.
    const db = await PGlite.create({ dataDir: join(dir, "store") });
    const executor = new PgliteExecutor(db);
    await migrate(executor, migrations);
    const { store, writes } = recordingStore(new SqlStore(executor));
    // The agent key signs through the callback only, as the embedding application configures it.
    const enrollmentAgent: EnrollmentAgent = {
      certificate: agent.certificate,
      sign: async (data: Uint8Array, hash: HashAlgorithm) =>
        new Uint8Array(sign(hash.replace("-", "").toLowerCase(), data, { key: agent.key, dsaEncoding: "der" })),
    };
    const scenario = new Scenario(dir, db, store, writes, new FaultyCa(embeddedCa), embeddedCa, enrollmentAgent);
    scenario.registry.addPrivateKey(agent.key.export({ format: "der", type: "pkcs8" }), "enrollment agent key");
    scenario.registry.addPrivateKey(agent.issuerKey.export({ format: "der", type: "pkcs8" }), "agent issuer key");
    // Keys that must never reach the store either: the vault's KEK and the CA's signing key.
    scenario.registry.add("vault-secret", "vault KEK", TEST_KEK);
    for (const file of readdirSync(join(dir, "ca"))) {
      const text = readFileSync(join(dir, "ca", file), "utf8");
      if (!text.includes("PRIVATE KEY-----")) continue;
      const der = createPrivateKey(text).export({ format: "der", type: "pkcs8" });
      scenario.registry.addPrivateKey(der, `CA key ${file}`);
    }
    expect(scenario.registry.ofKind("private-key").length, "the CA key was found").toBeGreaterThan(0);
    return scenario;
  }

  /** A new virtual card in a reader; its factory secrets are registered at once. */
  async insert(name: string): Promise<CardInReader> {
    const card = await VirtualPivCard.create();
    const piv = await PivDevice.open(new InMemoryTransport(card), { trace: (e) => this.trace.push(e) });
    const device = recordingDevice(piv, this.registry, name);
    await device.factoryCredentials();
    harvestVirtualCard(card, this.registry, name);
    const entry = { card, device };
    this.cards.set(name, entry);
    return entry;
  }

  /** A random PIN the SDK handed back for `cardId`: a secret, and what its `pin` notification must carry. */
  returnedPin(cardId: string, pin: string, label: string): void {
    this.pins.set(cardId, [...(this.pins.get(cardId) ?? []), pin]);
    this.registry.add("pin", label, pin);
  }

  reader(name: string): CardInReader {
    const entry = this.cards.get(name);
    if (entry === undefined) throw new Error(`no card ${name} in a reader`);
    return entry;
  }

  /** Runs `p`, expecting a CardwrightError; keeps it for the scan. */
  async refusal(where: string, p: Promise<unknown>): Promise<CardwrightError> {
    try {
      await p;
    } catch (err) {
      this.errors.push({ where, err });
      if (isCardwrightError(err)) return err;
      throw err;
    }
    throw new Error(`${where}: expected a CardwrightError`);
  }

  /**
   * The readers as an agent sees them: each card in a reader, opened afresh over the same virtual
   * card, traced and recorded like every other device.
   */
  readers(): DeviceProvider {
    const cards = [...this.cards.entries()];
    return {
      list: async (): Promise<DeviceIdentity[]> => cards.map(([, c]) => c.device.identity),
      open: async (selector: { serial?: string } = {}): Promise<Device> => {
        const found = cards.find(([, c]) => c.device.identity.serial === selector.serial);
        if (found === undefined) {
          throw new CardwrightError("DEVICE_NOT_FOUND", `no card with serial ${selector.serial} in a reader`, {
            details: { deviceSerial: selector.serial ?? "" },
          });
        }
        const piv = await PivDevice.open(new InMemoryTransport(found[1].card), { trace: (e) => this.trace.push(e) });
        return recordingDevice(piv, this.registry, `${found[0]} (agent)`);
      },
    };
  }

  /** Read the secrets every card holds now (after an operation changed them). */
  harvest(): void {
    for (const [name, { card }] of this.cards) harvestVirtualCard(card, this.registry, name);
  }

  /**
   * Scan. Incremental for the append-only recordings (each row's writes, log lines, trace,
   * errors and notifications once), complete for the store's current rows and tables.
   * @returns findings, problems with `pin` notifications, and the tables read.
   */
  async scan(options: { everything?: boolean } = {}): Promise<{
    findings: Finding[];
    problems: string[];
    tables: string[];
    haystack: Haystack;
  }> {
    const from = options.everything ? { logs: 0, trace: 0, writes: 0, notifications: 0, errors: 0 } : this.#scanned;
    const haystack = new Haystack();
    addLogLines(haystack, "log", this.logger.lines, from.logs);
    addLogLines(haystack, "apdu-trace", this.trace, from.trace);
    addWrites(haystack, this.writes, from.writes);
    const problems = addNotifications(haystack, this.notifier.sent, this.pins, from.notifications);
    for (const { where, err } of this.errors.slice(from.errors)) addError(haystack, where, err);
    await addStoreRows(
      haystack,
      this.store,
      users.map((u) => u.id),
    );
    const tables = await addSqlTables(haystack, (sql) => this.db.query<Record<string, unknown>>(sql));
    this.#scanned = {
      logs: this.logger.lines.length,
      trace: this.trace.length,
      writes: this.writes.length,
      notifications: this.notifier.sent.length,
      errors: this.errors.length,
    };
    return { findings: scanForSecrets(haystack, this.registry.all), problems, tables, haystack };
  }

  async close(): Promise<void> {
    for (const { device } of this.cards.values()) await device.close().catch(() => undefined);
    await this.store.close();
  }
}

// ---------------------------------------------------------------- the table

/** What the audit must show after a row. */
interface AuditExpectation {
  /** The card the events are about (absent for user-level events, e.g. security answers). */
  cardId?: string;
  /** The operation as the audit names it (`details.operation`), or the refused LifecycleOperation. */
  operation: string;
  /** The OperationRecord's kind, when it differs from `operation` (PIN operations are kind `pin`). */
  recordKind?: string;
  /**
   * For an action with no operation record: the audit action that records it; `"none"` for a
   * request refused as malformed before anything began (asserted to leave no event).
   */
  action?: string;
  actor: string;
  /** With `action`: the reason the event must carry in `details.reason`. */
  actionReason?: string;
  /** The operation the row started, when it started one. */
  operationId?: string;
  status?: "completed" | "failed" | "pending";
  /** Refused before starting: the audited `operation.refused` carries this code. */
  refused?: ErrorCode;
  comment?: string;
  reason?: string;
}

/** One operation: does it on the scenario, asserts its own effect, returns what the audit must show. */
interface OperationRow {
  name: string;
  run(s: Scenario): Promise<AuditExpectation>;
}

const operator: LifecycleActor = { id: "operator-1", kind: "operator" };
const carolUser: LifecycleActor = { id: "carol", kind: "user" };
const alice: LifecycleActor = { id: "alice", kind: "user" };
const bob: LifecycleActor = { id: "bob", kind: "user" };
const frankUser: LifecycleActor = { id: "frank", kind: "user" };
const heidiUser: LifecycleActor = { id: "heidi", kind: "user" };
const admin1: LifecycleActor = { id: "admin-1", kind: "operator" };
const admin2: LifecycleActor = { id: "admin-2", kind: "operator" };
/** A small PDF document (its text is not a secret). */
const pdf = (text: string) => new TextEncoder().encode(`%PDF-1.7\n% ${text}\n`);

/** A PIN carol chooses: 6 digits, the shortest the policy (and the scan) accepts. */
const CHOSEN_PIN = "739201";
/** PINs the contractor policy refuses; typed by a user, so secrets too. */
const PIN_WITH_LETTER = "73920a15";
const PIN_TOO_LONG = "739201584";

/** Answers alice gives to her security questions (secrets: they open the offline unblock). */
const SECURITY_ANSWERS = [
  { question: "Name of your first pet?", answer: "Marmaduke the Tabby" },
  { question: "Street you grew up on?", answer: "Acacia Avenue, 22" },
];

/** The PIN the virtual card holds now (its reference data, 0xFF padding removed). */
function pinOnCard(card: VirtualPivCard): string {
  return unpadReferenceData(card.toImage().pin.value);
}

async function cardIdOf(s: Scenario, name: string): Promise<string> {
  const serial = s.reader(name).device.identity.serial;
  const [card] = await s.cardwright.listCards({ deviceSerial: serial, limit: 1 });
  if (card === undefined) throw new Error(`card ${name} is not registered`);
  return card.id;
}

async function lastOperationId(s: Scenario, cardId: string): Promise<string> {
  const ops = await s.store.operations.list({ cardId });
  const last = ops.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
  if (last === undefined) throw new Error(`card ${cardId} has no operation`);
  return last.id;
}

/** A refused issue (the PIN breaks the policy): the operation fails, the card is as before. */
function refusedIssue(name: string, pin: string, rule: string): OperationRow {
  return {
    name,
    run: async (s) => {
      const { device } = s.cards.get("c2") ?? (await s.insert("c2"));
      s.registry.add("pin", `${name}: the refused PIN`, pin);
      const err = await s.refusal(name, s.cardwright.issueCard({ userId: "carol", device, actor: "operator-1", pin }));
      expect(err.code).toBe("POLICY_RULE");
      expect(err.details.rule ?? err.details.field).toBe(rule);
      const cardId = await cardIdOf(s, "c2");
      expect((await s.store.cards.get(cardId))!.state).toBe("registered");
      return {
        cardId,
        operation: "issue",
        actor: "operator-1",
        operationId: await lastOperationId(s, cardId),
        status: "failed",
      };
    },
  };
}

/**
 * The facade's operations, in lifecycle order on shared cards: c1 (carol, chosen PIN; PIN
 * change, reset, unblock; replaced as damaged by c5), c2 (carol, refused PINs), c3 (alice, random
 * PIN and PUK; reset, offline unblock, PUK rotation, update, agent tasks, then suspend … retire),
 * c4 (bob, an issue the CA breaks off, then bound), c6 (dave, validated issuance, admin credential
 * revealed; an update the CA holds, cancelled; a revoke interrupted by the CA, resumed), c7 (erin,
 * archived encryption key; replaced as lost by c8, the key recovered; c8 replaced as forgotten by
 * the temporary c9, returned; then replaced as lost by c10, interrupted by the CA, resumed), c5
 * (an update held by a CA in manual approval, continued; a third-party certificate inspected and
 * registered), c11 (frank, self-service issue; an agent runs a queued unblock), c12 (grace, enrolled
 * on behalf), c13 (heidi, document check: rejected, re-uploaded, approved, resumed). Rows still to
 * add are listed at the end.
 */
const ROWS: OperationRow[] = [
  {
    name: "issue with a chosen PIN (contractor policy)",
    run: async (s) => {
      const { device, card } = await s.insert("c1");
      const r = await s.cardwright.issueCard({ userId: "carol", device, actor: "operator-1", pin: CHOSEN_PIN });
      expect(r.status).toBe("active");
      if (r.status !== "active") throw new Error("not active");
      expect(r.pin).toBeUndefined();
      s.issued.set("c1", r);
      // The card really holds the chosen PIN (so the scan is looking for the right value).
      harvestVirtualCard(card, s.registry, "c1");
      expect(s.registry.hasText("pin", CHOSEN_PIN)).toBe(true);
      expect(Buffer.from(card.toImage().pin.value, "hex").subarray(0, 6).toString()).toBe(CHOSEN_PIN);
      return {
        cardId: r.card.id,
        operation: "issue",
        actor: "operator-1",
        operationId: await lastOperationId(s, r.card.id),
        status: "completed",
      };
    },
  },
  refusedIssue("issue refused: a chosen PIN with a letter", PIN_WITH_LETTER, "allowed"),
  refusedIssue("issue refused: a chosen PIN too long", PIN_TOO_LONG, "length"),
  {
    name: "change PIN: the user, knowing the current one",
    run: async (s) => {
      const { device, card } = s.reader("c1");
      const cardId = s.issued.get("c1")!.card.id;
      const r = await s.cardwright.changePin({
        cardId,
        device,
        actor: carolUser,
        currentPin: CHOSEN_PIN,
        newPin: "481537",
        comment: "routine change",
      });
      expect(pinOnCard(card)).toBe("481537");
      return {
        cardId,
        operation: "change-pin",
        recordKind: "pin",
        actor: "carol",
        operationId: r.operationId,
        status: "completed",
        comment: "routine change",
      };
    },
  },
  {
    name: "change PIN refused: a wrong current PIN",
    run: async (s) => {
      const { device, card } = s.reader("c1");
      const cardId = s.issued.get("c1")!.card.id;
      s.registry.add("pin", "wrong current PIN", "902817");
      s.registry.add("pin", "new PIN of a refused change", "615243");
      const err = await s.refusal(
        "wrong current PIN",
        s.cardwright.changePin({ cardId, device, actor: carolUser, currentPin: "902817", newPin: "615243" }),
      );
      expect(err.code).toBe("PIV_WRONG_PIN");
      expect(err.details.retriesLeft).toBeTypeOf("number");
      expect(pinOnCard(card)).toBe("481537");
      return {
        cardId,
        operation: "change-pin",
        recordKind: "pin",
        actor: "carol",
        operationId: await lastOperationId(s, cardId),
        status: "failed",
      };
    },
  },
  {
    name: "change PIN refused: the new PIN breaks the policy",
    run: async (s) => {
      const { device } = s.reader("c1");
      const cardId = s.issued.get("c1")!.card.id;
      s.registry.add("pin", "new PIN against the policy", "48153z");
      const err = await s.refusal(
        "new PIN against the policy",
        s.cardwright.changePin({ cardId, device, actor: carolUser, currentPin: "481537", newPin: "48153z" }),
      );
      expect(err.code).toBe("POLICY_RULE");
      return { cardId, operation: "change-pin", actor: "carol", refused: "POLICY_RULE" };
    },
  },
  {
    name: "reset PIN refused: the contractor card has no PUK in the vault (the holder's PUK unblocks)",
    run: async (s) => {
      const { device, card } = s.reader("c1");
      const cardId = s.issued.get("c1")!.card.id;
      s.registry.add("pin", "new PIN of a refused reset", "562048");
      const err = await s.refusal(
        "reset without a vault PUK",
        s.cardwright.resetPin({ cardId, device, actor: operator, newPin: "562048", comment: "forgot PIN" }),
      );
      expect(err.code).toBe("CARD_STATE");
      expect(pinOnCard(card)).toBe("481537");
      return { cardId, operation: "reset-pin", actor: "operator-1", refused: "CARD_STATE" };
    },
  },
  {
    name: "unblock PIN: the user, with the PUK",
    run: async (s) => {
      const { device, card } = s.reader("c1");
      const cardId = s.issued.get("c1")!.card.id;
      const r = await s.cardwright.unblockPin({
        cardId,
        device,
        actor: carolUser,
        puk: "12345678",
        newPin: "604829",
        comment: "blocked",
      });
      expect(pinOnCard(card)).toBe("604829");
      return {
        cardId,
        operation: "unblock-pin",
        recordKind: "pin",
        actor: "carol",
        operationId: r.operationId,
        status: "completed",
        comment: "blocked",
      };
    },
  },
  {
    name: "unblock PIN refused: a wrong PUK",
    run: async (s) => {
      const { device } = s.reader("c1");
      const cardId = s.issued.get("c1")!.card.id;
      s.registry.add("puk", "wrong PUK", "87654321");
      s.registry.add("pin", "new PIN of a refused unblock", "604830");
      const err = await s.refusal(
        "wrong PUK",
        s.cardwright.unblockPin({ cardId, device, actor: carolUser, puk: "87654321", newPin: "604830" }),
      );
      expect(err.code).toBe("PIV_WRONG_PIN");
      return {
        cardId,
        operation: "unblock-pin",
        recordKind: "pin",
        actor: "carol",
        operationId: await lastOperationId(s, cardId),
        status: "failed",
      };
    },
  },
  {
    name: "reveal the admin credential refused: no one holds view-admin-pin by default",
    run: async (s) => {
      const cardId = s.issued.get("c1")!.card.id;
      const err = await s.refusal(
        "reveal admin credential",
        s.cardwright.revealAdminCredential({ cardId, actor: operator }),
      );
      expect(err.code).toBe("AUTHZ_DENIED");
      return { cardId, operation: "view-admin-pin", actor: "operator-1", refused: "AUTHZ_DENIED" };
    },
  },
  {
    name: "replace a damaged card: the old one revoked, a new one issued with a chosen PIN",
    run: async (s) => {
      const cardId = s.issued.get("c1")!.card.id;
      const { device, card } = await s.insert("c5");
      const r = await s.cardwright.replaceCard({
        cardId,
        reason: "damaged",
        newDevice: device,
        actor: operator,
        comment: "cracked in the reader",
        pin: "739202",
      });
      expect(r.status).toBe("completed");
      if (r.status !== "completed") throw new Error("not completed");
      expect(r.oldCard.state).toBe("damaged");
      expect(r.newCard.state).toBe("active");
      expect(pinOnCard(card)).toBe("739202");
      return {
        cardId,
        operation: "replace",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "cracked in the reader",
      };
    },
  },
  {
    name: "issue with a random PIN and a random PUK (staff policy)",
    run: async (s) => {
      const { device, card } = await s.insert("c3");
      const r = await s.cardwright.issueCard({ userId: "alice", device, actor: "operator-1" });
      expect(r.status).toBe("active");
      if (r.status !== "active") throw new Error("not active");
      expect(r.pin).toMatch(/^\d{8}$/);
      s.returnedPin(r.card.id, r.pin!, "c3 IssueResult.pin");
      s.issued.set("c3", r);
      const image = card.toImage();
      expect(Buffer.from(image.pin.value, "hex").toString("latin1")).toBe(r.pin);
      // The PUK is random too: not the factory 12345678, and kept only wrapped on the record.
      expect(Buffer.from(image.puk.value, "hex").toString("latin1")).not.toBe("12345678");
      expect(r.card.puk?.ciphertext).toBeDefined();
      expect(s.notifier.ofKind("pin").filter((n) => n.cardId === r.card.id)).toHaveLength(1);
      return {
        cardId: r.card.id,
        operation: "issue",
        actor: "operator-1",
        operationId: await lastOperationId(s, r.card.id),
        status: "completed",
      };
    },
  },
  {
    name: "issue broken off by the CA is rolled back (and a CA retry is logged)",
    run: async (s) => {
      const { device } = await s.insert("c4");
      // Call 1 fails once (retried, logged), call 2 succeeds, call 3 (second template) is rejected.
      s.ca.submitCalls = 0;
      s.ca.failSubmits = new Map([
        [1, "CA_UNAVAILABLE"],
        [3, "CA_REJECTED"],
      ]);
      const logsBefore = s.logger.lines.length;
      const err = await s.refusal(
        "failed issue",
        s.cardwright.issueCard({ userId: "bob", device, actor: "operator-2" }),
      );
      s.ca.failSubmits = new Map();
      expect(err.code).toBe("CA_REJECTED");
      expect(s.logger.lines.length).toBeGreaterThan(logsBefore);
      const cardId = await cardIdOf(s, "c4");
      expect((await s.store.cards.get(cardId))!.state).toBe("registered");
      const certs = await s.store.certificates.list({ cardId });
      expect(certs.length).toBeGreaterThan(0);
      for (const c of certs.filter((x) => x.serialHex)) expect(c.status).toBe("revoked");
      return {
        cardId,
        operation: "issue",
        actor: "operator-2",
        operationId: await lastOperationId(s, cardId),
        status: "failed",
      };
    },
  },
  {
    name: "reset PIN: the operator, a random PIN returned once and notified",
    run: async (s) => {
      const { device, card } = s.reader("c3");
      const cardId = s.issued.get("c3")!.card.id;
      const r = await s.cardwright.resetPin({ cardId, device, actor: operator, comment: "PIN forgotten" });
      expect(r.pin).toMatch(/^\d{8}$/);
      s.returnedPin(cardId, r.pin!, "c3 resetPin PinResult.pin");
      expect(pinOnCard(card)).toBe(r.pin);
      expect(s.notifier.ofKind("pin").at(-1)).toMatchObject({ cardId, pin: r.pin });
      return {
        cardId,
        operation: "reset-pin",
        recordKind: "pin",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "PIN forgotten",
      };
    },
  },
  {
    name: "enrol security answers (the user)",
    run: async (s) => {
      for (const a of SECURITY_ANSWERS) {
        s.registry.add("security-answer", `answer to ${a.question}`, a.answer);
        s.registry.add("security-answer", `normalised answer to ${a.question}`, normaliseAnswer(a.answer));
      }
      const r = await s.cardwright.enrollSecurityAnswers({ userId: "alice", actor: alice, answers: SECURITY_ANSWERS });
      expect(r.questions).toHaveLength(SECURITY_ANSWERS.length);
      return { operation: "enroll-security-answers", action: "security-answers.enrolled", actor: "alice" };
    },
  },
  {
    name: "offline unblock: the helpdesk answers the challenge after the security answers check out",
    run: async (s) => {
      const { device, card } = s.reader("c3");
      const cardId = s.issued.get("c3")!.card.id;
      const challenge = createUnblockChallenge(device);
      const r = await s.cardwright.offlineUnblockResponse({
        cardId,
        actor: operator,
        challenge: challenge.code,
        answers: SECURITY_ANSWERS,
        comment: "no network on site",
      });
      s.registry.add("unblock-code", "offline unblock response code", r.responseCode);
      s.registry.add(
        "unblock-code",
        "offline unblock response code, bare",
        r.responseCode.replace(/[^0-9A-Za-z]/g, ""),
      );
      s.registry.add("pin", "offline unblock new PIN", "70315926");
      await redeemUnblockResponse({ device, challenge, responseCode: r.responseCode, newPin: "70315926" });
      expect(pinOnCard(card)).toBe("70315926");
      return {
        cardId,
        operation: "offline-unblock",
        action: "offline-unblock.response-issued",
        actor: "operator-1",
        comment: "no network on site",
      };
    },
  },
  {
    name: "rotate the PUK the offline unblock disclosed",
    run: async (s) => {
      const { device, card } = s.reader("c3");
      const cardId = s.issued.get("c3")!.card.id;
      const before = card.toImage().puk.value;
      const r = await s.cardwright.rotatePuk({ cardId, device, actor: operator, comment: "PUK disclosed" });
      expect(r.pukRotated).toBe(true);
      expect(card.toImage().puk.value).not.toBe(before);
      return {
        cardId,
        operation: "rotate-puk",
        recordKind: "pin",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "PUK disclosed",
      };
    },
  },
  {
    name: "update the card to its policy (nothing to change), with the user's PIN",
    run: async (s) => {
      const { device } = s.reader("c3");
      const cardId = s.issued.get("c3")!.card.id;
      const r = await s.cardwright.updateCard({
        cardId,
        device,
        actor: operator,
        pin: "70315926",
        comment: "policy check",
      });
      expect(r.status).toBe("completed");
      return {
        cardId,
        operation: "update",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "policy check",
      };
    },
  },
  {
    name: "update to a newly assigned policy: a 9E certificate added, the card's PIN signing",
    run: async (s) => {
      const { device, card } = s.reader("c3");
      const cardId = s.issued.get("c3")!.card.id;
      const r = await s.cardwright.updateCard({
        cardId,
        device,
        actor: operator,
        policyId: "staff-piv-plus",
        pin: "70315926",
        comment: "card authentication for doors",
      });
      expect(r.status).toBe("completed");
      if (r.status !== "completed") throw new Error("not completed");
      expect(r.card.policyId).toBe("staff-piv-plus");
      expect(r.certificates.some((c) => c.slot === "9e" && c.status === "written")).toBe(true);
      expect(card.toImage().keys.some((k) => k.slot === "9e")).toBe(true);
      return {
        cardId,
        operation: "update",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "card authentication for doors",
      };
    },
  },
  {
    name: "queue an agent task for the card's workstation",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const task = await s.cardwright.queueAgentTask({
        cardId,
        kind: "update",
        actor: operator,
        comment: "overnight update",
      });
      expect(task.status).toBe("queued");
      return {
        cardId,
        operation: "queue-task",
        action: "agent-task.queued",
        actor: "operator-1",
        comment: "overnight update",
      };
    },
  },
  {
    name: "cancel the queued agent task",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const [task] = await s.cardwright.listAgentTasks({ cardId, status: "queued" });
      const cancelled = await s.cardwright.cancelAgentTask({
        taskId: task!.id,
        actor: operator,
        comment: "done at the desk",
      });
      expect(cancelled.status).toBe("cancelled");
      return {
        cardId,
        operation: "queue-task",
        action: "agent-task.cancelled",
        actor: "operator-1",
        comment: "done at the desk",
      };
    },
  },
  {
    name: "queue an agent task refused: a parameter that looks like a PIN (the value stays out of the error)",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      s.registry.add("pin", "PIN offered as an agent task parameter", "318274");
      const err = await s.refusal(
        "secret task parameter",
        s.cardwright.queueAgentTask({ cardId, kind: "unblock-pin", actor: operator, params: { newPin: "318274" } }),
      );
      expect(err.code).toBe("CONFIG_INVALID");
      expect(await s.cardwright.listAgentTasks({ cardId, status: "queued" })).toEqual([]);
      return { cardId, operation: "queue-task", action: "none", actor: "operator-1" };
    },
  },
  {
    name: "bind a registered card to its user",
    run: async (s) => {
      const cardId = await cardIdOf(s, "c4");
      const card = await s.cardwright.bindCard(cardId, "bob", { actor: operator, comment: "desk 4" });
      expect(card.state).toBe("bound");
      return { cardId, operation: "bind", action: "card.state", actor: "operator-1" };
    },
  },
  {
    name: "validated issuance: an operator requests it",
    run: async (s) => {
      const approval = await s.cardwright.requestIssuance({ userId: "dave", actor: operator, comment: "new hire" });
      expect(approval.status).toBe("pending");
      s.approvalId = approval.id;
      return { operation: "request-issuance", action: "issuance.requested", actor: "operator-1", comment: "new hire" };
    },
  },
  {
    name: "validated issuance refused: the requester cannot approve their own request",
    run: async (s) => {
      const err = await s.refusal(
        "requester approves",
        s.cardwright.decideIssuance({ approvalId: s.approvalId!, decision: "approve", reason: "me", actor: operator }),
      );
      expect(err.code).toBe("AUTHZ_SEPARATION_OF_DUTIES");
      return { operation: "approve-issuance", action: "operation.refused", actor: "operator-1" };
    },
  },
  {
    name: "validated issuance: a validation officer approves, with a reason",
    run: async (s) => {
      const approval = await s.cardwright.decideIssuance({
        approvalId: s.approvalId!,
        decision: "approve",
        reason: "identity checked",
        actor: { id: "officer-1", kind: "operator" },
      });
      expect(approval.status).toBe("approved");
      return {
        operation: "approve-issuance",
        action: "issuance.approved",
        actor: "officer-1",
        actionReason: "identity checked",
      };
    },
  },
  {
    name: "validated issuance: another operator issues the approved card",
    run: async (s) => {
      const { device } = await s.insert("c6");
      const r = await s.cardwright.issueCard({
        userId: "dave",
        device,
        actor: "operator-2",
        approvalId: s.approvalId!,
      });
      expect(r.status).toBe("active");
      if (r.status !== "active") throw new Error("not active");
      s.returnedPin(r.card.id, r.pin!, "c6 IssueResult.pin");
      return {
        cardId: r.card.id,
        operation: "issue",
        actor: "operator-2",
        operationId: await lastOperationId(s, r.card.id),
        status: "completed",
      };
    },
  },
  {
    name: "reveal the admin credential to a holder of view-admin-pin (returned, audited, stored nowhere)",
    run: async (s) => {
      const cardId = (await s.cardwright.listCards({ userId: "dave" }))[0]!.id;
      const { card } = s.reader("c6");
      const credential = await s.cardwright.revealAdminCredential({
        cardId,
        actor: operator,
        comment: "token support",
      });
      // Like the pin notification, the return value exists to carry the secret: it must be the card's.
      expect(credential.kind).toBe("management-key");
      if (credential.kind !== "management-key") throw new Error("not a management key");
      expect(Buffer.from(credential.key).toString("hex")).toBe(card.toImage().managementKey.key);
      return {
        cardId,
        operation: "view-admin-pin",
        action: "card.admin-credential.revealed",
        actor: "operator-1",
        comment: "token support",
      };
    },
  },
  {
    name: "issue with an archived encryption key (generated off-card, wrapped, imported)",
    run: async (s) => {
      const { device, card } = await s.insert("c7");
      const r = await s.cardwright.issueCard({ userId: "erin", device, actor: "operator-1" });
      expect(r.status).toBe("active");
      if (r.status !== "active") throw new Error("not active");
      s.returnedPin(r.card.id, r.pin!, "c7 IssueResult.pin");
      s.issued.set("c7", r);
      expect(r.certificates.find((c) => c.slot === "9d")?.archivedKey?.ciphertext).toBeDefined();
      // The key really went through the SDK: the card holds it as imported, and the scan knows it.
      expect(card.toImage().keys.find((k) => k.slot === "9d")?.origin).toBe("imported");
      expect(s.registry.all.some((x) => x.kind === "private-key" && x.label.startsWith("c7 importKeyPair"))).toBe(true);
      return {
        cardId: r.card.id,
        operation: "issue",
        actor: "operator-1",
        operationId: await lastOperationId(s, r.card.id),
        status: "completed",
      };
    },
  },
  {
    name: "replace a lost card, recovering the archived key to the new card",
    run: async (s) => {
      const cardId = s.issued.get("c7")!.card.id;
      const { device, card } = await s.insert("c8");
      const r = await s.cardwright.replaceCard({
        cardId,
        reason: "lost",
        newDevice: device,
        actor: operator,
        comment: "lost on the train",
      });
      expect(r.status).toBe("completed");
      if (r.status !== "completed") throw new Error("not completed");
      s.returnedPin(r.newCard.id, r.pin!, "c8 ReplaceResult.pin");
      expect(r.recovered.map((c) => c.slot)).toEqual(["9d"]);
      const oldKey = s.cards
        .get("c7")!
        .card.toImage()
        .keys.find((k) => k.slot === "9d")?.privateKey;
      expect(card.toImage().keys.find((k) => k.slot === "9d")?.privateKey).toBe(oldKey);
      return {
        cardId,
        operation: "replace",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "lost on the train",
      };
    },
  },
  {
    name: "suspend, with a comment",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const r = await s.cardwright.suspendCard({ cardId, actor: operator, comment: "card left at home" });
      expect(r.card.state).toBe("suspended");
      return {
        cardId,
        operation: "suspend",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "card left at home",
      };
    },
  },
  {
    name: "suspend refused: a user on someone else's card",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const err = await s.refusal(
        "refused suspend",
        s.cardwright.suspendCard({ cardId, actor: bob, comment: "not mine" }),
      );
      expect(err.code).toBe("AUTHZ_DENIED");
      return { cardId, operation: "suspend", actor: "bob", refused: "AUTHZ_DENIED" };
    },
  },
  {
    name: "resume by the card's own user, with a comment",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const r = await s.cardwright.resumeCard({ cardId, actor: alice, comment: "found it" });
      expect(r.card.state).toBe("active");
      return {
        cardId,
        operation: "resume",
        actor: "alice",
        operationId: r.operationId,
        status: "completed",
        comment: "found it",
      };
    },
  },
  {
    name: "resume refused: the card is not suspended",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const err = await s.refusal("refused resume", s.cardwright.resumeCard({ cardId, actor: operator }));
      expect(err.code).toBe("CARD_TRANSITION");
      return { cardId, operation: "resume", actor: "operator-1", refused: "CARD_TRANSITION" };
    },
  },
  {
    name: "revoke with a reason and a comment",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const r = await s.cardwright.revokeCard({
        cardId,
        reason: "keyCompromise",
        actor: operator,
        comment: "laptop stolen",
      });
      expect(r.card.state).toBe("revoked");
      return {
        cardId,
        operation: "revoke",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        reason: "keyCompromise",
        comment: "laptop stolen",
      };
    },
  },
  {
    name: "retire refused: the user may not clear their own revoked card by default",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const { device } = s.reader("c3");
      const err = await s.refusal("refused retire", s.cardwright.retireCard({ cardId, device, actor: alice }));
      expect(err.code).toBe("AUTHZ_DENIED");
      return { cardId, operation: "retire", actor: "alice", refused: "AUTHZ_DENIED" };
    },
  },
  {
    name: "retire (wipe) with a comment",
    run: async (s) => {
      const cardId = s.issued.get("c3")!.card.id;
      const { device, card } = s.reader("c3");
      const r = await s.cardwright.retireCard({ cardId, device, actor: operator, comment: "disposal" });
      expect(r.card.state).toBe("retired");
      // Wiped: only the attestation key (F9, imported at manufacture) survives a PIV reset.
      expect(card.toImage().keys.map((k) => k.slot)).toEqual(["f9"]);
      return {
        cardId,
        operation: "retire",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "disposal",
      };
    },
  },
  {
    name: "update held by a CA in manual approval: pending, then continued after approval",
    run: async (s) => {
      const { device, card } = s.reader("c5");
      const cardId = (await s.cardwright.listCards({ deviceSerial: device.identity.serial }))[0]!.id;
      const pin = pinOnCard(card);
      const manual = await EmbeddedCa.open({ directory: join(s.dir, "ca"), approvalMode: "manual" });
      s.ca.use(manual);
      try {
        const r = await s.cardwright.updateCard({
          cardId,
          device,
          actor: operator,
          policyId: "staff-piv-plus",
          pin,
          comment: "doors, held for approval",
        });
        expect(r.status).toBe("pending");
        if (r.status !== "pending") throw new Error("not pending");
        expect(r.pendingRequests.map((p) => p.templateId)).toEqual(["card-auth"]);
        // Still held: continuing only polls.
        expect((await s.cardwright.continueUpdate(r.operationId, { actor: operator })).status).toBe("pending");
        for (const p of r.pendingRequests) await manual.approve(p.caRequestId!);
        const done = await s.cardwright.continueUpdate(r.operationId, { actor: operator, device, pin });
        expect(done.status).toBe("completed");
        expect(card.toImage().keys.some((k) => k.slot === "9e")).toBe(true);
        return {
          cardId,
          operation: "update",
          actor: "operator-1",
          operationId: r.operationId,
          status: "completed",
          comment: "doors, held for approval",
        };
      } finally {
        s.ca.use(s.embeddedCa);
      }
    },
  },
  {
    name: "cancel an update the CA still holds",
    run: async (s) => {
      const { device, card } = s.reader("c6");
      const cardId = (await s.cardwright.listCards({ userId: "dave" }))[0]!.id;
      const manual = await EmbeddedCa.open({ directory: join(s.dir, "ca"), approvalMode: "manual" });
      s.ca.use(manual);
      try {
        const r = await s.cardwright.updateCard({
          cardId,
          device,
          actor: operator,
          policyId: "staff-piv-plus",
          pin: pinOnCard(card),
        });
        expect(r.status).toBe("pending");
        if (r.status !== "pending") throw new Error("not pending");
        const c = await s.cardwright.cancelUpdate({ operationId: r.operationId, actor: operator, comment: "not now" });
        expect(c.status).toBe("cancelled");
        expect(c.card.state).toBe("active");
        // Nothing the update asked for reached the card: no certificate in 9E.
        expect(await device.readCertificate("9e")).toBeNull();
        for (const p of r.pendingRequests) await manual.reject(p.caRequestId!, "cancelled at the CMS");
        return { cardId, operation: "update", actor: "operator-1", operationId: r.operationId, comment: "not now" };
      } finally {
        s.ca.use(s.embeddedCa);
      }
    },
  },
  {
    name: "inspect a card holding a third-party certificate, then register it",
    run: async (s) => {
      const { device, card } = s.reader("c5");
      const cardId = (await s.cardwright.listCards({ deviceSerial: device.identity.serial }))[0]!.id;
      // A third party writes a key and an openssl-made certificate to 82 with the card's management key.
      const record = (await s.store.cards.get(cardId))!;
      await device.authenticateAdmin({
        kind: "management-key",
        algorithm: record.adminCredentialAlgorithm as "AES192",
        key: Buffer.from(card.toImage().managementKey.key, "hex"),
      });
      const publicKey = await device.generateKeyPair("82", "ECCP256");
      const dir = mkdtempSync(join(s.dir, "foreign-"));
      writeFileSync(
        join(dir, "pub.pem"),
        `-----BEGIN PUBLIC KEY-----\n${Buffer.from(publicKey.spki).toString("base64")}\n-----END PUBLIC KEY-----\n`,
      );
      const openssl = (args: string[]) => {
        const r = spawnSync("openssl", args, { encoding: "utf8" });
        expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      };
      openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "issuer.key")]);
      openssl([
        "x509",
        "-new",
        "-subj",
        "/CN=Old VPN",
        "-key",
        join(dir, "issuer.key"),
        "-force_pubkey",
        join(dir, "pub.pem"),
        "-days",
        "90",
        "-outform",
        "DER",
        "-out",
        join(dir, "82.der"),
      ]);
      // The third party's issuer key must not reach cardwright's records either.
      const issuerKey = createPrivateKey(readFileSync(join(dir, "issuer.key"), "utf8"));
      s.registry.addPrivateKey(issuerKey.export({ format: "der", type: "pkcs8" }), "third-party issuer key");
      rmSync(join(dir, "issuer.key"));
      await device.writeCertificate("82", new Uint8Array(readFileSync(join(dir, "82.der"))));
      const inspected = await s.cardwright.inspectCard({ cardId, device });
      expect(inspected.foreign.map((f) => [f.slot, f.subject])).toEqual([["82", "CN=Old VPN"]]);
      const registered = await s.cardwright.registerCertificate({
        cardId,
        device,
        slot: "82",
        actor: operator,
        comment: "legacy VPN",
      });
      expect(registered).toMatchObject({ thirdParty: true, status: "written", slot: "82", subject: "CN=Old VPN" });
      expect((await s.cardwright.inspectCard({ cardId, device })).foreign).toEqual([]);
      return {
        cardId,
        operation: "register-certificate",
        action: "certificate.registered",
        actor: "operator-1",
        comment: "legacy VPN",
      };
    },
  },
  {
    name: "replace a forgotten card: held, a temporary card issued",
    run: async (s) => {
      const cardId = s.issued.get("c8")?.card.id ?? (await cardIdOf(s, "c8"));
      const { device, card } = await s.insert("c9");
      const r = await s.cardwright.replaceCard({
        cardId,
        reason: "forgotten",
        newDevice: device,
        actor: operator,
        comment: "left at home",
      });
      expect(r.status).toBe("completed");
      if (r.status !== "completed") throw new Error("not completed");
      if (r.pin !== undefined) s.returnedPin(r.newCard.id, r.pin, "c9 ReplaceResult.pin");
      expect(r.oldCard).toMatchObject({ state: "suspended", replacedBy: r.newCard.id });
      expect(r.newCard.temporary?.replacesCardId).toBe(cardId);
      expect(card.toImage().keys.some((k) => k.slot === "9a")).toBe(true);
      return {
        cardId,
        operation: "replace",
        actor: "operator-1",
        operationId: r.operationId,
        status: "completed",
        comment: "left at home",
      };
    },
  },
  {
    name: "the permanent card returns: the temporary card is wiped, the hold lifted",
    run: async (s) => {
      const permanentId = await cardIdOf(s, "c8");
      const temporaryId = await cardIdOf(s, "c9");
      const r = await s.cardwright.returnTemporaryCard({
        temporaryCardId: temporaryId,
        temporaryDevice: s.reader("c9").device,
        permanentDevice: s.reader("c8").device,
        actor: operator,
        comment: "brought the card back",
      });
      expect(r.temporaryCard.state).toBe("retired");
      expect(r.permanentCard.state).toBe("active");
      expect(
        s
          .reader("c9")
          .card.toImage()
          .keys.map((k) => k.slot),
      ).toEqual(["f9"]);
      return {
        cardId: permanentId,
        operation: "return-temporary",
        action: "card.returned",
        actor: "operator-1",
        comment: "brought the card back",
      };
    },
  },
  {
    name: "revoke interrupted by the CA, then resumed (resumeLifecycleOperation)",
    run: async (s) => {
      const cardId = (await s.cardwright.listCards({ userId: "dave" }))[0]!.id;
      // The second certificate's revocation fails on both attempts (the retry included).
      s.ca.revokeCalls = 0;
      s.ca.failRevokes = new Map([
        [2, "CA_UNAVAILABLE"],
        [3, "CA_UNAVAILABLE"],
      ]);
      let err: CardwrightError;
      try {
        err = await s.refusal(
          "interrupted revoke",
          s.cardwright.revokeCard({ cardId, reason: "superseded", actor: operator, comment: "left the company" }),
        );
      } finally {
        s.ca.failRevokes = new Map();
      }
      expect(err.code).toBe("CA_UNAVAILABLE");
      const operationId = String(err.details.operationId ?? (await lastOperationId(s, cardId)));
      expect((await s.store.operations.get(operationId))!.status).toBe("pending");
      const r = await s.cardwright.resumeLifecycleOperation(operationId, { actor: operator });
      expect(r.card.state).toBe("revoked");
      expect(r.certificates.every((c) => c.status === "revoked")).toBe(true);
      return {
        cardId,
        operation: "revoke",
        actor: "operator-1",
        operationId,
        status: "completed",
        reason: "superseded",
        comment: "left the company",
      };
    },
  },
  {
    name: "replace interrupted by the CA after the old card was handled, then resumed (resumeReplaceOperation)",
    run: async (s) => {
      const cardId = await cardIdOf(s, "c8");
      const { device, card } = await s.insert("c10");
      // The new card's first certificate request fails on both attempts (the retry included).
      s.ca.submitCalls = 0;
      s.ca.failSubmits = new Map([
        [1, "CA_UNAVAILABLE"],
        [2, "CA_UNAVAILABLE"],
      ]);
      let err: CardwrightError;
      try {
        err = await s.refusal(
          "interrupted replace",
          s.cardwright.replaceCard({
            cardId,
            reason: "lost",
            newDevice: device,
            actor: operator,
            comment: "lost at the gym",
          }),
        );
      } finally {
        s.ca.failSubmits = new Map();
      }
      expect(err.code).toBe("CA_UNAVAILABLE");
      expect(err.details).toMatchObject({ resumable: true, oldCardHandled: true, newCardIssued: false });
      const operationId = String(err.details.operationId);
      const r = await s.cardwright.resumeReplaceOperation(operationId, { actor: operator, newDevice: device });
      expect(r.status).toBe("completed");
      if (r.status !== "completed") throw new Error("not completed");
      if (r.pin !== undefined) s.returnedPin(r.newCard.id, r.pin, "c10 ReplaceResult.pin");
      expect(r.oldCard).toMatchObject({ state: "lost", replacedBy: r.newCard.id });
      expect(r.newCard.state).toBe("active");
      expect(r.recovered.map((c) => c.slot)).toEqual(["9d"]);
      expect(card.toImage().keys.some((k) => k.slot === "9a")).toBe(true);
      return {
        cardId,
        operation: "replace",
        actor: "operator-1",
        operationId,
        status: "completed",
        comment: "lost at the gym",
      };
    },
  },
  {
    name: "notify the holders of expiring certificates (a RecordingNotifier)",
    run: async (s) => {
      const before = s.notifier.ofKind("expiring").length;
      const r = await s.cardwright.notifyExpiring({ withinDays: 400, actor: "expiry-job" });
      expect(r.notified.length).toBeGreaterThan(0);
      expect(r.failed).toEqual([]);
      expect(s.notifier.ofKind("expiring").length - before).toBe(r.notified.length);
      return { operation: "notify-expiring", action: "certificate.expiry-notified", actor: "expiry-job" };
    },
  },
  {
    name: "self-service issue: the user issues the card an operator bound to them",
    run: async (s) => {
      const { device } = await s.insert("c11");
      const registered = await s.cardwright.registerCard(device, { actor: "operator-1" });
      const bound = await s.cardwright.bindCard(registered.id, "frank", { actor: operator, comment: "enrolment desk" });
      expect(bound).toMatchObject({ state: "bound", userId: "frank" });
      const r = await s.cardwright.issueCard({ userId: "frank", device, actor: frankUser });
      expect(r.status).toBe("active");
      if (r.status !== "active") throw new Error("not active");
      s.returnedPin(r.card.id, r.pin!, "c11 IssueResult.pin");
      s.issued.set("c11", r);
      const cleared = (await s.cardwright.listAudit({ cardId: r.card.id })).find(
        (e) => e.action === "issuance.cleared",
      );
      expect(cleared).toMatchObject({ actor: "frank", details: { actorKind: "user", mode: "self-service" } });
      return {
        cardId: r.card.id,
        operation: "issue",
        actor: "frank",
        operationId: await lastOperationId(s, r.card.id),
        status: "completed",
      };
    },
  },
  {
    name: "enrol on behalf: every request signed by the enrollment agent (CMC)",
    run: async (s) => {
      const { device } = await s.insert("c12");
      const r = await s.cardwright.issueCard({ userId: "grace", device, actor: "operator-1" });
      expect(r.status).toBe("active");
      if (r.status !== "active") throw new Error("not active");
      s.returnedPin(r.card.id, r.pin!, "c12 IssueResult.pin");
      const onBehalf = (await s.cardwright.listAudit({ cardId: r.card.id })).filter(
        (e) => e.action === "request.signed-on-behalf",
      );
      expect(onBehalf).toHaveLength(r.certificates.length);
      expect(onBehalf[0]?.details).toMatchObject({ agentSubject: "O=Example Corp,CN=enrollment-agent" });
      return {
        cardId: r.card.id,
        operation: "issue",
        actor: "operator-1",
        operationId: await lastOperationId(s, r.card.id),
        status: "completed",
      };
    },
  },
  {
    name: "document check: the issue rests pending until the documents are approved",
    run: async (s) => {
      const { device } = await s.insert("c13");
      const r = await s.cardwright.issueCard({ userId: "heidi", device, actor: "operator-1" });
      expect(r.status).toBe("pending");
      if (r.status !== "pending") throw new Error("not pending");
      expect(r.documents?.status).toBe("awaiting");
      // Nothing written before the documents are approved.
      expect(await device.readCertificate("9a")).toBeNull();
      s.documentIssue = r.operationId;
      return {
        cardId: r.card.id,
        operation: "issue",
        actor: "operator-1",
        operationId: r.operationId,
        status: "pending",
      };
    },
  },
  {
    name: "document check: the user uploads both forms",
    run: async (s) => {
      const cardId = await cardIdOf(s, "c13");
      for (const [type, fileName, text] of [
        ["certificate-request-form", "request.pdf", "request form, signed"],
        ["certificate-form", "form.pdf", "certificate form, unsigned"],
      ] as const) {
        const d = await s.cardwright.uploadDocument({
          cardId,
          type,
          fileName,
          contentType: "application/pdf",
          content: pdf(text),
          actor: heidiUser,
        });
        expect(d.operationId).toBe(s.documentIssue);
      }
      return { cardId, operation: "upload-document", action: "document.uploaded", actor: "heidi" };
    },
  },
  {
    name: "document check: an administrator approves one form and rejects the other, with a reason",
    run: async (s) => {
      const cardId = await cardIdOf(s, "c13");
      const docs = await s.cardwright.listDocuments({ cardId, withoutContent: true });
      const review = await s.cardwright.reviewDocuments({
        actor: admin1,
        decisions: [
          { documentId: docs.find((d) => d.type === "certificate-request-form")!.id, decision: "approve" },
          {
            documentId: docs.find((d) => d.type === "certificate-form")!.id,
            decision: "reject",
            reason: "the form is not signed",
          },
        ],
      });
      expect(review.check.status).toBe("rejected");
      return {
        cardId,
        operation: "approve-documents",
        action: "document.rejected",
        actor: "admin-1",
        actionReason: "the form is not signed",
      };
    },
  },
  {
    name: "document check: resuming still waits; the user uploads the signed form again",
    run: async (s) => {
      const { device } = s.reader("c13");
      const cardId = await cardIdOf(s, "c13");
      const again = await s.cardwright.resumeOperation(s.documentIssue!, { device, actor: "operator-1" });
      expect(again.status).toBe("pending");
      if (again.status !== "pending") throw new Error("not pending");
      expect(again.documents?.status).toBe("rejected");
      await s.cardwright.uploadDocument({
        cardId,
        type: "certificate-form",
        fileName: "form-signed.pdf",
        contentType: "application/pdf",
        content: pdf("certificate form, signed"),
        actor: heidiUser,
      });
      return { cardId, operation: "upload-document", action: "document.uploaded", actor: "heidi" };
    },
  },
  {
    name: "document check: another administrator approves the re-uploaded form",
    run: async (s) => {
      const cardId = await cardIdOf(s, "c13");
      const docs = await s.cardwright.listDocuments({ cardId, withoutContent: true });
      const reupload = docs.find((d) => d.fileName === "form-signed.pdf")!;
      const review = await s.cardwright.reviewDocuments({
        actor: admin2,
        decisions: [{ documentId: reupload.id, decision: "approve" }],
      });
      expect(review.check.status).toBe("approved");
      return { cardId, operation: "approve-documents", action: "document.approved", actor: "admin-2" };
    },
  },
  {
    name: "document check: resumeOperation finishes the issue",
    run: async (s) => {
      const { device, card } = s.reader("c13");
      const done = await s.cardwright.resumeOperation(s.documentIssue!, { device, actor: "operator-1" });
      expect(done.status).toBe("active");
      if (done.status !== "active") throw new Error("not active");
      s.returnedPin(done.card.id, done.pin!, "c13 IssueResult.pin (resumed)");
      expect(card.toImage().keys.some((k) => k.slot === "9a")).toBe(true);
      expect(await s.store.operations.get(s.documentIssue!)).toMatchObject({
        status: "completed",
        actor: "operator-1",
      });
      return { cardId: done.card.id, operation: "issue", action: "operation.resumed", actor: "operator-1" };
    },
  },
  {
    name: "an agent at the card's workstation runs a queued unblock-pin task",
    run: async (s) => {
      const { device, card } = s.reader("c11");
      const cardId = s.issued.get("c11")!.card.id;
      // The user locks the card out with a wrong PIN (a secret they typed, all the same).
      s.registry.add("pin", "wrong PIN that blocked c11", "13572468");
      for (let i = 0; i < 10 && !(await device.pinStatus()).blocked; i++) {
        await device.verifyPin("13572468").catch(() => undefined);
      }
      expect((await device.pinStatus()).blocked).toBe(true);
      const task = await s.cardwright.queueAgentTask({
        cardId,
        kind: "unblock-pin",
        actor: operator,
        comment: "locked out at workstation 7",
      });
      let currentPin = pinOnCard(card);
      const shown: string[] = [];
      const handlers: AgentTaskHandlers = s.cardwright.agentTaskHandlers({
        pin: async () => currentPin,
        showPin: async (_t, pin) => {
          s.returnedPin(cardId, pin, "c11 agent showPin");
          shown.push(pin);
          currentPin = pin;
        },
      });
      const runner = s.cardwright.createAgentRunner({ devices: s.readers(), agentName: "ws-7", handlers });
      expect(await runner.runPending()).toEqual([
        { taskId: task.id, kind: "unblock-pin", status: "completed", operationId: expect.any(String) },
      ]);
      expect(shown).toHaveLength(1);
      expect(pinOnCard(card)).toBe(shown[0]);
      expect((await device.pinStatus()).blocked).toBe(false);
      return { cardId, operation: "run-task", action: "agent-task.completed", actor: "ws-7" };
    },
  },
  // Rows still to add (each: do it, assert its effect, return the expectation; register any
  // secret the row itself chooses with s.registry.add): updateCard removing or renewing a
  // certificate, and cancelUpdate after a failure at a device step.
];

/** The audit since `fromSeq` lists the row's operation, its actor and its comment/reason. */
async function expectAudited(s: Scenario, fromSeq: number, x: AuditExpectation): Promise<void> {
  const events = (await s.cardwright.listAudit({ fromSeq })).filter(
    (e) => x.cardId === undefined || e.cardId === x.cardId,
  );
  if (x.refused !== undefined) {
    const refused = events.filter((e) => e.action === "operation.refused");
    expect(refused, "an operation.refused event").toHaveLength(1);
    expect(refused[0]).toMatchObject({ actor: x.actor, details: { operation: x.operation, code: x.refused } });
    return;
  }
  if (x.action === "none") {
    // Refused as malformed input before any operation began: nothing happened, so nothing to audit.
    expect(
      events.filter((e) => e.actor === x.actor),
      "no event for a refused malformed request",
    ).toEqual([]);
    return;
  }
  if (x.action !== undefined) {
    const recorded = events.filter((e) => e.action === x.action);
    expect(recorded.length, `a ${x.action} event`).toBeGreaterThan(0);
    for (const e of recorded) expect(e.actor).toBe(x.actor);
    if (x.comment !== undefined) expect(recorded.some((e) => e.details?.comment === x.comment)).toBe(true);
    if (x.actionReason !== undefined) expect(recorded.some((e) => e.details?.reason === x.actionReason)).toBe(true);
    return;
  }
  expect(x.operationId, "the row names its operation").toBeDefined();
  const operation = (await s.store.operations.get(x.operationId!))!;
  expect(operation).toMatchObject({
    kind: x.recordKind ?? x.operation,
    actor: x.actor,
    ...(x.status ? { status: x.status } : {}),
  });
  const own = events.filter((e) => e.operationId === x.operationId);
  expect(own.length, "audit events of the operation").toBeGreaterThan(0);
  // The audit itself names the operation: lifecycle operations say so in `details.operation`;
  // issue has no such field, and is named by the card entering `issuing` under its operation id.
  const named = own.some(
    (e) =>
      e.details?.operation === x.operation ||
      (x.operation === "issue" && e.action === "card.state" && e.details?.to === "issuing"),
  );
  expect(named, `an audit event names the ${x.operation}`).toBe(true);
  for (const e of own) expect(e.actor, `${e.action} names the actor`).toBe(x.actor);
  if (x.comment !== undefined) {
    expect(
      own.some((e) => e.details?.comment === x.comment),
      "an event carries the comment",
    ).toBe(true);
  }
  if (x.reason !== undefined) {
    expect(
      own.some((e) => e.details?.reason === x.reason),
      "an event carries the reason",
    ).toBe(true);
  }
}

describe("after every operation: the audit verifies and lists it, and no secret is anywhere", () => {
  let s: Scenario;

  beforeAll(async () => {
    s = await Scenario.create();
  });
  afterAll(async () => s?.close());

  for (const row of ROWS) {
    it(row.name, async () => {
      const fromSeq = ((await s.store.audit.last())?.seq ?? 0) + 1;
      const expectation = await row.run(s);
      s.harvest();
      expect((await s.cardwright.verifyAudit()).ok).toBe(true);
      await expectAudited(s, fromSeq, expectation);
      const { findings, problems } = await s.scan();
      expect(describeFindings(findings)).toBe("");
      expect(problems).toEqual([]);
    });
  }

  it("the whole run, every place, against every secret captured", async () => {
    const { findings, problems, tables, haystack } = await s.scan({ everything: true });
    expect(describeFindings(findings)).toBe("");
    expect(problems).toEqual([]);
    // The scan looked where it claims to: every place had something in it…
    for (const place of [
      "log",
      "apdu-trace",
      "audit",
      "operation-snapshot",
      "operation-input",
      "error",
      "notification",
      "store:cards",
      "store:certificates",
      "store:operations",
      "store:requests",
      "store-write:cards",
      "store-write:operations",
      "sql:cards",
      "sql:certificates",
      "sql:requests",
      "sql:operations",
      "sql:audit_events",
    ]) {
      expect(haystack.places, place).toContain(place);
    }
    // …every table of the schema was read…
    for (const t of [
      "cards",
      "certificates",
      "requests",
      "operations",
      "audit_events",
      "card_leases",
      "approvals",
      "documents",
      "agent_tasks",
      "security_answers",
    ]) {
      expect(tables).toContain(`public.${t}`);
    }
    // …and for secrets of every kind: chosen, random and factory PINs, random and factory PUKs,
    // factory and per-card management keys, the cards' private keys.
    const kinds = new Set(s.registry.all.map((x: CapturedSecret) => x.kind));
    for (const k of ["pin", "puk", "management-key", "private-key", "security-answer", "unblock-code"] as const) {
      expect(kinds).toContain(k);
    }
    // Captured by each source: the recording vault, the recording device, the card images.
    const sources = [
      "vault wrapped",
      "vault unwrapped",
      "setAdminCredential",
      "changePuk",
      "importKeyPair",
      "card PIN",
    ];
    for (const source of sources) {
      expect(
        s.registry.all.some((x) => x.sources.some((label) => label.includes(source))),
        source,
      ).toBe(true);
    }
    // …and the secrets the later rows brought: the enrollment agent's key, a third party's issuer
    // key, the PIN an agent set, the temporary and resumed replacement cards' PINs.
    for (const label of [
      "enrollment agent key",
      "third-party issuer key",
      "c11 agent showPin",
      "c9 ReplaceResult.pin",
      "c10 ReplaceResult.pin",
      "c13 IssueResult.pin (resumed)",
    ]) {
      expect(
        s.registry.all.some((x) => x.sources.some((source) => source.startsWith(label))),
        label,
      ).toBe(true);
    }
    for (const place of [
      "store:approvals",
      "store:documents",
      "store:agentTasks",
      "sql:documents",
      "sql:agent_tasks",
    ]) {
      expect(haystack.places, place).toContain(place);
    }
    expect(s.registry.hasText("pin", CHOSEN_PIN)).toBe(true);
    expect(s.registry.hasText("pin", "123456")).toBe(true);
    expect(s.registry.hasText("puk", "12345678")).toBe(true);
    expect(s.registry.ofKind("management-key").length).toBeGreaterThanOrEqual(3);
    // The pin notification carried exactly the PIN issue returned.
    const pinNotes = s.notifier.ofKind("pin");
    expect(pinNotes.length).toBeGreaterThan(0);
    for (const n of pinNotes) expect(s.pins.get(n.cardId)).toContain(n.pin);
  });
});

// ---------------------------------------------------------------- self-test of the scan

/** How a secret can be written down; each plant must be found under its encoding. */
interface PlantedEncoding {
  name: string;
  /** Only textual secrets (PIN, PUK) / only PINs shorter than the 8-byte PIV reference data. */
  only?: "textual" | "short-pin";
  plant(secret: CapturedSecret): string;
  found(encoding: string): boolean;
}

const b = (x: Uint8Array) => Buffer.from(x);
const padded = (x: Uint8Array) => Buffer.concat([b(x), Buffer.alloc(8 - x.length, 0xff)]);

const ENCODINGS: PlantedEncoding[] = [
  { name: "utf-8 text", only: "textual", plant: (x) => `PIN ${x.text}.`, found: (e) => e === "text" },
  { name: "hex", plant: (x) => b(x.bytes).toString("hex"), found: (e) => e === "raw/hex" },
  { name: "HEX", plant: (x) => b(x.bytes).toString("hex").toUpperCase(), found: (e) => e === "raw/HEX" },
  { name: "base64", plant: (x) => b(x.bytes).toString("base64"), found: (e) => e === "raw/base64" },
  { name: "base64url", plant: (x) => b(x.bytes).toString("base64url"), found: (e) => e === "raw/base64url" },
  {
    name: "PIV 0xFF-padded, hex",
    only: "short-pin",
    plant: (x) => padded(x.bytes).toString("hex"),
    found: (e) => e === "piv-padded/hex",
  },
  {
    name: "PIV 0xFF-padded, base64",
    only: "short-pin",
    plant: (x) => padded(x.bytes).toString("base64"),
    found: (e) => e === "piv-padded/base64",
  },
  {
    name: "inside a longer base64 blob, off alignment",
    plant: (x) => Buffer.concat([randomBytes(1), b(x.bytes), randomBytes(7)]).toString("base64"),
    found: (e) => e === "raw/bytes in base64 blob",
  },
  {
    name: "byte array as JSON",
    plant: (x) => JSON.stringify([...x.bytes]),
    found: (e) => e === "raw/bytes (decimal list)",
  },
  {
    name: "Uint8Array through JSON",
    plant: (x) => JSON.stringify(Uint8Array.from(x.bytes)),
    found: (e) => e === "raw/bytes (decimal list)",
  },
];

/** Fresh secrets of every kind, so each plant is told apart by its label. */
function freshSecrets(registry: SecretRegistry, prefix: string): CapturedSecret[] {
  const digits = (n: number) => Array.from(randomBytes(n), (x) => String(x % 10)).join("");
  registry.add("pin", `${prefix}/pin`, `7${digits(5)}`);
  registry.add("puk", `${prefix}/puk`, `4${digits(7)}`);
  registry.add("management-key", `${prefix}/management-key`, randomBytes(24));
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  registry.add("private-key", `${prefix}/private-key`, privateKey.export({ format: "der", type: "pkcs8" }));
  return registry.all.filter((x) => x.label.startsWith(`${prefix}/`));
}

interface Plant {
  label: string;
  encoding: PlantedEncoding;
  text: string;
}

/** One plant per (kind, encoding) that applies to it, each with a secret of its own. */
function plantsFor(place: string, registry: SecretRegistry): Plant[] {
  const plants: Plant[] = [];
  for (const encoding of ENCODINGS) {
    for (const secret of freshSecrets(registry, `${place}/${encoding.name}`)) {
      if (encoding.only === "textual" && secret.text === undefined) continue;
      if (encoding.only === "short-pin" && !(secret.kind === "pin" && secret.bytes.length < 8)) continue;
      plants.push({ label: secret.label, encoding, text: encoding.plant(secret) });
    }
  }
  return plants;
}

/** The plants as one object (one field each) and as one string (for plain text columns). */
const asObject = (plants: Plant[]) => Object.fromEntries(plants.map((p, i) => [`field${i}`, p.text]));
const asText = (plants: Plant[]) => plants.map((p) => p.text).join(" | ");

describe("the secret scan catches a planted secret in each place and each encoding", () => {
  const registry = new SecretRegistry();
  const logger = new RecordingLogger();
  const trace: unknown[] = [];
  const notifier = new RecordingNotifier();
  const errors: unknown[] = [];
  const planted = new Map<string, Plant[]>();
  let db: PGlite;
  let store: Store;
  let writes: RecordedWrite[];
  let clean: Finding[];
  let findings: Finding[];
  let problems: string[];

  /** Collects exactly as the e2e scenario does. */
  async function collect(): Promise<Haystack> {
    const haystack = new Haystack();
    addLogLines(haystack, "log", logger.lines);
    addLogLines(haystack, "apdu-trace", trace);
    addWrites(haystack, writes);
    problems = addNotifications(haystack, notifier.sent, new Map([["card-x", ["73920166"]]]));
    errors.forEach((err, i) => {
      addError(haystack, `error ${i}`, err);
    });
    await addStoreRows(haystack, store, ["user-x"]);
    await addSqlTables(haystack, (sql) => db.query<Record<string, unknown>>(sql));
    return haystack;
  }

  function plant(place: string): Plant[] {
    const plants = plantsFor(place, registry);
    planted.set(place, plants);
    return plants;
  }

  beforeAll(async () => {
    db = await PGlite.create();
    const executor = new PgliteExecutor(db);
    await migrate(executor, migrations);
    ({ store, writes } = recordingStore(new SqlStore(executor)));
    const audit = new HashChainAuditLog(store);
    // Clean records first: with every secret known, they must scan clean (no false alarm).
    const card = await store.cards.create({
      id: "card-x",
      deviceSerial: "1000001",
      deviceType: "piv",
      state: "active",
    });
    await audit.append({
      actor: "operator-1",
      action: "card.state",
      cardId: card.id,
      details: { from: "bound", to: "active" },
    });
    notifier.sent.push({ kind: "pin", cardId: "card-x", userId: "user-x", pin: "73920166" });

    // Every place gets one plant per (kind, encoding).
    logger.log("info", "planted", asObject(plant("log")));
    trace.push({ instruction: "VERIFY", command: asText(plant("apdu-trace")), response: "", sw: "9000" });
    await audit.append({ actor: "x", action: "planted", cardId: card.id, details: asObject(plant("audit")) });
    // A snapshot persisted and then overwritten: only the recorded write still holds it.
    const op = await store.operations.create({
      id: "op-x",
      kind: "issue",
      cardId: card.id,
      machineId: "m",
      machineVersion: "1",
      status: "running",
      snapshot: asObject(plant("operation-snapshot")),
      input: asObject(plant("operation-input")),
      actor: "operator-1",
    });
    await store.operations.update({ ...op, snapshot: { value: "clean" } });
    await store.cards.create({
      id: "card-y",
      deviceSerial: "1000002",
      deviceType: "piv",
      state: "registered",
      deviceModel: asText(plant("store:cards")),
    });
    await store.certificates.create({
      id: "cert-x",
      cardId: card.id,
      slot: "9a",
      status: "written",
      subject: asText(plant("store:certificates")),
    });
    await store.requests.create({
      id: "req-x",
      cardId: card.id,
      operationId: "op-x",
      templateId: "t",
      caId: "ca",
      status: "rejected",
      rejectionReason: asText(plant("store:requests")),
    });
    await store.approvals.create({
      id: "appr-x",
      kind: "issuance",
      userId: "user-x",
      requestedBy: "operator-1",
      status: "rejected",
      reason: asText(plant("store:approvals")),
    });
    await store.documents.create({
      id: "doc-x",
      type: "form",
      userId: "user-x",
      fileName: "f.pdf",
      contentType: "application/pdf",
      content: asText(plant("store:documents")),
      sha256: "00",
      uploadedBy: "user-x",
      status: "uploaded",
    });
    await store.agentTasks.create({
      id: "task-x",
      kind: "unblock-pin",
      cardId: card.id,
      deviceSerial: "1000001",
      queuedBy: "operator-1",
      status: "queued",
      params: asObject(plant("store:agentTasks")),
    });
    await store.securityAnswers.create({
      id: "user-x",
      answers: [{ question: asText(plant("store:securityAnswers")), hash: "00", salt: "00" }],
      kdf: { name: "scrypt", n: 16384, r: 8, p: 1, keyLength: 32 },
      failedAttempts: 0,
    });
    await store.leases.acquire(card.id, asText(plant("store:leases")).slice(0, 200), 60_000);
    // A table no repository knows: only the catalogue-driven raw SQL scan can find it.
    await db.exec("CREATE TABLE planted_by_self_test (note text)");
    await db.query("INSERT INTO planted_by_self_test VALUES ($1)", [asText(plant("sql:planted_by_self_test"))]);
    errors.push(
      new CardwrightError("PIV_WRONG_PIN", asText(plant("error")), {
        details: asObject(plantsFor("error-details", registry)),
        cause: new Error(asText(plantsFor("error-cause", registry))),
      }),
    );
    notifier.sent.push({
      kind: "rejected",
      cardId: card.id,
      userId: "user-x",
      operationId: "op-x",
      reason: asText(plant("notification")),
    });
    // A pin notification carrying something else than the card's PIN.
    notifier.sent.push({ kind: "pin", cardId: card.id, userId: "user-x", pin: "00000000" });

    const haystack = await collect();
    findings = scanForSecrets(haystack, registry.all);
    clean = findings.filter(
      (f) =>
        ![...planted.values()].flat().some((p) => p.label === f.secret) && !/^error-(details|cause)\//.test(f.secret),
    );
  }, 60_000);
  afterAll(async () => db?.close());

  it("finds nothing in the clean records (the same collectors, every secret known)", () => {
    expect(describeFindings(clean)).toBe("");
  });

  const places = [
    "log",
    "apdu-trace",
    "audit",
    "operation-snapshot",
    "operation-input",
    "store:cards",
    "store:certificates",
    "store:requests",
    "store:approvals",
    "store:documents",
    "store:agentTasks",
    "store:securityAnswers",
    "store:leases",
    "sql:planted_by_self_test",
    "error",
    "notification",
  ];
  for (const place of places) {
    it(`finds every kind and encoding planted in ${place}`, () => {
      const plants = planted.get(place)!;
      // The lease owner is capped at 200 characters: it holds the first plants only.
      const checked =
        place === "store:leases" ? plants.filter((_p, i) => asText(plants.slice(0, i + 1)).length <= 200) : plants;
      expect(checked.length).toBeGreaterThan(place === "store:leases" ? 2 : 30);
      const missed = checked
        .filter((p) => !findings.some((f) => f.secret === p.label && f.place === place && p.encoding.found(f.encoding)))
        .map((p) => `${p.label} (${p.encoding.name})`);
      expect(missed).toEqual([]);
    });
  }

  it("reads snapshots that were persisted and then overwritten (from the recorded writes)", () => {
    const snapshotFindings = findings.filter((f) => f.place === "operation-snapshot");
    expect(snapshotFindings.length).toBeGreaterThan(0);
    expect(snapshotFindings.every((f) => f.where.startsWith("write "))).toBe(true);
  });

  it("reads the raw SQL rows of the repositories' tables too", () => {
    const sqlPlaces = new Set(findings.filter((f) => f.place.startsWith("sql:")).map((f) => f.place));
    for (const t of [
      "cards",
      "certificates",
      "requests",
      "operations",
      "audit_events",
      "approvals",
      "documents",
      "agent_tasks",
      "security_answers",
      "card_leases",
    ]) {
      expect(sqlPlaces, t).toContain(`sql:${t}`);
    }
  });

  it("scans error details and causes, not only messages", () => {
    const error = findings.filter((f) => f.place === "error");
    expect(error.some((f) => f.secret.startsWith("error-details/") && f.path.includes(".details."))).toBe(true);
    expect(error.some((f) => f.secret.startsWith("error-cause/") && f.path.includes(".cause.message"))).toBe(true);
  });

  it("lets the pin notification carry its card's PIN, and only that", () => {
    expect(problems).toEqual([
      "notification 2: the pin notification for card card-x carries another value than its PIN",
    ]);
    expect(findings.filter((f) => f.place === "notification" && f.where.includes("(pin"))).toEqual([]);
  });
});

describe("the whole-token rule for short secrets", () => {
  const registry = new SecretRegistry();
  registry.add("pin", "pin", "739201");
  const scan = (value: unknown) => {
    const h = new Haystack();
    h.add("t", "t", value);
    return scanForSecrets(h, registry.all).map((f) => f.encoding);
  };

  it("finds a PIN written as a value: a JSON string or number, key=value, in a sentence", () => {
    expect(scan({ pin: "739201" })).toContain("text");
    expect(scan({ pin: 739201 })).toContain("text");
    expect(scan("pin=739201;")).toContain("text");
    expect(scan("the PIN is 739201.")).toContain("text");
    expect(scan(["739201"])).toContain("text");
  });

  it("ignores the digits inside a longer letter/digit run (a base64 or hex blob), where they occur by chance", () => {
    expect(scan("MIIBa739201Zq")).toEqual([]);
    expect(scan("0a1b7392013c4d")).toEqual([]);
    expect(scan(17392015)).toEqual([]);
  });

  it("still finds its hex and base64 forms anywhere, even inside longer runs", () => {
    expect(scan(`ab${Buffer.from("739201").toString("hex")}cd`)).toContain("raw/hex");
    expect(scan(`xx${Buffer.from("739201").toString("base64")}`)).toContain("raw/base64");
  });

  it("refuses secrets too short to scan for without false alarms", () => {
    expect(() => registry.add("pin", "short", "1234")).toThrow(/at least 6/);
  });
});
