/**
 * SmtpNotifier against a real SMTP server (aiosmtpd on loopback); mails are read back from its
 * Maildir with Python's `email` parser. No mocks.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CardRecord, CardwrightError, type Notification } from "@cardwright/core";
import { FixedClock, InMemoryDirectory, InMemoryStore } from "@cardwright/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SmtpNotifier, type SmtpNotifierOptions } from "../src/index.js";
import { makeTlsFiles, type SmtpServer, startSmtpServer } from "./smtp-server.js";

const PIN = "73914062";

const directory = new InMemoryDirectory([
  {
    id: "alice",
    displayName: "Alice <Ops> Example",
    email: "alice@example.org",
    groups: ["staff"],
    attributes: { manager: "bob" },
  },
  { id: "bob", displayName: "Bob Manager", email: "bob@example.org", groups: ["staff"], attributes: {} },
  { id: "carol", displayName: "Carol NoMail", groups: ["staff"], attributes: { manager: "dave" } },
]);

let server: SmtpServer;
let tlsServer: SmtpServer;
let tlsDir: string;
let tls: ReturnType<typeof makeTlsFiles>;
let store: InMemoryStore;
let card: CardRecord;

beforeAll(async () => {
  tlsDir = mkdtempSync(join(tmpdir(), "cw-smtp-tls-"));
  tls = makeTlsFiles(tlsDir);
  [server, tlsServer] = await Promise.all([startSmtpServer(), startSmtpServer(tls)]);
  store = new InMemoryStore();
  card = await store.cards.create({
    id: "card-1",
    deviceSerial: "12345678",
    deviceType: "piv",
    userId: "alice",
    state: "active",
  });
});

afterAll(async () => {
  await Promise.all([server?.stop(), tlsServer?.stop()]);
  rmSync(tlsDir, { recursive: true, force: true });
});

function notifier(overrides: Partial<SmtpNotifierOptions> = {}, port = server.port): SmtpNotifier {
  return new SmtpNotifier({
    smtp: { host: "127.0.0.1", port },
    from: "Card office <cards@example.org>",
    directory,
    cards: store.cards,
    approvers: ["ca-operator@example.org"],
    issuer: "Example Corp",
    clock: new FixedClock(new Date("2026-11-23T10:00:00Z")),
    ...overrides,
  });
}

const CARD_ID = "card-1";
const pin = (userId = "alice"): Notification => ({ kind: "pin", cardId: CARD_ID, userId, pin: PIN });

describe("SmtpNotifier", () => {
  it("mails a random PIN to the card holder as a printable envelope, with no PIN in the subject", async () => {
    const before = server.received().length;
    await notifier().notify(pin());
    const mail = server.received().slice(before);
    expect(mail).toHaveLength(1);
    const [m] = mail;
    expect(m?.to).toBe("alice@example.org");
    expect(m?.subject).toBe("[Example Corp] PIN for PIV smart card 12345678");
    expect(m?.subject).not.toContain(PIN);
    expect(m?.text).toContain(PIN);
    expect(m?.html).toContain(`<strong>${PIN}</strong>`);
    expect(m?.html).toContain("12345678");
    // The display name is escaped, not markup.
    expect(m?.html).toContain("Alice &#60;Ops&#62; Example");
    expect(m?.html).not.toContain("<Ops>");
  });

  it("mails the PIN to the holder's manager when policy says so", async () => {
    const before = server.received().length;
    await notifier({ pinRecipient: "manager" }).notify(pin());
    const [m] = server.received().slice(before);
    expect(m?.to).toBe("bob@example.org");
    expect(m?.html).toContain("Alice &#60;Ops&#62; Example");
  });

  it("asks the configured approvers to approve a pending request", async () => {
    const before = server.received().length;
    await notifier().notify({
      kind: "approval-requested",
      cardId: card.id,
      userId: "alice",
      operationId: "op-1",
      templateId: "piv-auth",
      caRequestId: "42",
    });
    const [m] = server.received().slice(before);
    expect(m?.to).toBe("ca-operator@example.org");
    expect(m?.text).toContain("template piv-auth");
    expect(m?.text).toContain("CA request id: 42");
  });

  it("asks the approvers to validate an issuance request that names no card yet", async () => {
    const before = server.received().length;
    await notifier().notify({
      kind: "issuance-approval-requested",
      approvalId: "apr-1",
      userId: "alice",
      requestedBy: "operator-1",
      deviceSerial: "998877",
    });
    const [m] = server.received().slice(before);
    expect(m?.to).toBe("ca-operator@example.org");
    expect(m?.subject).toBe("[Example Corp] Validation needed: card issuance for Alice <Ops> Example");
    expect(m?.text).toContain("operator-1 asks to issue a card to Alice <Ops> Example on device 998877");
    expect(m?.text).toContain("apr-1");
  });

  it("asks the approvers to review documents, and tells the holder which to upload again", async () => {
    const before = server.received().length;
    await notifier().notify({
      kind: "documents-review-requested",
      cardId: card.id,
      userId: "alice",
      documentTypes: ["certificate-request-form"],
    });
    await notifier().notify({
      kind: "documents-rejected",
      cardId: card.id,
      userId: "alice",
      decidedBy: "admin-1",
      reason: "unsigned",
      documentTypes: ["certificate-form"],
    });
    const [review, rejected] = server.received().slice(before);
    expect(review?.to).toBe("ca-operator@example.org");
    expect(review?.text).toContain("PIV smart card 12345678");
    expect(review?.text).toContain("certificate-request-form");
    expect(rejected?.to).toBe("alice@example.org");
    expect(rejected?.text).toContain("admin-1 rejected documents for your PIV smart card 12345678: unsigned.");
    expect(rejected?.text).toContain("Please upload new ones: certificate-form.");
  });

  it("tells the holder a card update completed, or that the CA rejected it", async () => {
    const before = server.received().length;
    await notifier().notify({ kind: "updated", cardId: card.id, userId: "alice", operationId: "op-7" });
    await notifier().notify({
      kind: "update-rejected",
      cardId: card.id,
      userId: "alice",
      operationId: "op-8",
      reason: "not entitled",
    });
    const [updated, rejected] = server.received().slice(before);
    expect(updated?.to).toBe("alice@example.org");
    expect(updated?.subject).toBe("[Example Corp] Your PIV smart card 12345678 was updated");
    expect(rejected?.to).toBe("alice@example.org");
    expect(rejected?.text).toContain(
      "rejected the update of PIV smart card 12345678 of Alice <Ops> Example: not entitled.",
    );
  });

  it("tells the holder about an expiring certificate", async () => {
    const before = server.received().length;
    await notifier().notify({
      kind: "expiring",
      cardId: card.id,
      userId: "alice",
      serialHex: "0a1b",
      notAfter: "2026-12-01T00:00:00.000Z",
    });
    const [m] = server.received().slice(before);
    expect(m?.subject).toContain("expires on 2026-12-01");
    expect(m?.text).toContain("0a1b");
  });

  it.each([
    ["a holder without e-mail", {}, pin("carol"), /carol has no e-mail address/],
    ["a manager not in the directory", { pinRecipient: "manager" }, pin("carol"), /user dave is not in the directory/],
    ["an unknown user", {}, pin("zed"), /user zed is not in the directory/],
    [
      "no approvers",
      { approvers: [] },
      {
        kind: "approval-requested",
        cardId: "card-1",
        userId: "alice",
        operationId: "o",
        templateId: "t",
        caRequestId: "1",
      },
      /no approvers are configured/,
    ],
  ] as const)("refuses %s with NOTIFY_NO_RECIPIENT and sends nothing", async (_, options, notification, message) => {
    const before = server.received().length;
    const err = await notifier(options as Partial<SmtpNotifierOptions>)
      .notify(notification as Notification)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardwrightError);
    expect((err as CardwrightError).code).toBe("NOTIFY_NO_RECIPIENT");
    expect((err as CardwrightError).message).toMatch(message);
    expect(server.received().length).toBe(before);
  });

  it("reports an unreachable server as NOTIFY_FAILED without the PIN anywhere in the error", async () => {
    const down = await startSmtpServer();
    const port = down.port;
    await down.stop();
    const err = await notifier({}, port)
      .notify(pin())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardwrightError);
    expect((err as CardwrightError).code).toBe("NOTIFY_FAILED");
    expect((err as CardwrightError).message).toMatch(/127\.0\.0\.1:\d+ failed: ESOCKET \(connect ECONNREFUSED/);
    expect(JSON.stringify(err)).not.toContain(PIN);
    expect(String((err as Error).stack)).not.toContain(PIN);
  });

  it("sends over STARTTLS to a server whose certificate chains to the given CA", async () => {
    const before = tlsServer.received().length;
    await notifier({
      smtp: { host: "127.0.0.1", port: tlsServer.port, requireTls: true, ca: readFileSync(tls.caFile, "utf8") },
    }).notify(pin());
    expect(tlsServer.received().slice(before)).toHaveLength(1);
  });

  it("refuses a server certificate it cannot trust", async () => {
    const before = tlsServer.received().length;
    const err = await notifier({ smtp: { host: "127.0.0.1", port: tlsServer.port, requireTls: true } })
      .notify(pin())
      .catch((e: unknown) => e);
    expect((err as CardwrightError).code).toBe("NOTIFY_FAILED");
    expect(tlsServer.received().length).toBe(before);
  });
});
