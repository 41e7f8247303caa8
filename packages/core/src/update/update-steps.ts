/**
 * The update machine's steps. Each is idempotent — a run restored from a snapshot re-runs the step
 * that was in flight — and records what it did in the store with its audit event in one
 * transaction. Secrets (the user's PIN, the admin credential) stay in the {@link UpdateSession}.
 */

import { fromPromise } from "xstate";
import type { CardRecord, CertificateRecord, RequestRecord } from "../domain/card.js";
import type { CardStateTransition, CertificateTemplate, Policy } from "../domain/policy.js";
import { CardwrightError } from "../errors.js";
import { assertTransition } from "../lifecycle/card-state-transitions.js";
import { parseCertificate, spkiEquals } from "../pki/certificate.js";
import { buildCsr } from "../pki/csr.js";
import { renderSan, renderSubject } from "../policy/attribute-template.js";
import { ekuOid } from "../policy/extended-key-usage.js";
import { requireTemplate } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { CaResult, CertificateAuthority, CertificateProfile } from "../ports/certificate-authority.js";
import type { Directory, DirectoryUser } from "../ports/directory.js";
import type { Notifier } from "../ports/notifier.js";
import type { Logger, Random } from "../ports/runtime.js";
import type { Store } from "../ports/store.js";
import { notifySafely } from "../runtime/notify-safely.js";
import type { DeviceSession } from "../workflows/device-session.js";
import { issuedCertificateRecord } from "../workflows/issued-certificate-record.js";
import { type OperationRecordHandle, releasingCard } from "../workflows/operation-record-handle.js";
import { type CaRetryOptions, retryCa } from "../workflows/retry-ca.js";
import {
  assertCardHeldBy,
  assertDeviceIsCard,
  requireCard,
  requireCertificateAuthority,
} from "../workflows/step-preconditions.js";
import { checkUpdateTemplates } from "./update-capabilities.js";
import type { ItemOutput, UpdateContext, UpdateItem, updateMachine } from "./update-machine.js";
import { trackedAttributeValues } from "./update-plan.js";

/** What the update steps need, all injected. */
export interface UpdateDependencies {
  store: Store;
  directory: Directory;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  auditLog: AuditLog;
  notifier?: Notifier;
  random: Random;
  logger: Logger;
  caRetry?: CaRetryOptions;
  /** The target policy of the update. */
  policy: Policy;
  /** The transition table of the card's policy. */
  transitions: readonly CardStateTransition[];
}

/**
 * One run's hold on the card: the {@link DeviceSession} (admin authentication) and the user's PIN,
 * needed to sign requests with the card's keys. Memory only; a resumed run builds a new one.
 */
export class UpdateSession {
  readonly device: DeviceSession;
  readonly #pin: string | undefined;
  #pinVerified = false;

  constructor(device: DeviceSession, pin?: string) {
    this.device = device;
    this.#pin = pin;
  }

  /**
   * Verify the user's PIN once per run (SP 800-73-4 Part 2 §3.2.1 VERIFY), before the card signs.
   * @throws CardwrightError `PIV_SECURITY_STATUS` (`details.reason` `pin-required`) without a PIN; device PIN errors.
   */
  async ensureUserPin(cardId: string): Promise<void> {
    if (this.#pinVerified) return;
    if (this.#pin === undefined) {
      throw new CardwrightError(
        "PIV_SECURITY_STATUS",
        `card ${cardId} must sign certificate requests with the user's keys: pass the user's PIN to the update`,
        { details: { cardId, reason: "pin-required" } },
      );
    }
    await this.device.device.verifyPin(this.#pin);
    this.#pinVerified = true;
  }
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

/** The step implementations for one run (the session is absent for a cancel without the card). */
export class UpdateSteps {
  readonly #d: UpdateDependencies;
  readonly #session: UpdateSession | undefined;
  readonly #operation: OperationRecordHandle | undefined;

  /**
   * @param run.operation the run's operation record, when the runner shares it: the steps that end
   * the run by releasing the card (commit, cancel) then save the operation's final status in the
   * same transaction (see {@link OperationRecordHandle}).
   */
  constructor(deps: UpdateDependencies, session?: UpdateSession, run: { operation?: OperationRecordHandle } = {}) {
    this.#d = deps;
    this.#session = session;
    this.#operation = run.operation;
  }

  /**
   * A transaction that releases the card at the end of the run: with the operation's final
   * `status` — the one the runner gives the final state the step leads to — when the run shares its record.
   */
  #releasingCard<T>(status: "completed" | "failed", change: (tx: Store) => Promise<T>): Promise<T> {
    return releasingCard(this.#operation, status, (fn) => this.#d.store.transaction(fn), change);
  }

  // ---------------------------------------------------------------- helpers

  #s(): UpdateSession {
    if (this.#session === undefined) {
      throw new CardwrightError("DEVICE_NOT_FOUND", "this update step needs the card in a reader; pass `device`", {
        details: {},
      });
    }
    return this.#session;
  }

  async #heldCard(c: UpdateContext, store: Store = this.#d.store): Promise<CardRecord> {
    const card = await requireCard(store, c.cardId);
    assertCardHeldBy(card, c.operationId);
    return card;
  }

  async #user(c: UpdateContext): Promise<DirectoryUser> {
    const id = c.userId ?? "";
    const user = await this.#d.directory.getUser(id);
    if (user === null)
      throw new CardwrightError("USER_NOT_FOUND", `the directory has no user ${id}`, { details: { userId: id } });
    return user;
  }

  #template(templateId: string): CertificateTemplate {
    return requireTemplate(this.#d.policy, templateId);
  }

  #ca(caId: string): CertificateAuthority {
    return requireCertificateAuthority(this.#d.certificateAuthorities, caId);
  }

  #retryCa<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return retryCa(operation, call, {
      random: this.#d.random,
      logger: this.#d.logger,
      ...(this.#d.caRetry === undefined ? {} : { options: this.#d.caRetry }),
    });
  }

  #audit(c: UpdateContext, action: string, details: Record<string, unknown>, tx?: Store, by?: UpdateContext["cancel"]) {
    const who = by ?? {
      actor: c.actor,
      actorKind: c.actorKind,
      ...(c.comment === undefined ? {} : { comment: c.comment }),
    };
    return this.#d.auditLog.append(
      {
        actor: who.actor,
        action,
        cardId: c.cardId,
        ...(c.userId === undefined ? {} : { userId: c.userId }),
        operationId: c.operationId,
        details: {
          operation: "update",
          actorKind: who.actorKind,
          ...details,
          ...(who.comment === undefined ? {} : { comment: who.comment }),
        },
      },
      tx,
    );
  }

  #item(c: UpdateContext): UpdateItem {
    const item = c.items[c.index];
    if (item === undefined) throw new CardwrightError("WORKFLOW_STATE", `update has no item at index ${c.index}`);
    return item;
  }

  async #certificate(id: string, store: Store = this.#d.store): Promise<CertificateRecord> {
    const cert = await store.certificates.get(id);
    if (cert === null) {
      throw new CardwrightError("STORE_NOT_FOUND", `certificate ${id} does not exist`, {
        details: { recordKind: "certificate", recordId: id },
      });
    }
    return cert;
  }

  #profile(t: CertificateTemplate): CertificateProfile {
    return {
      templateId: t.id,
      ...(t.caProfile === undefined ? {} : { caProfile: t.caProfile }),
      keyUsage: t.keyUsage,
      extendedKeyUsage: t.extendedKeyUsage.map(ekuOid),
      validityDays: t.validityDays,
    };
  }

  // ---------------------------------------------------------------- steps

  /** The device is the card, the operation holds it, and the device can do what the items need. */
  async connectCard(c: UpdateContext): Promise<void> {
    const card = await this.#heldCard(c);
    const device = this.#s().device.device;
    assertDeviceIsCard(card, device.identity.serial);
    const templates = [...new Set(c.items.map((i) => i.templateId))].map((id) => this.#template(id));
    checkUpdateTemplates(this.#d.policy, device.capabilities, templates);
  }

  /** Authenticate as the card's administrator (its stored credential). */
  async authenticateAdmin(c: UpdateContext): Promise<void> {
    await this.#s().device.ensureAdmin(await this.#heldCard(c));
  }

  /**
   * The key the item certifies: a new key generated on the card (add, rekey), else the key of the
   * certificate renewed. A key generated before (the item has one) is not generated again when the
   * request was already built with it.
   */
  async generateKey(c: UpdateContext): Promise<ItemOutput> {
    const item = this.#item(c);
    if (!item.rekey) {
      const previous = await this.#certificate(item.previousCertificateId ?? "");
      if (previous.certificate === undefined) {
        throw new CardwrightError("WORKFLOW_STATE", `certificate ${previous.id} has no DER on record to renew`, {
          details: { certificateId: previous.id },
        });
      }
      return { item: { ...item, status: "keyed", spki: b64(parseCertificate(unb64(previous.certificate)).spki) } };
    }
    if (item.spki !== undefined && (await this.#d.store.requests.get(item.requestId))?.csr !== undefined) {
      return { item: { ...item, status: "keyed" } };
    }
    const session = this.#s();
    const card = await this.#heldCard(c);
    await session.device.ensureAdmin(card);
    // Whether the slot held a key of a certificate the card had before: replacing it is what cancel cannot undo.
    const before = (await this.#d.store.certificates.list({ cardId: c.cardId })).some(
      (r) => r.slot === item.slot && r.status === "written" && !c.items.some((i) => i.requestId === r.id),
    );
    const key = await session.device.device.generateKeyPair(item.slot, item.keyAlgorithm);
    if (key.algorithm !== item.keyAlgorithm) {
      throw new CardwrightError(
        "DEVICE_CAPABILITY",
        `the device generated a ${key.algorithm} key, not ${item.keyAlgorithm}`,
        {
          details: { slot: item.slot, templateId: item.templateId },
        },
      );
    }
    await this.#audit(c, "key.generated", {
      templateId: item.templateId,
      slot: item.slot,
      keyAlgorithm: item.keyAlgorithm,
      replacedKey: before,
    });
    return { item: { ...item, status: "keyed", spki: b64(key.spki) }, keyReplaced: before };
  }

  /** Build the PKCS#10 request (RFC 2986) signed by the card with the item's key, saved as our request record. */
  async buildCsr(c: UpdateContext): Promise<ItemOutput> {
    const item = this.#item(c);
    if ((await this.#d.store.requests.get(item.requestId))?.csr !== undefined) {
      return { item: { ...item, status: "requested" } };
    }
    if (item.spki === undefined) {
      throw new CardwrightError("WORKFLOW_STATE", `template ${item.templateId} has no key to certify`, {
        details: { templateId: item.templateId },
      });
    }
    const t = this.#template(item.templateId);
    const user = await this.#user(c);
    const site = { policyId: this.#d.policy.id, templateId: t.id };
    const session = this.#s();
    await session.ensureUserPin(c.cardId);
    const csr = await buildCsr(
      {
        subject: renderSubject(t.subject, user, site),
        publicKey: { algorithm: t.keyAlgorithm, spki: unb64(item.spki) },
        slot: t.slot,
        san: renderSan(t.san, user, site),
        keyUsage: t.keyUsage,
        extendedKeyUsage: t.extendedKeyUsage,
      },
      session.device.device,
    );
    await this.#d.store.transaction(async (tx) => {
      await tx.requests.create({
        id: item.requestId,
        cardId: c.cardId,
        operationId: c.operationId,
        templateId: t.id,
        caId: t.caId,
        status: "created",
        csr: b64(csr),
      });
      await this.#audit(
        c,
        "request.created",
        { templateId: t.id, caId: t.caId, requestId: item.requestId, kind: item.kind, rekey: item.rekey },
        tx,
      );
    });
    return { item: { ...item, status: "requested" } };
  }

  /** Submit (add) or renew (RFC 4210 kur / RFC 7030 simplereenroll, as the CA does it) under our request id. */
  async submitRequest(c: UpdateContext): Promise<ItemOutput> {
    const item = this.#item(c);
    const request = await this.#d.store.requests.get(item.requestId);
    if (request?.csr === undefined) {
      throw new CardwrightError("WORKFLOW_STATE", `request ${item.requestId} has no CSR to submit`, {
        details: { requestId: item.requestId },
      });
    }
    const t = this.#template(item.templateId);
    const ca = this.#ca(t.caId);
    const submission = { requestId: request.id, csr: unb64(request.csr), profile: this.#profile(t) };
    let result: CaResult;
    if (item.kind === "renew") {
      const previous = await this.#certificate(item.previousCertificateId ?? "");
      const previousDer = unb64(previous.certificate ?? "");
      const device = this.#session?.device.device;
      const slot = previous.slot;
      result = await this.#retryCa(`renewing certificate ${previous.serialHex}`, () =>
        ca.renew({
          ...submission,
          previousCertificate: previousDer,
          previousSerialHex: previous.serialHex ?? "",
          rekey: item.rekey,
          // The previous key is still on the card only for a same-key renewal.
          ...(item.rekey || device === undefined
            ? {}
            : {
                signWithPreviousKey: async (data: Uint8Array, hash: "SHA-256" | "SHA-384" | "SHA-512") => {
                  await this.#s().ensureUserPin(c.cardId);
                  return device.sign(slot, t.keyAlgorithm, hash, data);
                },
              }),
        }),
      );
    } else {
      result = await this.#retryCa(`submitting request ${request.id}`, () => ca.submit(submission));
    }
    return { item: await this.#recordResult(c, item, request, t, result) };
  }

  /** Record a CA answer: request status, and for an issued certificate its inventory record (`valid`). */
  async #recordResult(
    c: UpdateContext,
    item: UpdateItem,
    request: RequestRecord,
    t: CertificateTemplate,
    result: CaResult,
  ): Promise<UpdateItem> {
    const user = result.status === "issued" ? await this.#user(c) : undefined;
    return this.#d.store.transaction(async (tx) => {
      const current = (await tx.requests.get(request.id)) ?? request;
      if (result.status === "issued") {
        const tracked = user === undefined ? undefined : trackedAttributeValues(t, user);
        const cert = issuedCertificateRecord({
          request: current,
          cardId: c.cardId,
          ...(c.userId === undefined ? {} : { userId: c.userId }),
          template: t,
          certificate: result.certificate,
          ...(tracked === undefined ? {} : { trackedAttributes: tracked }),
        });
        await tx.requests.update({
          ...current,
          status: "issued",
          caRequestId: result.caRequestId,
          certificate: cert.certificate,
        });
        if ((await tx.certificates.get(request.id)) === null) await tx.certificates.create(cert);
        await this.#audit(
          c,
          "certificate.issued",
          { templateId: t.id, caId: t.caId, serialHex: cert.serialHex, requestId: request.id, kind: item.kind },
          tx,
        );
        return { ...item, status: "issued", caRequestId: result.caRequestId, serialHex: cert.serialHex };
      }
      if (result.status === "pending") {
        await tx.requests.update({ ...current, status: "pending", caRequestId: result.caRequestId });
        await this.#audit(
          c,
          "request.pending",
          { templateId: t.id, caId: t.caId, requestId: request.id, caRequestId: result.caRequestId },
          tx,
        );
        return { ...item, status: "pending", caRequestId: result.caRequestId };
      }
      await tx.requests.update({
        ...current,
        status: "rejected",
        rejectionReason: result.reason,
        ...(result.caRequestId === undefined ? {} : { caRequestId: result.caRequestId }),
      });
      await this.#audit(
        c,
        "request.rejected",
        { templateId: t.id, caId: t.caId, requestId: request.id, reason: result.reason },
        tx,
      );
      return {
        ...item,
        status: "rejected",
        rejectionReason: result.reason,
        ...(result.caRequestId === undefined ? {} : { caRequestId: result.caRequestId }),
      };
    });
  }

  /** A CA holds a request: the operation rests `pending` (the card stays `updating`); approvers are told. */
  async markPending(c: UpdateContext): Promise<void> {
    const pending = c.items.filter((i) => i.status === "pending");
    await this.#audit(c, "update.pending", { requests: pending.map((i) => i.requestId) });
    if (c.userId === undefined) return;
    for (const i of pending) {
      await notifySafely(this.#d, {
        kind: "approval-requested",
        cardId: c.cardId,
        userId: c.userId,
        operationId: c.operationId,
        templateId: i.templateId,
        caRequestId: i.caRequestId ?? "",
      });
    }
  }

  /** Ask the CA again about every held request ("continue card update"). */
  async pollRequests(c: UpdateContext): Promise<{ items: UpdateItem[] }> {
    const items: UpdateItem[] = [];
    for (const item of c.items) {
      if (item.status !== "pending" || item.caRequestId === undefined) {
        items.push(item);
        continue;
      }
      const request = await this.#d.store.requests.get(item.requestId);
      if (request === null) {
        throw new CardwrightError("WORKFLOW_STATE", `pending request ${item.requestId} is not on record`, {
          details: { requestId: item.requestId },
        });
      }
      const ca = this.#ca(item.caId);
      const caRequestId = item.caRequestId;
      const result = await this.#retryCa(`polling request ${item.requestId}`, () => ca.poll(caRequestId));
      items.push(await this.#recordResult(c, item, request, this.#template(item.templateId), result));
    }
    return { items };
  }

  /**
   * Write every issued certificate to its slot, after checking it certifies the key the card holds
   * for it. A renewal's certificate replaces the one it renews in the slot (the old DER stays on
   * record, so a cancel can write it back).
   */
  async writeCertificates(c: UpdateContext): Promise<{ items: UpdateItem[] }> {
    const session = this.#s();
    await session.device.ensureAdmin(await this.#heldCard(c));
    const items: UpdateItem[] = [];
    for (const item of c.items) {
      if (item.status !== "issued" && item.status !== "written") {
        items.push(item);
        continue;
      }
      const record = await this.#certificate(item.requestId);
      const der = unb64(record.certificate ?? "");
      if (item.spki === undefined || !spkiEquals(parseCertificate(der).spki, unb64(item.spki))) {
        throw new CardwrightError(
          "CA_BAD_RESPONSE",
          `the certificate issued for template ${item.templateId} does not certify the card's key in slot ${item.slot}`,
          { details: { templateId: item.templateId, slot: item.slot, serialHex: record.serialHex } },
        );
      }
      await session.device.device.writeCertificate(item.slot, der);
      if (record.status !== "written") {
        await this.#d.store.transaction(async (tx) => {
          const current = await this.#certificate(record.id, tx);
          await tx.certificates.update({ ...current, status: "written" });
          await this.#audit(
            c,
            "certificate.written",
            { templateId: item.templateId, slot: item.slot, serialHex: record.serialHex, kind: item.kind },
            tx,
          );
        });
      }
      items.push({ ...item, status: "written" });
    }
    return { items };
  }

  /**
   * The point of no return: revoke the certificates renewals superseded (RFC 5280 §5.3.1
   * `superseded`), revoke and delete the removed ones (`cessationOfOperation`), apply the foreign
   * certificate rule, and record the card `active` under the target policy.
   */
  async commit(c: UpdateContext): Promise<void> {
    const device = this.#session?.device;
    for (const item of c.items.filter((i) => i.kind === "renew")) {
      await this.#retire(c, item.previousCertificateId ?? "", "superseded", "revoked", {
        supersededBy: item.serialHex,
      });
    }
    for (const r of c.plan.remove) {
      await this.#retire(c, r.certificateId, "cessationOfOperation", "removed", {});
    }
    for (const f of c.plan.foreign) {
      if (f.action === "remove") {
        if (device === undefined)
          throw new CardwrightError("DEVICE_NOT_FOUND", "removing a foreign certificate needs the card");
        await device.ensureAdmin(await this.#heldCard(c));
        const onCard = await device.device.readCertificate(f.slot);
        if (onCard !== null && b64(onCard) === f.certificate) await device.device.deleteCertificate(f.slot);
        await this.#audit(c, "certificate.foreign.removed", {
          slot: f.slot,
          serialHex: f.serialHex,
          subject: f.subject,
          issuer: f.issuer,
        });
      } else if (f.action === "register") {
        await registerForeign(
          this.#d.store,
          this.#d.auditLog,
          c,
          f,
          `${c.operationId}-foreign-${f.slot}`,
          c.actor,
          c.actorKind,
        );
      } else {
        await this.#audit(c, "certificate.foreign.kept", {
          slot: f.slot,
          serialHex: f.serialHex,
          subject: f.subject,
          issuer: f.issuer,
        });
      }
    }
    // `commit` leads to `done`: the operation is `completed`.
    await this.#releasingCard("completed", async (tx) => {
      const card = await this.#heldCard(c, tx);
      for (const item of c.items) {
        const cert = await tx.certificates.get(item.requestId);
        if (cert?.status !== "written") {
          throw new CardwrightError(
            "WORKFLOW_STATE",
            `certificate for template ${item.templateId} is not written; the update cannot complete`,
            {
              details: { templateId: item.templateId, requestId: item.requestId },
            },
          );
        }
      }
      assertTransition(this.#d.transitions, card.state, c.fromState, "update", card.id);
      const { pendingOperationId: _done, ...rest } = card;
      await tx.cards.update({ ...rest, state: c.fromState, policyId: c.policyId, policyVersion: c.policyVersion });
      await this.#audit(
        c,
        "card.state",
        {
          from: card.state,
          to: c.fromState,
          policyId: c.policyId,
          policyVersion: c.policyVersion,
          ...(card.policyId === c.policyId && card.policyVersion === c.policyVersion
            ? {}
            : { previousPolicyId: card.policyId, previousPolicyVersion: card.policyVersion }),
          added: c.items.filter((i) => i.kind === "add").map((i) => i.serialHex),
          renewed: c.items.filter((i) => i.kind === "renew").map((i) => i.serialHex),
          removed: c.plan.remove.map((r) => r.serialHex ?? r.certificateId),
          kept: c.plan.keep.map((k) => k.serialHex ?? k.certificateId),
        },
        tx,
      );
    });
    if (c.userId !== undefined) {
      await notifySafely(this.#d, { kind: "updated", cardId: c.cardId, userId: c.userId, operationId: c.operationId });
    }
  }

  /**
   * Revoke an old certificate at its CA and record it; for a removal also delete it from the card
   * (only if the slot still holds exactly it). Skips what is already done.
   */
  async #retire(
    c: UpdateContext,
    certificateId: string,
    reason: "superseded" | "cessationOfOperation",
    status: "revoked" | "removed",
    facts: Record<string, unknown>,
  ): Promise<void> {
    const cert = await this.#certificate(certificateId);
    if (cert.status === status) return;
    if (cert.status !== "revoked" && cert.caId !== undefined && cert.serialHex !== undefined) {
      const ca = this.#ca(cert.caId);
      const serialHex = cert.serialHex;
      await this.#retryCa(`revoking certificate ${serialHex}`, () => ca.revoke(serialHex, reason));
    }
    if (status === "removed") {
      const device = this.#s().device;
      await device.ensureAdmin(await this.#heldCard(c));
      const onCard = await device.device.readCertificate(cert.slot);
      if (onCard !== null && b64(onCard) === cert.certificate) await device.device.deleteCertificate(cert.slot);
    }
    await this.#d.store.transaction(async (tx) => {
      const current = await this.#certificate(cert.id, tx);
      await tx.certificates.update({ ...current, status });
      await this.#audit(
        c,
        status === "removed" ? "certificate.removed" : "certificate.revoked",
        { templateId: cert.templateId, slot: cert.slot, serialHex: cert.serialHex, reason, ...facts },
        tx,
      );
    });
  }

  /**
   * Cancel update: revoke at the CA (`cessationOfOperation`) every certificate issued for this
   * update, take it off the card and write back the certificate it replaced, then give the card
   * back `active` under the policy it had. A request still held at a CA is polled once: issued,
   * it is revoked; still held, it is audited `request.abandoned` for the CA operator to reject.
   * @throws CardwrightError `WORKFLOW_STATE` when commit started or a key the card held was replaced.
   */
  async cancel(c: UpdateContext): Promise<void> {
    if (c.commitStarted || c.keysReplaced.length > 0) {
      throw new CardwrightError(
        "WORKFLOW_STATE",
        c.commitStarted
          ? `update ${c.operationId} is committing; it can only be continued`
          : `update ${c.operationId} replaced the card's key in slot ${c.keysReplaced.join(", ")}; a private key cannot be restored, so the update can only be continued`,
        { details: { operationId: c.operationId, cardId: c.cardId, slots: c.keysReplaced } },
      );
    }
    const by = c.cancel;
    for (const item of c.items) {
      let cert = await this.#d.store.certificates.get(item.requestId);
      if (cert === null && item.caRequestId !== undefined && item.status === "pending") {
        const request = await this.#d.store.requests.get(item.requestId);
        const caRequestId = item.caRequestId;
        const result = await this.#retryCa(`polling request ${item.requestId}`, () =>
          this.#ca(item.caId).poll(caRequestId),
        );
        if (request !== null) await this.#recordResult(c, item, request, this.#template(item.templateId), result);
        if (result.status === "pending") {
          await this.#audit(
            c,
            "request.abandoned",
            { templateId: item.templateId, caId: item.caId, requestId: item.requestId, caRequestId },
            undefined,
            by,
          );
        }
        cert = await this.#d.store.certificates.get(item.requestId);
      }
      if (cert === null) continue;
      const der = cert.certificate;
      if (cert.status !== "revoked" && cert.serialHex !== undefined) {
        const serialHex = cert.serialHex;
        await this.#retryCa(`revoking certificate ${serialHex}`, () =>
          this.#ca(item.caId).revoke(serialHex, "cessationOfOperation"),
        );
      }
      if (this.#session !== undefined) {
        const device = this.#session.device;
        const onCard = await device.device.readCertificate(item.slot);
        if (onCard !== null && b64(onCard) === der) {
          await device.ensureAdmin(await this.#heldCard(c));
          const previous =
            item.previousCertificateId === undefined ? null : await this.#certificate(item.previousCertificateId);
          if (previous?.certificate !== undefined)
            await device.device.writeCertificate(item.slot, unb64(previous.certificate));
          else await device.device.deleteCertificate(item.slot);
        }
      } else if (cert.status === "written") {
        throw new CardwrightError(
          "DEVICE_NOT_FOUND",
          `cancelling update ${c.operationId} must take certificate ${cert.serialHex} off the card: pass the card as \`device\``,
          {
            details: { operationId: c.operationId, cardId: c.cardId, slot: item.slot },
          },
        );
      }
      if (cert.status !== "revoked") {
        await this.#d.store.transaction(async (tx) => {
          const current = await this.#certificate(item.requestId, tx);
          await tx.certificates.update({ ...current, status: "revoked" });
          await this.#audit(
            c,
            "certificate.revoked",
            {
              templateId: item.templateId,
              slot: item.slot,
              serialHex: current.serialHex,
              reason: "cessationOfOperation",
              cause: "update cancelled",
            },
            tx,
            by,
          );
        });
      }
    }
    // `cancel` leads to `cancelled`, a final state the runner records `failed`.
    await this.#releasingCard("failed", async (tx) => {
      const card = await requireCard(tx, c.cardId);
      if (card.pendingOperationId !== c.operationId) return;
      assertTransition(this.#d.transitions, card.state, c.fromState, "cancel-update", card.id);
      const { pendingOperationId: _released, ...rest } = card;
      await tx.cards.update({ ...rest, state: c.fromState });
      await this.#audit(
        c,
        "update.cancelled",
        {
          from: card.state,
          to: c.fromState,
          cause: c.error?.code ?? "cancelled",
          revoked: c.items.filter((i) => i.serialHex !== undefined).map((i) => i.serialHex),
        },
        tx,
        by,
      );
    });
    if (c.userId !== undefined && c.error?.code === "CA_REJECTED") {
      await notifySafely(this.#d, {
        kind: "update-rejected",
        cardId: c.cardId,
        userId: c.userId,
        operationId: c.operationId,
        reason: c.error.message,
      });
    }
  }
}

/**
 * Record a certificate found on the card as third-party (`thirdParty: true`, status `written`,
 * validity parsed from it so expiry monitoring tracks it), audited `certificate.registered`.
 * Idempotent on `id`.
 */
export async function registerForeign(
  store: Store,
  auditLog: AuditLog,
  card: { cardId: string; userId?: string; operationId?: string },
  f: {
    slot: string;
    serialHex: string;
    subject: string;
    issuer: string;
    notBefore: string;
    notAfter: string;
    certificate: string;
  },
  id: string,
  actor: string,
  actorKind: string,
  comment?: string,
): Promise<CertificateRecord> {
  return store.transaction(async (tx) => {
    const existing = await tx.certificates.get(id);
    if (existing !== null) return existing;
    const record = await tx.certificates.create({
      id,
      cardId: card.cardId,
      ...(card.userId === undefined ? {} : { userId: card.userId }),
      slot: f.slot,
      status: "written",
      serialHex: f.serialHex,
      subject: f.subject,
      issuer: f.issuer,
      notBefore: f.notBefore,
      notAfter: f.notAfter,
      certificate: f.certificate,
      thirdParty: true,
    });
    await auditLog.append(
      {
        actor,
        action: "certificate.registered",
        cardId: card.cardId,
        ...(card.userId === undefined ? {} : { userId: card.userId }),
        ...(card.operationId === undefined ? {} : { operationId: card.operationId }),
        details: {
          actorKind,
          slot: f.slot,
          serialHex: f.serialHex,
          subject: f.subject,
          issuer: f.issuer,
          notAfter: f.notAfter,
          thirdParty: true,
          ...(comment === undefined ? {} : { comment }),
        },
      },
      tx,
    );
    return record;
  });
}

/** The update machine's actors, implemented by `steps`. */
export function updateActors(steps: UpdateSteps) {
  return {
    connectCard: fromPromise<void, UpdateContext>(({ input }) => steps.connectCard(input)),
    authenticateAdmin: fromPromise<void, UpdateContext>(({ input }) => steps.authenticateAdmin(input)),
    generateKey: fromPromise<ItemOutput, UpdateContext>(({ input }) => steps.generateKey(input)),
    buildCsr: fromPromise<ItemOutput, UpdateContext>(({ input }) => steps.buildCsr(input)),
    submitRequest: fromPromise<ItemOutput, UpdateContext>(({ input }) => steps.submitRequest(input)),
    markPending: fromPromise<void, UpdateContext>(({ input }) => steps.markPending(input)),
    pollRequests: fromPromise<{ items: UpdateItem[] }, UpdateContext>(({ input }) => steps.pollRequests(input)),
    writeCertificates: fromPromise<{ items: UpdateItem[] }, UpdateContext>(({ input }) =>
      steps.writeCertificates(input),
    ),
    commit: fromPromise<void, UpdateContext>(({ input }) => steps.commit(input)),
    cancel: fromPromise<void, UpdateContext>(({ input }) => steps.cancel(input)),
  } satisfies Parameters<typeof updateMachine.provide>[0]["actors"];
}
