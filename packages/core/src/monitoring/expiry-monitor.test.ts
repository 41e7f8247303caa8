import { describe, expect, it } from "vitest";
import { HashChainAuditLog } from "../audit/hash-chain-audit-log.js";
import type { CertificateRecord } from "../domain/card.js";
import { CardwrightError } from "../errors.js";
import type { Notification, Notifier } from "../ports/notifier.js";
import type { NewRecord } from "../ports/store.js";
import { FixedClock } from "../testing/fixed-clock.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { RecordingNotifier } from "../testing/recording-notifier.js";
import { EXPIRY_NOTIFIED_ACTION, ExpiryMonitor } from "./expiry-monitor.js";

const DAY = 86_400_000;
const START = Date.parse("2030-03-01T00:00:00.000Z");
const inDays = (days: number) => new Date(START + days * DAY).toISOString();

/** `null`: no notifier configured. */
async function setup(notifier: Notifier | null = new RecordingNotifier()) {
  const clock = new FixedClock(new Date(START));
  const store = new InMemoryStore({ clock });
  const auditLog = new HashChainAuditLog(store, { clock });
  const monitor = new ExpiryMonitor({ store, auditLog, clock, ...(notifier === null ? {} : { notifier }) });
  await store.cards.create({ id: "card-a", deviceSerial: "1001", deviceType: "piv", state: "active", userId: "alice" });
  await store.cards.create({
    id: "card-b",
    deviceSerial: "2002",
    deviceType: "piv",
    state: "suspended",
    userId: "bob",
  });
  await store.cards.create({ id: "card-c", deviceSerial: "3003", deviceType: "piv", state: "registered" });
  const cert = (id: string, over: Partial<NewRecord<CertificateRecord>>) =>
    store.certificates.create({ id, cardId: "card-a", slot: "9a", status: "written", serialHex: `${id}-sn`, ...over });
  await cert("a-auth", { userId: "alice", notAfter: inDays(20) });
  await cert("a-sign", { userId: "alice", slot: "9c", notAfter: inDays(5) });
  await cert("a-third", { slot: "82", thirdParty: true, notAfter: inDays(10) });
  await cert("a-late", { userId: "alice", slot: "9d", notAfter: inDays(45) });
  await cert("a-revoked", { status: "revoked", notAfter: inDays(3) });
  await cert("a-removed", { status: "removed", notAfter: inDays(3) });
  await cert("a-expired", { status: "expired", notAfter: inDays(-1) });
  await cert("a-past", { notAfter: inDays(-2) });
  await cert("b-auth", { cardId: "card-b", userId: "bob", status: "suspended", notAfter: inDays(12) });
  await cert("c-orphan", { cardId: "card-c", thirdParty: true, notAfter: inDays(8) });
  return { clock, store, monitor, notifier };
}

const certIds = (list: { certificate: CertificateRecord }[]) => list.map((c) => c.certificate.id);

describe("ExpiryMonitor.listExpiring", () => {
  it("lists certificates expiring within N days, soonest first, leaving out revoked, removed and expired ones", async () => {
    const { monitor } = await setup();
    const report = await monitor.listExpiring({ withinDays: 30 });
    expect(report).toMatchObject({ asOf: inDays(0), before: inDays(30), withinDays: 30 });
    expect(certIds(report.certificates)).toEqual(["a-sign", "c-orphan", "a-third", "b-auth", "a-auth"]);
    expect(report.certificates.map((c) => c.daysLeft)).toEqual([5, 8, 10, 12, 20]);
    expect(certIds((await monitor.listExpiring({ withinDays: 6 })).certificates)).toEqual(["a-sign"]);
    expect(certIds((await monitor.listExpiring({ withinDays: 60 })).certificates)).toContain("a-late");
  });

  it("groups by card (with its user, serial and state) and by user", async () => {
    const { monitor } = await setup();
    const report = await monitor.listExpiring({ withinDays: 30 });
    expect(report.cards.map((c) => [c.cardId, c.userId, c.deviceSerial, c.cardState, certIds(c.certificates)])).toEqual(
      [
        ["card-a", "alice", "1001", "active", ["a-sign", "a-third", "a-auth"]],
        ["card-c", undefined, "3003", "registered", ["c-orphan"]],
        ["card-b", "bob", "2002", "suspended", ["b-auth"]],
      ],
    );
    expect(report.users.map((u) => [u.userId, u.cards.map((c) => c.cardId)])).toEqual([
      ["alice", ["card-a"]],
      ["bob", ["card-b"]],
    ]);
  });

  it("refuses a threshold that is not a whole number of days from 1 to 3650", async () => {
    const { monitor } = await setup();
    for (const withinDays of [0, -3, 1.5, 4000, Number.NaN]) {
      await expect(monitor.listExpiring({ withinDays })).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    }
  });
});

describe("ExpiryMonitor.notifyExpiring", () => {
  it("notifies each certificate once per threshold, audited, so a daily run does not repeat itself", async () => {
    const { monitor, notifier, store, clock } = await setup();
    const recording = notifier as RecordingNotifier;
    const first = await monitor.notifyExpiring({ withinDays: 30, actor: "expiry-job" });
    expect(certIds(first.notified)).toEqual(["a-sign", "a-third", "a-auth", "b-auth"]);
    expect(certIds(first.noRecipient)).toEqual(["c-orphan"]);
    expect(recording.ofKind("expiring")).toEqual([
      { kind: "expiring", cardId: "card-a", userId: "alice", serialHex: "a-sign-sn", notAfter: inDays(5) },
      { kind: "expiring", cardId: "card-a", userId: "alice", serialHex: "a-third-sn", notAfter: inDays(10) },
      { kind: "expiring", cardId: "card-a", userId: "alice", serialHex: "a-auth-sn", notAfter: inDays(20) },
      { kind: "expiring", cardId: "card-b", userId: "bob", serialHex: "b-auth-sn", notAfter: inDays(12) },
    ]);
    const events = (await store.audit.list()).filter((e) => e.action === EXPIRY_NOTIFIED_ACTION);
    expect(events).toHaveLength(4);
    expect(events[1]).toMatchObject({
      actor: "expiry-job",
      cardId: "card-a",
      userId: "alice",
      details: { certificateId: "a-third", serialHex: "a-third-sn", thresholdDays: 30, daysLeft: 10, thirdParty: true },
    });

    // The next day: nothing new at 30 days.
    clock.advance(DAY);
    const second = await monitor.notifyExpiring({ withinDays: 30 });
    expect(second.notified).toEqual([]);
    expect(certIds(second.alreadyNotified)).toEqual(["a-sign", "a-third", "a-auth", "b-auth"]);
    expect(recording.ofKind("expiring")).toHaveLength(4);

    // A smaller threshold is a new notice; a larger one is covered by it.
    const week = await monitor.notifyExpiring({ withinDays: 7 });
    expect(certIds(week.notified)).toEqual(["a-sign"]);
    expect((await monitor.notifyExpiring({ withinDays: 7 })).notified).toEqual([]);
    expect((await monitor.notifyExpiring({ withinDays: 30 })).notified).toEqual([]);
    expect(recording.ofKind("expiring")).toHaveLength(5);

    // A certificate issued since (a renewal) is notified on its own.
    await store.certificates.create({
      id: "a-renewed",
      cardId: "card-a",
      userId: "alice",
      slot: "9a",
      status: "written",
      serialHex: "a-renewed-sn",
      notAfter: inDays(25),
    });
    expect(certIds((await monitor.notifyExpiring({ withinDays: 30 })).notified)).toEqual(["a-renewed"]);
  });

  it("reports and audits a delivery failure, and delivers it on the next run", async () => {
    let failing = true;
    const delivered: Notification[] = [];
    const flaky: Notifier = {
      notify: async (n) => {
        if (failing) throw new CardwrightError("NOTIFY_FAILED", "SMTP server said 451", { details: { smtpCode: 451 } });
        delivered.push(n);
      },
    };
    const { monitor, store } = await setup(flaky);
    const first = await monitor.notifyExpiring({ withinDays: 6 });
    expect(first.notified).toEqual([]);
    expect(first.failed.map((f) => [f.certificate.certificate.id, f.error.code])).toEqual([
      ["a-sign", "NOTIFY_FAILED"],
    ]);
    expect((await store.audit.list()).map((e) => e.action)).toEqual(["certificate.expiry-notify-failed"]);
    failing = false;
    expect(certIds((await monitor.notifyExpiring({ withinDays: 6 })).notified)).toEqual(["a-sign"]);
    expect(delivered).toHaveLength(1);
  });

  it("lets one of two runs started together send, so nobody is told twice", async () => {
    const { monitor, notifier } = await setup();
    const results = await Promise.allSettled([
      monitor.notifyExpiring({ withinDays: 30, actor: "job-1" }),
      monitor.notifyExpiring({ withinDays: 30, actor: "job-2" }),
    ]);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "CARD_LEASED" });
    }
    const sent = (notifier as RecordingNotifier).ofKind("expiring");
    expect(sent).toHaveLength(4);
    expect(new Set(sent.map((n) => n.serialHex)).size).toBe(4);
    // The lease is released: the next run goes ahead (and finds everything notified).
    expect((await monitor.notifyExpiring({ withinDays: 30 })).alreadyNotified).toHaveLength(4);
  });

  it("refuses to run without a notifier", async () => {
    const { monitor } = await setup(null);
    await expect(monitor.notifyExpiring({ withinDays: 30 })).rejects.toMatchObject({ code: "CONFIG_INVALID" });
  });
});
