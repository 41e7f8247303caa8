/**
 * The implementations of the issue machine's steps: each calls the ports (device, CA, store,
 * vault, directory) and is idempotent, because a run restored from a snapshot re-runs the step
 * that was in flight. Secrets stay in the {@link DeviceSession} or wrapped on the card record.
 */

import { fromPromise } from "xstate";
import type { DocumentCheck } from "../documents/document-check.js";
import { checkIssueDocuments } from "../documents/documents-approval.js";
import type { AuditEventInput } from "../domain/audit.js";
import type { CardRecord, CardState, CertificateRecord, RequestRecord } from "../domain/card.js";
import type { CertificateTemplate, Policy } from "../domain/policy.js";
import { CardwrightError, isCardwrightError, PolicyError } from "../errors.js";
import { type PivAttestation, verifyPivAttestation } from "../keys/attestation-verifier.js";
import {
  generateOffCardKeyPair,
  importKeyToDevice,
  type OffCardKeyPair,
  publicKeyOfPkcs8,
  unwrapArchivedKey,
  wrapArchivedKey,
  zeroKey,
} from "../keys/key-archival.js";
import { parseCertificate, spkiEquals } from "../pki/certificate.js";
import { buildCsr, csrPublicKey } from "../pki/csr.js";
import { type EnrollmentAgent, signOnBehalf } from "../pki/enrollment-agent.js";
import { renderSan, renderSubject } from "../policy/attribute-template.js";
import { ekuOid } from "../policy/extended-key-usage.js";
import { generatePin, generatePuk, validatePin } from "../policy/pin-policy.js";
import { type PolicyEngine, requireTemplate, selectTemplates } from "../policy/policy-engine.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { CaResult, CertificateAuthority, CertificateProfile } from "../ports/certificate-authority.js";
import type { AdminCredential } from "../ports/device.js";
import type { Directory, DirectoryUser } from "../ports/directory.js";
import type { Notifier } from "../ports/notifier.js";
import type { Clock, Logger, Random } from "../ports/runtime.js";
import type { SecretVault } from "../ports/secret-vault.js";
import type { NewRecord, Store } from "../ports/store.js";
import { systemClock } from "../runtime/clock.js";
import { notifySafely } from "../runtime/notify-safely.js";
import { trackedAttributeValues } from "../update/update-plan.js";
import { credentialBytes, type DeviceSession, MANAGEMENT_KEY_BYTES, secretContext } from "./device-session.js";
import type {
  CardStepInput,
  IssueInput,
  issueMachine,
  PollOutput,
  ResolvePolicyOutput,
  SubmitOutput,
  TemplatePlan,
  TemplateStepInput,
  TemplatesStepInput,
} from "./issue-machine.js";
import { issuedCertificateRecord } from "./issued-certificate-record.js";
import { type OperationRecordHandle, releasingCard } from "./operation-record-handle.js";
import { type CaRetryOptions, retryCa } from "./retry-ca.js";
import { RunRecords } from "./run-records.js";
import {
  assertCardHeldBy,
  assertDeviceIsCard,
  requireCard,
  requireCertificateAuthority,
} from "./step-preconditions.js";

/** What the steps need, all injected. */
export interface IssueDependencies {
  store: Store;
  vault: SecretVault;
  directory: Directory;
  certificateAuthorities: ReadonlyMap<string, CertificateAuthority>;
  policies: PolicyEngine;
  auditLog: AuditLog;
  notifier?: Notifier;
  random: Random;
  logger: Logger;
  /** How CA calls that fail with `CA_UNAVAILABLE` are retried (see {@link retryCa}). */
  caRetry?: CaRetryOptions;
  /** Signs requests on behalf (CMC) for policies with `issuance.enrollOnBehalf`; its key stays with the caller. */
  enrollmentAgent?: EnrollmentAgent;
  /** DER roots key attestations must chain to (templates with `requireAttestation`). */
  attestationRoots?: readonly Uint8Array[];
  /** Clock attestation validity is checked at; the system clock by default. */
  clock?: Clock;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

/** The step implementations for one run over one device session. */
export class IssueSteps {
  readonly #d: IssueDependencies;
  readonly session: DeviceSession;
  /** The card record as this run last read or wrote it (see {@link #card}). */
  #known: CardRecord | undefined;
  /** The request and certificate records this run read or wrote. */
  readonly #records = new RunRecords();

  readonly #operation: OperationRecordHandle | undefined;

  /**
   * @param run.operation the run's operation record, when the runner shares it: the steps that
   * release the card (complete, rollback) then save the operation's final status in the same
   * transaction (see {@link OperationRecordHandle}).
   * @param run.card the card record as the operation's start left it, when the caller has it.
   */
  constructor(
    deps: IssueDependencies,
    session: DeviceSession,
    run: { operation?: OperationRecordHandle; card?: CardRecord } = {},
  ) {
    this.#d = deps;
    this.session = session;
    this.#operation = run.operation;
    this.#known = run.card;
  }

  /** A transaction of the run's records that releases the card: with the operation's final `status` when the run shares its record. */
  #releasingCard<T>(status: "completed" | "failed", change: (tx: Store) => Promise<T>): Promise<T> {
    const transaction = (fn: (tx: Store) => Promise<T>) => this.#records.transaction(this.#d.store, fn);
    return releasingCard(this.#operation, status, transaction, change);
  }

  /** The card record as this run left it (what the run wrote last, or the store's). */
  cardAfterRun(cardId: string): Promise<CardRecord> {
    return this.#card(cardId);
  }

  /** The certificate record of request `requestId` as this run left it, or `null`. */
  certificateAfterRun(requestId: string): Promise<CertificateRecord | null> {
    return this.#records.certificate(this.#d.store, requestId);
  }

  // ---------------------------------------------------------------- helpers

  /**
   * The card record. Outside a transaction, the one this run last read or wrote: the run holds the
   * card's lease, so nobody else changes the record meanwhile, and a write from a stale copy would
   * still be refused by its version. Inside one (`store` given), read afresh for the write.
   */
  async #card(cardId: string, store?: Store): Promise<CardRecord> {
    if (store !== undefined) return requireCard(store, cardId);
    if (this.#known?.id !== cardId) this.#known = await requireCard(this.#d.store, cardId);
    return this.#known;
  }

  async #user(userId: string): Promise<DirectoryUser> {
    const user = await this.#d.directory.getUser(userId);
    if (user === null)
      throw new CardwrightError("USER_NOT_FOUND", `the directory has no user ${userId}`, { details: { userId } });
    return user;
  }

  #policy(input: CardStepInput): Policy {
    return this.#d.policies.get(input.policyId, input.policyVersion);
  }

  #template(policy: Policy, templateId: string): CertificateTemplate {
    return requireTemplate(policy, templateId);
  }

  #ca(caId: string): CertificateAuthority {
    return requireCertificateAuthority(this.#d.certificateAuthorities, caId);
  }

  /** A CA call, retried while the CA is unavailable (adapters are idempotent on our request id). */
  #retryCa<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return retryCa(operation, call, {
      random: this.#d.random,
      logger: this.#d.logger,
      ...(this.#d.caRetry === undefined ? {} : { options: this.#d.caRetry }),
    });
  }

  #audit(input: CardStepInput, action: string, details: Record<string, unknown>, tx?: Store) {
    const event: AuditEventInput = {
      actor: input.actor,
      action,
      cardId: input.cardId,
      userId: input.userId,
      operationId: input.operationId,
      details,
    };
    return this.#d.auditLog.append(event, tx);
  }

  /** Read-modify-write the card with optimistic concurrency, audited in the same transaction. */
  async #updateCard(
    input: CardStepInput,
    mutate: (card: CardRecord) => CardRecord,
    action: string,
    details: Record<string, unknown>,
  ): Promise<CardRecord> {
    return this.#changeCard(
      input.cardId,
      (fn) => this.#d.store.transaction(fn),
      async (tx, card) => {
        const next = await tx.cards.update(mutate(card));
        await this.#audit(input, action, details, tx);
        return next;
      },
    );
  }

  /**
   * Runs `change` on the card inside `transaction`, starting from the copy this run holds when it
   * has one (the run holds the card's lease, so that saves a read). Should the card have changed
   * anyway — an operation that takes no lease — its version refuses the write, and `change` runs
   * once more on the card read afresh. Returns the card as `change` left it.
   */
  async #changeCard(
    cardId: string,
    transaction: (fn: (tx: Store) => Promise<CardRecord>) => Promise<CardRecord>,
    change: (tx: Store, card: CardRecord) => Promise<CardRecord>,
  ): Promise<CardRecord> {
    const held = this.#known?.id === cardId ? this.#known : undefined;
    this.#known = undefined;
    const attempt = (from: CardRecord | undefined) =>
      transaction(async (tx) => change(tx, from ?? (await this.#card(cardId, tx))));
    try {
      this.#known = await attempt(held);
    } catch (err) {
      const stale = isCardwrightError(err, "STORE_CONFLICT") && err.details?.recordKind === "card";
      if (held === undefined || !stale) throw err;
      this.#known = await attempt(undefined);
    }
    return this.#known;
  }

  /** Create a request record in `tx`, remembered for the rest of the run once `tx` commits. */
  async #createRequest(tx: Store, record: NewRecord<RequestRecord>): Promise<void> {
    this.#records.wroteRequest(await tx.requests.create(record));
  }

  /** Update a request record in `tx`, remembered for the rest of the run once `tx` commits. */
  async #writeRequest(tx: Store, record: RequestRecord): Promise<void> {
    this.#records.wroteRequest(await tx.requests.update(record));
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

  /** Record a CA answer: request status, and for an issued certificate the inventory record. */
  async #recordResult(
    input: CardStepInput,
    request: RequestRecord,
    t: CertificateTemplate,
    result: CaResult,
  ): Promise<SubmitOutput> {
    // The attribute values the certificate was issued with, so an update can see them change.
    const tracked =
      result.status === "issued" && (t.trackedAttributes?.length ?? 0) > 0
        ? trackedAttributeValues(t, await this.#user(input.userId))
        : undefined;
    const records = this.#records;
    return records.transaction(this.#d.store, async (tx) => {
      const current = (await records.request(tx, request.id)) ?? request;
      if (result.status === "issued") {
        const cert = issuedCertificateRecord({
          request: current,
          cardId: input.cardId,
          userId: input.userId,
          template: t,
          certificate: result.certificate,
          ...(tracked === undefined ? {} : { trackedAttributes: tracked }),
        });
        await this.#writeRequest(tx, {
          ...current,
          status: "issued",
          caRequestId: result.caRequestId,
          certificate: cert.certificate,
        });
        if ((await records.certificate(tx, request.id)) === null) {
          records.wroteCertificate(await tx.certificates.create(cert));
        }
        await this.#audit(
          input,
          "certificate.issued",
          { templateId: t.id, caId: t.caId, serialHex: cert.serialHex, requestId: request.id },
          tx,
        );
        return { status: "issued", caRequestId: result.caRequestId, serialHex: cert.serialHex };
      }
      if (result.status === "pending") {
        await this.#writeRequest(tx, { ...current, status: "pending", caRequestId: result.caRequestId });
        await this.#audit(
          input,
          "request.pending",
          { templateId: t.id, caId: t.caId, requestId: request.id, caRequestId: result.caRequestId },
          tx,
        );
        return { status: "pending", caRequestId: result.caRequestId };
      }
      await this.#writeRequest(tx, {
        ...current,
        status: "rejected",
        rejectionReason: result.reason,
        ...(result.caRequestId === undefined ? {} : { caRequestId: result.caRequestId }),
      });
      await this.#audit(
        input,
        "request.rejected",
        { templateId: t.id, caId: t.caId, requestId: request.id, reason: result.reason },
        tx,
      );
      return {
        status: "rejected",
        reason: result.reason,
        ...(result.caRequestId === undefined ? {} : { caRequestId: result.caRequestId }),
      };
    });
  }

  // ---------------------------------------------------------------- steps

  /** Choose the policy and plan the certificates; renders every subject now so a missing attribute refuses before the card is touched. */
  async resolvePolicy(input: IssueInput): Promise<ResolvePolicyOutput> {
    const user = await this.#user(input.userId);
    const policy =
      input.selection?.policyId === undefined
        ? this.#d.policies.resolve(user, this.session.device.identity)
        : this.#d.policies.get(input.selection.policyId);
    const templates =
      input.selection === undefined
        ? selectTemplates(policy, input.optionalTemplates)
        : input.selection.templates.map((id) => this.#template(policy, id));
    const maxDays = input.selection?.maxValidityDays;
    for (const t of templates) {
      this.#ca(t.caId);
      renderSubject(t.subject, user, { policyId: policy.id, templateId: t.id });
      renderSan(t.san, user, { policyId: policy.id, templateId: t.id });
    }
    if (!policy.pin.random && policy.pin.setOnIssue !== false) {
      if (this.session.chosenPin === undefined) {
        throw new PolicyError(
          policy.id,
          "pin",
          `policy ${policy.id} does not generate PINs: pass the user's chosen pin`,
        );
      }
      validatePin(this.session.chosenPin, policy.pin, policy.id);
    }
    const plan: TemplatePlan[] = templates.map((t) => ({
      templateId: t.id,
      caId: t.caId,
      slot: t.slot,
      keyAlgorithm: t.keyAlgorithm,
      requestId: this.#d.random.uuid(),
      status: "planned",
      ...(maxDays !== undefined && maxDays < t.validityDays ? { validityDays: maxDays } : {}),
    }));
    // Fresh random ids: no record has them yet, so the steps need not ask the store.
    this.#records.unborn(plan.map((p) => p.requestId));
    return {
      policyId: policy.id,
      policyVersion: policy.version,
      initialiseOnIssue: policy.initialiseOnIssue,
      ...(policy.documents === undefined ? {} : { documentsRequired: true }),
      templates: plan,
    };
  }

  /** Check the device is the card of the record, the operation owns the card, and the device can do what the policy asks. */
  async connectCard(input: CardStepInput & { templates: TemplatePlan[] }): Promise<void> {
    const card = await this.#card(input.cardId);
    assertDeviceIsCard(card, this.session.device.identity.serial);
    assertCardHeldBy(card, input.operationId);
    const policy = this.#policy(input);
    const templates = input.templates.map((p) => this.#template(policy, p.templateId));
    this.#d.policies.checkDevice(policy, this.session.device.capabilities, templates);
  }

  /** Authenticate as administrator with the stored credential, or the factory one for a fresh card. */
  async authenticateAdmin(input: CardStepInput): Promise<{ source: "stored" | "factory" }> {
    const card = await this.#card(input.cardId);
    return { source: await this.session.ensureAdmin(card) };
  }

  /** Reset the device to factory state, then authenticate with the factory credential. */
  async initialise(input: CardStepInput): Promise<void> {
    const card = await this.#card(input.cardId);
    await this.session.ensureAdmin(card);
    await this.session.device.reset();
    this.session.forget();
    // The card is back to factory credentials: drop the stale wrapped ones (after the reset, so a
    // crash in between leaves credentials that are merely tried and refused, never lost ones).
    await this.#updateCard(
      input,
      ({ adminCredential: _a, adminCredentialAlgorithm: _b, puk: _c, ...rest }) => rest,
      "card.initialised",
      { deviceSerial: card.deviceSerial },
    );
    await this.#recordThirdPartyWiped(input);
    await this.session.ensureAdmin(await this.#card(input.cardId), { preferFactory: true });
  }

  /**
   * The reset erased any third-party certificate registered on the card before its issue (found by
   * `inspectCard`, registered by `registerCertificate`): record it `removed`, so expiry monitoring
   * stops tracking a certificate that is gone.
   */
  async #recordThirdPartyWiped(input: CardStepInput): Promise<void> {
    const gone = (await this.#d.store.certificates.list({ cardId: input.cardId })).filter(
      (c) => c.thirdParty === true && (c.status === "written" || c.status === "valid"),
    );
    if (gone.length === 0) return;
    await this.#d.store.transaction(async (tx) => {
      for (const cert of gone) {
        const current = (await tx.certificates.get(cert.id)) ?? cert;
        await tx.certificates.update({ ...current, status: "removed" });
        await this.#audit(
          input,
          "certificate.removed",
          { slot: cert.slot, serialHex: cert.serialHex, thirdParty: true, cause: "card initialised on issue" },
          tx,
        );
      }
    });
  }

  /**
   * Replace a factory admin credential with a random per-card one of the algorithm the device's
   * factory key uses (read from the device, e.g. AES-192 on YubiKey 5.7+). The wrapped key is
   * saved on the card record before it is set on the card (see {@link DeviceSession.ensureAdmin}).
   * A card already on a stored per-card credential keeps it.
   */
  async replaceAdminCredential(input: CardStepInput): Promise<{ replaced: boolean }> {
    const device = this.session.device;
    if (!device.capabilities.adminCredentialChange) return { replaced: false };
    const card = await this.#card(input.cardId);
    const source = await this.session.ensureAdmin(card);
    if (source !== "factory") return { replaced: false };
    const factory = (await this.session.factory()).admin;
    const next: AdminCredential =
      factory.kind === "management-key"
        ? {
            kind: "management-key",
            algorithm: factory.algorithm,
            key: this.#d.random.bytes(MANAGEMENT_KEY_BYTES[factory.algorithm]),
          }
        : { kind: "so-pin", pin: generatePuk(this.#d.random, 16) };
    const algorithm = next.kind === "management-key" ? next.algorithm : "so-pin";
    const wrapped = await this.#d.vault.wrap(credentialBytes(next), secretContext(card.id, "admin-credential"));
    await this.#updateCard(
      input,
      (c) => ({ ...c, adminCredential: wrapped, adminCredentialAlgorithm: algorithm }),
      "card.admin-credential.replaced",
      { algorithm, kekId: wrapped.kekId },
    );
    await device.setAdminCredential(next);
    this.session.adopt(next);
    return { replaced: true };
  }

  /** Write a fresh CHUID (new GUID) and CCC where the device keeps them (SP 800-73-4 Part 1 §3.1.2, §3.3.2). */
  async writeCardIdentifiers(input: CardStepInput): Promise<{ guid?: string }> {
    if (!this.session.device.capabilities.cardIdentifiers) return {};
    const card = await this.#card(input.cardId);
    await this.session.ensureAdmin(card);
    const ids = await this.session.device.writeCardIdentifiers();
    await this.#updateCard(input, (c) => ({ ...c, chuidGuid: ids.guid }), "card.identifiers.written", {
      chuidGuid: ids.guid,
    });
    return { guid: ids.guid };
  }

  /**
   * Generate the template's key pair on the card, unless a CSR for it already exists (resumed run).
   * A template that archives its key gets one generated off-card, archived and imported
   * ({@link #generateArchivedKey}); one that requires attestation has the device prove the key
   * is its own before the CSR is built ({@link #attestKey}).
   */
  async generateKey(input: TemplateStepInput): Promise<{ spki: string }> {
    const t = input.template;
    const request = await this.#records.request(this.#d.store, t.requestId);
    if (request?.csr !== undefined) return { spki: b64(csrPublicKey(unb64(request.csr))) };
    const card = await this.#card(input.cardId);
    await this.session.ensureAdmin(card);
    // A PKCS#11 token (SO PIN as admin credential) creates private key objects only in a user
    // session (PKCS#11 v2.40 §4.4, CKA_PRIVATE): verify the PIN before generating.
    if ((await this.session.factory()).admin.kind === "so-pin") await this.session.ensurePin(card);
    const template = this.#template(this.#policy(input), t.templateId);
    if (template.archiveKey === true) return { spki: b64(await this.#generateArchivedKey(input, request)) };
    const publicKey = await this.session.device.generateKeyPair(t.slot, t.keyAlgorithm);
    if (publicKey.algorithm !== t.keyAlgorithm) {
      throw new CardwrightError(
        "DEVICE_CAPABILITY",
        `the device generated a ${publicKey.algorithm} key, not ${t.keyAlgorithm}`,
        {
          details: { slot: t.slot, templateId: t.templateId },
        },
      );
    }
    await this.#audit(input, "key.generated", { templateId: t.templateId, slot: t.slot, keyAlgorithm: t.keyAlgorithm });
    if (template.requireAttestation === true) await this.#attestKey(input, publicKey.spki);
    return { spki: b64(publicKey.spki) };
  }

  /**
   * Key archival: generate the key off-card, save it wrapped on the request record (before the card
   * holds it, so a key on a card is always recoverable), import it, and zero the clear copy. A
   * resumed run re-imports the key already archived rather than making another.
   * @returns the imported key's SubjectPublicKeyInfo.
   */
  async #generateArchivedKey(input: TemplateStepInput, request: RequestRecord | null): Promise<Uint8Array> {
    const t = input.template;
    const at = { cardId: input.cardId, requestId: t.requestId };
    const details = { templateId: t.templateId, slot: t.slot, keyAlgorithm: t.keyAlgorithm };
    let key: OffCardKeyPair;
    if (request?.archivedKey !== undefined) {
      const pkcs8 = await unwrapArchivedKey(this.#d.vault, request.archivedKey, at);
      try {
        key = { algorithm: t.keyAlgorithm, pkcs8, spki: publicKeyOfPkcs8(t.keyAlgorithm, pkcs8) };
      } catch (err) {
        zeroKey(pkcs8);
        throw err;
      }
    } else {
      key = await generateOffCardKeyPair(t.keyAlgorithm);
      try {
        const wrapped = await wrapArchivedKey(this.#d.vault, key.pkcs8, at);
        await this.#saveKeyEvidence(input, { archivedKey: wrapped }, "key.archived", {
          ...details,
          kekId: wrapped.kekId,
        });
      } catch (err) {
        zeroKey(key.pkcs8);
        throw err;
      }
    }
    const publicKey = await importKeyToDevice(this.session.device, t.slot, key);
    await this.#audit(input, "key.imported", details);
    return publicKey.spki;
  }

  /**
   * Attestation policy: the device attests the key in the slot and the chain must verify against
   * the configured roots and certify `spki`; the verified chain is kept on the request record. A
   * failure is audited and fails the step, so the request never reaches the CA.
   * @throws CardwrightError `ATTESTATION_FAILED` (details.check), or the device's error when it cannot attest.
   */
  async #attestKey(input: TemplateStepInput, spki: Uint8Array): Promise<void> {
    const t = input.template;
    const device = this.session.device;
    const chain = await device.attest(t.slot);
    let facts: PivAttestation;
    try {
      facts = await verifyPivAttestation(chain, {
        roots: this.#d.attestationRoots ?? [],
        publicKey: spki,
        slot: t.slot,
        now: (this.#d.clock ?? systemClock).now(),
        serial: device.identity.serial,
      });
    } catch (err) {
      await this.#audit(input, "key.attestation.failed", {
        templateId: t.templateId,
        slot: t.slot,
        check: err instanceof CardwrightError ? err.details.check : undefined,
      });
      throw err;
    }
    await this.#saveKeyEvidence(input, { attestation: facts.chain.map(b64) }, "key.attested", {
      templateId: t.templateId,
      slot: t.slot,
      deviceSerial: facts.serial,
      firmware: facts.firmware,
    });
  }

  /** Write key facts (wrapped key, attestation chain) to the template's request record, creating it, audited in one transaction. */
  async #saveKeyEvidence(
    input: TemplateStepInput,
    fields: Pick<RequestRecord, "archivedKey" | "attestation">,
    action: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    const t = input.template;
    const records = this.#records;
    await records.transaction(this.#d.store, async (tx) => {
      const current = await records.request(tx, t.requestId);
      if (current === null) {
        await this.#createRequest(tx, {
          id: t.requestId,
          cardId: input.cardId,
          operationId: input.operationId,
          templateId: t.templateId,
          caId: t.caId,
          status: "created",
          ...fields,
        });
      } else {
        await this.#writeRequest(tx, { ...current, ...fields });
      }
      await this.#audit(input, action, details, tx);
    });
  }

  /** Build the PKCS#10 request signed on the card, and save it as our request record. */
  async buildCsr(input: TemplateStepInput): Promise<void> {
    const plan = input.template;
    if ((await this.#records.request(this.#d.store, plan.requestId))?.csr !== undefined) return;
    if (plan.spki === undefined)
      throw new CardwrightError("WORKFLOW_STATE", `template ${plan.templateId} has no generated key`);
    const policy = this.#policy(input);
    const t = this.#template(policy, plan.templateId);
    const user = await this.#user(input.userId);
    const site = { policyId: policy.id, templateId: t.id };
    await this.session.ensurePin(await this.#card(input.cardId));
    const csr = await buildCsr(
      {
        subject: renderSubject(t.subject, user, site),
        publicKey: { algorithm: t.keyAlgorithm, spki: unb64(plan.spki) },
        slot: t.slot,
        san: renderSan(t.san, user, site),
        keyUsage: t.keyUsage,
        extendedKeyUsage: t.extendedKeyUsage,
      },
      this.session.device,
    );
    const records = this.#records;
    await records.transaction(this.#d.store, async (tx) => {
      const request = {
        id: plan.requestId,
        cardId: input.cardId,
        operationId: input.operationId,
        templateId: t.id,
        caId: t.caId,
        status: "created" as const,
        csr: b64(csr),
      };
      // generateKey may have created the record already, with the key's attestation or archived copy.
      const existing = await records.request(tx, plan.requestId);
      if (existing === null) await this.#createRequest(tx, request);
      else await this.#writeRequest(tx, { ...existing, ...request });
      await this.#audit(input, "request.created", { templateId: t.id, caId: t.caId, requestId: plan.requestId }, tx);
    });
  }

  /** Submit the saved request to the CA under our request id (the CA dedupes a resubmission). */
  async submitRequest(input: TemplateStepInput): Promise<SubmitOutput> {
    const plan = input.template;
    const request = await this.#records.request(this.#d.store, plan.requestId);
    if (request?.csr === undefined) {
      throw new CardwrightError("WORKFLOW_STATE", `request ${plan.requestId} has no CSR to submit`, {
        details: { requestId: plan.requestId },
      });
    }
    const t = this.#template(this.#policy(input), plan.templateId);
    const ca = this.#ca(t.caId);
    const submission = {
      requestId: request.id,
      csr: unb64(request.csr),
      // A temporary card's certificates are asked for with its shorter validity.
      profile: this.#profile(plan.validityDays === undefined ? t : { ...t, validityDays: plan.validityDays }),
    };
    const onBehalf = await this.#onBehalf(input, request.id, submission.csr);
    const result = await this.#retryCa(`submitting request ${request.id}`, () =>
      ca.submit(onBehalf === undefined ? submission : { ...submission, cmc: onBehalf }),
    );
    return this.#recordResult(input, request, t, result);
  }

  /**
   * For a policy that enrolls on behalf: the CMC Full PKI Request (RFC 5272 §3.2) wrapping `csr`,
   * signed by the enrollment agent, audited with the agent's identity. Signed again on a re-run
   * (the CA dedupes on our request id).
   * @throws CardwrightError `CONFIG_INVALID` when no enrollment agent is configured.
   */
  async #onBehalf(input: TemplateStepInput, requestId: string, csr: Uint8Array): Promise<Uint8Array | undefined> {
    const policy = this.#policy(input);
    if (policy.issuance?.enrollOnBehalf !== true) return undefined;
    const agent = this.#d.enrollmentAgent;
    if (agent === undefined) {
      throw new CardwrightError(
        "CONFIG_INVALID",
        `policy ${policy.id} enrolls on behalf, but no enrollment agent is configured (CardwrightOptions.enrollmentAgent)`,
        { details: { policyId: policy.id, requestId } },
      );
    }
    const cmc = await signOnBehalf(agent, csr);
    const certificate = parseCertificate(agent.certificate);
    await this.#audit(input, "request.signed-on-behalf", {
      requestId,
      templateId: input.template.templateId,
      agentSubject: certificate.subject,
      agentSerialHex: certificate.serialHex,
    });
    return cmc;
  }

  /** The card waits for approval: state `pending`, audited; approvers are told. */
  async markPending(input: TemplatesStepInput): Promise<void> {
    await this.#updateCard(input, (c) => (c.state === "pending" ? c : { ...c, state: "pending" }), "card.state", {
      from: "issuing",
      to: "pending",
    });
    for (const t of input.templates.filter((x) => x.status === "pending")) {
      await notifySafely(this.#d, {
        kind: "approval-requested",
        cardId: input.cardId,
        userId: input.userId,
        operationId: input.operationId,
        templateId: t.templateId,
        caRequestId: t.caRequestId ?? "",
      });
    }
  }

  /** Ask the CA again about every pending request; once none is pending the card is `issuing` again. */
  async pollRequests(input: TemplatesStepInput): Promise<PollOutput> {
    const policy = this.#policy(input);
    const results: PollOutput["results"] = [];
    for (const plan of input.templates.filter((x) => x.status === "pending")) {
      const request = await this.#records.request(this.#d.store, plan.requestId);
      if (request === null || plan.caRequestId === undefined) {
        throw new CardwrightError("WORKFLOW_STATE", `pending request ${plan.requestId} is not on record`, {
          details: { requestId: plan.requestId },
        });
      }
      const ca = this.#ca(plan.caId);
      const caRequestId = plan.caRequestId;
      const result = await this.#retryCa(`polling request ${plan.requestId}`, () => ca.poll(caRequestId));
      results.push({
        requestId: plan.requestId,
        ...(await this.#recordResult(input, request, this.#template(policy, plan.templateId), result)),
      });
    }
    if (results.every((r) => r.status !== "pending")) {
      await this.#updateCard(input, (c) => (c.state === "pending" ? { ...c, state: "issuing" } : c), "card.state", {
        from: "pending",
        to: "issuing",
      });
    }
    return { results };
  }

  /** The policy's document check before anything is written (see `documents/documents-approval.ts`). */
  checkDocuments(input: TemplatesStepInput): Promise<DocumentCheck> {
    // The check may move the card's state: read the record afresh afterwards.
    this.#known = undefined;
    return checkIssueDocuments(this.#d, input);
  }

  /** Write each issued certificate to its slot, after checking it certifies the key the card generated. */
  async writeCertificates(input: TemplatesStepInput): Promise<void> {
    const card = await this.#card(input.cardId);
    await this.session.ensureAdmin(card);
    for (const plan of input.templates.filter((x) => x.status === "issued" || x.status === "written")) {
      const record = await this.#records.certificate(this.#d.store, plan.requestId);
      if (record?.certificate === undefined) {
        throw new CardwrightError("WORKFLOW_STATE", `certificate for request ${plan.requestId} is not on record`, {
          details: { requestId: plan.requestId },
        });
      }
      const der = unb64(record.certificate);
      if (plan.spki === undefined || !spkiEquals(parseCertificate(der).spki, unb64(plan.spki))) {
        throw new CardwrightError(
          "CA_BAD_RESPONSE",
          `the certificate issued for template ${plan.templateId} does not certify the key the card generated in slot ${plan.slot}`,
          {
            details: {
              templateId: plan.templateId,
              slot: plan.slot,
              serialHex: record.serialHex,
              requestId: plan.requestId,
            },
          },
        );
      }
      await this.session.device.writeCertificate(plan.slot, der);
      if (record.status !== "written") {
        const records = this.#records;
        await records.transaction(this.#d.store, async (tx) => {
          const current = await records.certificate(tx, record.id);
          if (current !== null)
            records.wroteCertificate(await tx.certificates.update({ ...current, status: "written" }));
          await this.#audit(
            input,
            "certificate.written",
            { templateId: plan.templateId, slot: plan.slot, serialHex: record.serialHex },
            tx,
          );
        });
      }
    }
  }

  /**
   * Set the user's PIN (random per policy, or the one the caller chose) and, when the policy says,
   * a random PUK wrapped on the card record. The PIN is set with the PUK (RESET RETRY COUNTER),
   * which does not depend on the current PIN — so a re-run after a crash cannot lock the card.
   */
  async setPins(input: CardStepInput): Promise<void> {
    const policy = this.#policy(input);
    // The device keeps its own PIN (e.g. a software store's password): nothing to set.
    if (policy.pin.setOnIssue === false) return;
    const device = this.session.device;
    const factory = await this.session.factory();
    const card = await this.#card(input.cardId);
    const pin = policy.pin.random ? generatePin(policy.pin, this.#d.random, policy.id) : this.session.chosenPin;
    if (pin === undefined) throw new PolicyError(policy.id, "pin", "no PIN to set");
    if (!device.capabilities.pinUnblock) {
      await device.changePin(factory.pin, pin);
    } else {
      if (policy.pin.randomPuk === true) {
        const next = generatePuk(this.#d.random);
        const wrapped = await this.#d.vault.wrap(new TextEncoder().encode(next), secretContext(card.id, "puk"));
        await this.#updateCard(input, (c) => ({ ...c, puk: wrapped }), "card.puk.set", { kekId: wrapped.kekId });
        // `card` is the record as read before the update: its PUK is the one the card may hold now.
        await this.session.withPuk(card, (current) => device.changePuk(current, next));
        await device.unblockPin(next, pin);
      } else {
        await this.session.withPuk(card, (current) => device.unblockPin(current, pin));
      }
    }
    if (policy.pin.random) this.session.generatedPin = pin;
    await this.#audit(input, "card.pin.set", { random: policy.pin.random, randomPuk: policy.pin.randomPuk === true });
  }

  /** Record the card `active` — only when every certificate of the plan is on the card and recorded `written`. */
  async complete(input: TemplatesStepInput): Promise<void> {
    let previous: CardState | undefined;
    const records = this.#records;
    await this.#changeCard(
      input.cardId,
      (fn) => this.#releasingCard("completed", fn),
      async (tx, card) => {
        for (const plan of input.templates) {
          const cert = await records.certificate(tx, plan.requestId);
          if (cert?.status !== "written") {
            throw new CardwrightError(
              "WORKFLOW_STATE",
              `certificate for template ${plan.templateId} is not written; the card cannot become active`,
              {
                details: { templateId: plan.templateId, requestId: plan.requestId },
              },
            );
          }
        }
        previous = card.state;
        const { pendingOperationId: _done, ...rest } = card;
        const active = await tx.cards.update({
          ...rest,
          state: "active",
          userId: input.userId,
          policyId: input.policyId,
          policyVersion: input.policyVersion,
        });
        await this.#audit(
          input,
          "card.state",
          { from: previous, to: "active", policyId: input.policyId, policyVersion: input.policyVersion },
          tx,
        );
        return active;
      },
    );
    await notifySafely(this.#d, {
      kind: "issued",
      cardId: input.cardId,
      userId: input.userId,
      operationId: input.operationId,
    });
    if (this.session.generatedPin !== undefined) {
      await notifySafely(this.#d, {
        kind: "pin",
        cardId: input.cardId,
        userId: input.userId,
        pin: this.session.generatedPin,
      });
    }
  }

  /**
   * The failure rule: revoke every certificate this operation obtained (cessationOfOperation),
   * record them `revoked`, and put the card back in the state it had before.
   */
  async rollback(input: TemplatesStepInput): Promise<{ revoked: string[] }> {
    const revoked: string[] = [];
    for (const plan of input.templates) {
      const cert = await this.#records.certificate(this.#d.store, plan.requestId);
      if (cert === null || cert.serialHex === undefined || cert.status === "revoked") continue;
      const ca = this.#ca(cert.caId ?? plan.caId);
      const serialHex = cert.serialHex;
      await this.#retryCa(`revoking certificate ${serialHex}`, () => ca.revoke(serialHex, "cessationOfOperation"));
      const records = this.#records;
      await records.transaction(this.#d.store, async (tx) => {
        const current = await records.certificate(tx, cert.id);
        if (current !== null) records.wroteCertificate(await tx.certificates.update({ ...current, status: "revoked" }));
        await this.#audit(
          input,
          "certificate.revoked",
          {
            templateId: plan.templateId,
            serialHex: cert.serialHex,
            reason: "cessationOfOperation",
            cause: input.error?.code,
          },
          tx,
        );
      });
      revoked.push(plan.requestId);
    }
    this.#known = undefined;
    await this.#releasingCard("failed", async (tx) => {
      const card = await tx.cards.get(input.cardId);
      if (card === null || card.pendingOperationId !== input.operationId) return;
      const { pendingOperationId: _released, ...rest } = card;
      await tx.cards.update({ ...rest, state: input.previousCardState });
      await this.#audit(
        input,
        "card.state",
        { from: card.state, to: input.previousCardState, cause: input.error?.code ?? "unknown" },
        tx,
      );
    });
    if (input.error?.code === "CA_REJECTED") {
      await notifySafely(this.#d, {
        kind: "rejected",
        cardId: input.cardId,
        userId: input.userId,
        operationId: input.operationId,
        reason: input.error.message,
      });
    }
    return { revoked };
  }
}

/**
 * The machine's step actors, implemented by `steps` — pass to `issueMachine.provide({ actors })`.
 * Given a function, each actor runs on the steps it returns for the input's operation id: one
 * provided machine then serves every run (providing one costs about a millisecond).
 */
export function issueActors(steps: IssueSteps | ((operationId: string) => IssueSteps)) {
  const of = typeof steps === "function" ? steps : () => steps;
  return {
    resolvePolicy: fromPromise<ResolvePolicyOutput, IssueInput>(({ input }) =>
      of(input.operationId).resolvePolicy(input),
    ),
    connectCard: fromPromise<void, CardStepInput & { templates: TemplatePlan[] }>(({ input }) =>
      of(input.operationId).connectCard(input),
    ),
    authenticateAdmin: fromPromise<{ source: "stored" | "factory" }, CardStepInput>(({ input }) =>
      of(input.operationId).authenticateAdmin(input),
    ),
    initialise: fromPromise<void, CardStepInput>(({ input }) => of(input.operationId).initialise(input)),
    replaceAdminCredential: fromPromise<{ replaced: boolean }, CardStepInput>(({ input }) =>
      of(input.operationId).replaceAdminCredential(input),
    ),
    writeCardIdentifiers: fromPromise<{ guid?: string }, CardStepInput>(({ input }) =>
      of(input.operationId).writeCardIdentifiers(input),
    ),
    generateKey: fromPromise<{ spki: string }, TemplateStepInput>(({ input }) =>
      of(input.operationId).generateKey(input),
    ),
    buildCsr: fromPromise<void, TemplateStepInput>(({ input }) => of(input.operationId).buildCsr(input)),
    submitRequest: fromPromise<SubmitOutput, TemplateStepInput>(({ input }) =>
      of(input.operationId).submitRequest(input),
    ),
    markPending: fromPromise<void, TemplatesStepInput>(({ input }) => of(input.operationId).markPending(input)),
    pollRequests: fromPromise<PollOutput, TemplatesStepInput>(({ input }) => of(input.operationId).pollRequests(input)),
    checkDocuments: fromPromise<DocumentCheck, TemplatesStepInput>(({ input }) =>
      of(input.operationId).checkDocuments(input),
    ),
    writeCertificates: fromPromise<void, TemplatesStepInput>(({ input }) =>
      of(input.operationId).writeCertificates(input),
    ),
    setPins: fromPromise<void, CardStepInput>(({ input }) => of(input.operationId).setPins(input)),
    complete: fromPromise<void, TemplatesStepInput>(({ input }) => of(input.operationId).complete(input)),
    rollback: fromPromise<{ revoked: string[] }, TemplatesStepInput>(({ input }) =>
      of(input.operationId).rollback(input),
    ),
  } satisfies Parameters<typeof issueMachine.provide>[0]["actors"];
}
