/**
 * A `CertificateAuthority` speaking ACME (RFC 8555) — for devices whose certificates name hosts
 * or addresses (software stores, TPM virtual smart cards on machines). Submit creates an order
 * for the CSR's names (§7.4), lets the embedding application answer the challenges (§8) through
 * an {@link AcmeChallengeResponder}, finalizes with our CSR and downloads the chain (§7.4.2).
 * The order URL is the `caRequestId`; a ledger maps our request id to it so a resumed workflow
 * re-polls the same order.
 */
import { createHash, type JsonWebKey, type KeyObject } from "node:crypto";
import {
  type CaResult,
  CardwrightError,
  type CertificateAuthority,
  type CertificateRequest,
  parseCertificate,
  type RenewalRequest,
  type RenewalSupport,
  type RevocationReason,
} from "@cardwright/core";
import { CrlReasonCode } from "../embedded/revocation-reason.js";
import { normalizeSerialHex } from "../embedded/serial-number.js";
import type { HttpsOptions } from "../http/https-request.js";
import { assertCsrSelfSigned, assertIssuedForCsr } from "../issued-certificate.js";
import { fromPemAll } from "../pem.js";
import { SingleFlight } from "../single-flight.js";
import { AcmeClient, type AcmeSigner } from "./acme-client.js";
import { type AcmeOrderEntry, type AcmeOrderLedger, MemoryAcmeOrderLedger } from "./acme-order-ledger.js";
import { type AcmeProblem, AcmeProblemError, describeProblem, isRejection, readProblem } from "./acme-problem.js";
import { type AcmeIdentifier, csrIdentifiers } from "./csr-identifiers.js";
import { AccountKey, base64url } from "./jws.js";

/** A challenge the application must make answerable (RFC 8555 §8). */
export interface AcmeChallenge {
  /** `http-01`, `dns-01`, `tls-alpn-01`… */
  type: string;
  /** The identifier being validated. */
  identifier: AcmeIdentifier;
  token: string;
  /** token ‖ "." ‖ account key thumbprint (§8.1): the http-01 response body. */
  keyAuthorization: string;
  /** base64url(SHA-256(keyAuthorization)) (§8.4): the dns-01 TXT record value. */
  dnsTxtValue: string;
  /** The challenge URL. */
  url: string;
}

/**
 * Makes challenges answerable: serves the http-01 file, publishes the dns-01 TXT record…
 * `present` may be called again for the same challenge after a restart, so it must be idempotent.
 * `cleanup` runs once the order leaves `pending`, on the adapter instance that presented the
 * challenge; after a process restart it may not run, so published answers should also expire.
 */
export interface AcmeChallengeResponder {
  /** Challenge types it can answer, preferred first. */
  readonly types: readonly string[];
  /** Make the challenge answerable; resolves when the server may validate. */
  present(challenge: AcmeChallenge): Promise<void>;
  /** Withdraw it once the authorization is decided. */
  cleanup?(challenge: AcmeChallenge): Promise<void>;
}

/** Options for {@link AcmeCertificateAuthority}. */
export interface AcmeCertificateAuthorityOptions {
  /** The id policies' certificate templates refer to. */
  id: string;
  /** The ACME directory URL (RFC 8555 §7.1.1). */
  directoryUrl: string;
  /** The account key: a private KeyObject, private JWK or PKCS#8 PEM (EC P-256/P-384 or RSA). */
  accountKey: KeyObject | JsonWebKey | string;
  /** Account contact URLs (`mailto:`…), sent when the account is created. */
  contact?: readonly string[];
  /** Agree to the server's terms of service (RFC 8555 §7.3); required by most public CAs. */
  termsOfServiceAgreed?: boolean;
  challengeResponder: AcmeChallengeResponder;
  /** Request id → order; in memory when omitted (idempotent within this process only). */
  ledger?: AcmeOrderLedger;
  /** Trust anchors, client certificate and timeout for the HTTPS connections. */
  http?: HttpsOptions;
  /**
   * How long submit/poll keep following an order in-process (validation, issuance) before
   * answering `pending` (default 20 000 ms).
   */
  waitMs?: number;
  /** Wait between order reads when the server sends no Retry-After, seconds (default 1). */
  defaultRetryAfterSeconds?: number;
  /** Waits; replaceable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

interface AcmeOrder {
  status: "pending" | "ready" | "processing" | "valid" | "invalid";
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: AcmeProblem;
}

interface AcmeAuthorization {
  status: string;
  identifier: AcmeIdentifier;
  challenges: { type: string; url: string; token?: string; status: string; error?: unknown }[];
}

const ORDER_STATUSES = new Set(["pending", "ready", "processing", "valid", "invalid"]);

function badResponse(context: string, what: string): CardwrightError {
  return new CardwrightError("CA_BAD_RESPONSE", `${context}: the ACME server answered ${what}`);
}

function readOrder(json: unknown, context: string): AcmeOrder {
  const order = json as Partial<AcmeOrder>;
  if (
    typeof order.status !== "string" ||
    !ORDER_STATUSES.has(order.status) ||
    !Array.isArray(order.authorizations) ||
    typeof order.finalize !== "string"
  ) {
    throw badResponse(context, "something that is not an order object (RFC 8555 §7.1.3)");
  }
  return order as AcmeOrder;
}

function readAuthorization(json: unknown, context: string): AcmeAuthorization {
  const authz = json as Partial<AcmeAuthorization>;
  if (typeof authz.status !== "string" || !Array.isArray(authz.challenges) || typeof authz.identifier !== "object") {
    throw badResponse(context, "something that is not an authorization object (RFC 8555 §7.1.4)");
  }
  return authz as AcmeAuthorization;
}

/** An ACME certificate authority. */
export class AcmeCertificateAuthority implements CertificateAuthority {
  readonly id: string;
  /** ACME issues a new order for any CSR, whatever its key. */
  readonly renewal: RenewalSupport = { sameKey: true, rekey: true };
  readonly #client: AcmeClient;
  readonly #key: AccountKey;
  readonly #options: AcmeCertificateAuthorityOptions;
  readonly #ledger: AcmeOrderLedger;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #origin: string;
  #kid: string | undefined;
  /** Challenges presented per order URL, withdrawn once the order leaves `pending`. */
  readonly #presented = new Map<string, Map<string, AcmeChallenge>>();
  #accountPromise: Promise<string> | undefined;
  readonly #flights = new SingleFlight<CaResult>();

  /** @throws CardwrightError `CONFIG_INVALID` for an unusable account key or directory URL. */
  constructor(options: AcmeCertificateAuthorityOptions) {
    this.id = options.id;
    this.#options = options;
    this.#key = AccountKey.from(options.accountKey);
    let url: URL;
    try {
      url = new URL(options.directoryUrl);
    } catch (err) {
      throw new CardwrightError("CONFIG_INVALID", `"${options.directoryUrl}" is not a URL`, { cause: err });
    }
    if (url.protocol !== "https:") {
      throw new CardwrightError("CONFIG_INVALID", "the ACME directory URL must be https (RFC 8555 §6.1)");
    }
    this.#origin = url.origin;
    this.#client = new AcmeClient(options.directoryUrl, options.http ?? {});
    this.#ledger = options.ledger ?? new MemoryAcmeOrderLedger();
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The account URL (RFC 8555 §7.3), creating the account on first use or finding it by key. */
  async account(): Promise<string> {
    if (this.#kid !== undefined) return this.#kid;
    this.#accountPromise ??= this.#newAccount().finally(() => {
      this.#accountPromise = undefined;
    });
    this.#kid = await this.#accountPromise;
    return this.#kid;
  }

  async #newAccount(): Promise<string> {
    const dir = await this.#client.directory();
    const payload: Record<string, unknown> = {};
    if (this.#options.termsOfServiceAgreed === true) payload.termsOfServiceAgreed = true;
    if (this.#options.contact !== undefined) payload.contact = [...this.#options.contact];
    const res = await this.#client.post(dir.newAccount, payload, { key: this.#key }, "creating the ACME account");
    if (res.location === undefined) throw badResponse("creating the ACME account", "no account URL (Location)");
    return res.location;
  }

  /**
   * Seed the replay-nonce pool: the next signed request uses `nonce`. A stale one makes the
   * server answer badNonce, which the adapter retries once with a fresh nonce (RFC 8555 §6.5).
   */
  injectNonce(nonce: string): void {
    this.#client.pushNonce(nonce);
  }

  async #signer(): Promise<AcmeSigner> {
    return { key: this.#key, kid: await this.account() };
  }

  /**
   * Order a certificate for the CSR's names and follow it for up to `waitMs`.
   * @throws CardwrightError `CA_UNSUPPORTED` for CMC requests (ACME has no issuing on behalf),
   * `CA_INVALID_REQUEST` for a CSR without names ACME validates, `CA_UNAVAILABLE`, `CA_BAD_RESPONSE`.
   */
  submit(request: CertificateRequest): Promise<CaResult> {
    return this.#flights.run(request.requestId, () => this.#submit(request));
  }

  async #submit(request: CertificateRequest): Promise<CaResult> {
    if (request.cmc !== undefined) {
      throw new CardwrightError(
        "CA_UNSUPPORTED",
        "ACME (RFC 8555) has no enrollment on behalf: send the device's own CSR without a CMC wrapper",
        { details: { requestId: request.requestId } },
      );
    }
    const known = await this.#ledger.orderByRequestId(request.requestId);
    if (known !== undefined) return this.#follow(known.orderUrl, known);
    const identifiers = csrIdentifiers(request.csr);
    await assertCsrSelfSigned(request.csr);
    const dir = await this.#client.directory();
    let orderUrl: string;
    try {
      const res = await this.#client.post(dir.newOrder, { identifiers }, await this.#signer(), "creating the order");
      if (res.location === undefined) throw badResponse("creating the order", "no order URL (Location)");
      orderUrl = res.location;
    } catch (err) {
      if (err instanceof AcmeProblemError && isRejection(err.problem)) {
        return { status: "rejected", reason: describeProblem(err.problem) };
      }
      throw err;
    }
    const entry: AcmeOrderEntry = {
      requestId: request.requestId,
      orderUrl,
      csrBase64: Buffer.from(request.csr).toString("base64"),
    };
    await this.#ledger.recordOrder(entry);
    return this.#follow(orderUrl, entry);
  }

  /**
   * Follow an order again (the `caRequestId` is its URL).
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` for an order this server does not know.
   */
  async poll(caRequestId: string): Promise<CaResult> {
    let url: URL;
    try {
      url = new URL(caRequestId);
    } catch {
      throw unknownOrder(caRequestId);
    }
    if (url.origin !== this.#origin) throw unknownOrder(caRequestId);
    return this.#follow(caRequestId, await this.#ledger.orderByUrl(caRequestId));
  }

  /**
   * A renewal is a new order for the new CSR (RFC 8555 has no renewal message); same key and
   * new key both work.
   */
  renew(request: RenewalRequest): Promise<CaResult> {
    return this.submit(request);
  }

  async #follow(orderUrl: string, entry: AcmeOrderEntry | undefined): Promise<CaResult> {
    const deadline = Date.now() + (this.#options.waitMs ?? 20_000);
    const signer = await this.#signer();
    const presented = this.#presented.get(orderUrl) ?? new Map<string, AcmeChallenge>();
    this.#presented.set(orderUrl, presented);
    let finalized = false;
    let decided = false;
    try {
      for (;;) {
        let fetched: Awaited<ReturnType<AcmeClient["postAsGet"]>>;
        try {
          fetched = await this.#client.postAsGet(orderUrl, signer, "reading the order");
        } catch (err) {
          if (err instanceof CardwrightError && err.details.httpStatus === 404) throw unknownOrder(orderUrl);
          throw err;
        }
        const order = readOrder(fetched.json, "reading the order");
        const retryAfter = fetched.response.retryAfterSeconds ?? this.#options.defaultRetryAfterSeconds ?? 1;
        // Out of `pending`, every authorization is decided: the challenge answers can go.
        decided = order.status !== "pending";
        switch (order.status) {
          case "valid":
            return await this.#download(orderUrl, order, entry);
          case "invalid":
            return { status: "rejected", caRequestId: orderUrl, reason: await this.#invalidReason(order, signer) };
          case "pending": {
            const rejected = await this.#answerChallenges(order, signer, presented);
            if (rejected !== undefined) {
              decided = true;
              return { status: "rejected", caRequestId: orderUrl, reason: rejected };
            }
            break;
          }
          case "ready": {
            if (entry === undefined) {
              throw new CardwrightError(
                "CA_UNKNOWN_REQUEST",
                `order ${orderUrl} is ready to finalize but this adapter's ledger has no CSR for it; submit the request again`,
                { details: { caRequestId: orderUrl } },
              );
            }
            if (finalized) break;
            try {
              // RFC 8555 §7.4: the CSR goes base64url-encoded DER, no PEM armour.
              await this.#client.post(
                order.finalize,
                { csr: base64url(Buffer.from(entry.csrBase64, "base64")) },
                signer,
                "finalizing the order",
              );
              finalized = true;
            } catch (err) {
              if (err instanceof AcmeProblemError && isRejection(err.problem)) {
                return { status: "rejected", caRequestId: orderUrl, reason: describeProblem(err.problem) };
              }
              throw err;
            }
            continue;
          }
          case "processing":
            break;
        }
        if (Date.now() + retryAfter * 1000 > deadline) {
          return { status: "pending", caRequestId: orderUrl, retryAfterSeconds: retryAfter };
        }
        await this.#sleep(retryAfter * 1000);
      }
    } finally {
      // Still pending: the server may not have validated yet, so the answers stay published.
      if (decided) {
        this.#presented.delete(orderUrl);
        await this.#cleanup(presented);
      }
    }
  }

  /** Present and trigger one challenge per pending authorization; a reason when one failed. */
  async #answerChallenges(
    order: AcmeOrder,
    signer: AcmeSigner,
    presented: Map<string, AcmeChallenge>,
  ): Promise<string | undefined> {
    const responder = this.#options.challengeResponder;
    for (const authzUrl of order.authorizations) {
      const authz = readAuthorization(
        (await this.#client.postAsGet(authzUrl, signer, "reading an authorization")).json,
        "reading an authorization",
      );
      if (authz.status === "invalid") return authorizationFailure(authz);
      if (authz.status !== "pending") continue;
      // Already answered (here or before a restart): the server is validating.
      if (authz.challenges.some((c) => c.status === "processing")) continue;
      const offered = responder.types
        .map((type) => authz.challenges.find((c) => c.type === type && c.status === "pending"))
        .find((c) => c !== undefined);
      if (offered === undefined || typeof offered.token !== "string") {
        return `no challenge the responder answers (it answers ${responder.types.join(", ")}; the server offers ${authz.challenges
          .map((c) => c.type)
          .join(", ")}) for ${authz.identifier.type} ${authz.identifier.value}`;
      }
      if (presented.has(offered.url)) continue;
      const keyAuthorization = `${offered.token}.${this.#key.thumbprint()}`;
      const challenge: AcmeChallenge = {
        type: offered.type,
        identifier: authz.identifier,
        token: offered.token,
        keyAuthorization,
        dnsTxtValue: createHash("sha256").update(keyAuthorization).digest("base64url"),
        url: offered.url,
      };
      await responder.present(challenge);
      presented.set(offered.url, challenge);
      // An empty object tells the server to validate now (RFC 8555 §7.5.1).
      await this.#client.post(offered.url, {}, signer, "answering a challenge");
    }
    return undefined;
  }

  async #cleanup(presented: Map<string, AcmeChallenge>): Promise<void> {
    const cleanup = this.#options.challengeResponder.cleanup;
    if (cleanup === undefined) return;
    for (const challenge of presented.values()) {
      // A failed cleanup must not hide the order's outcome; the record just stays published.
      await cleanup.call(this.#options.challengeResponder, challenge).catch(() => undefined);
    }
  }

  async #invalidReason(order: AcmeOrder, signer: AcmeSigner): Promise<string> {
    const problem = readProblem(order.error);
    if (problem !== undefined) return describeProblem(problem);
    for (const authzUrl of order.authorizations) {
      const authz = readAuthorization(
        (await this.#client.postAsGet(authzUrl, signer, "reading an authorization")).json,
        "reading an authorization",
      );
      if (authz.status === "invalid") return authorizationFailure(authz);
    }
    return "the ACME server marked the order invalid without saying why";
  }

  async #download(orderUrl: string, order: AcmeOrder, entry: AcmeOrderEntry | undefined): Promise<CaResult> {
    if (typeof order.certificate !== "string")
      throw badResponse("reading the order", "a valid order without a certificate URL");
    const res = await this.#client.post(
      order.certificate,
      "",
      await this.#signer(),
      "downloading the certificate",
      "application/pem-certificate-chain",
    );
    const text = Buffer.from(res.body).toString("utf8");
    const blocks = (() => {
      try {
        return fromPemAll(text, "CERTIFICATE");
      } catch {
        return [];
      }
    })();
    const [leaf, ...chain] = blocks.map((b) => b.der);
    if (leaf === undefined)
      throw badResponse("downloading the certificate", "no PEM certificate chain (RFC 8555 §9.1)");
    // Without the CSR (an order this ledger did not create) the key cannot be checked; the serial still can be read.
    const serialHex =
      entry === undefined
        ? parseCertificate(leaf).serialHex
        : assertIssuedForCsr(leaf, Buffer.from(entry.csrBase64, "base64"), "downloading the certificate");
    await this.#ledger.recordIssued({
      serialHex,
      certificateBase64: Buffer.from(leaf).toString("base64"),
      chainBase64: chain.map((c) => Buffer.from(c).toString("base64")),
    });
    return { status: "issued", caRequestId: orderUrl, certificate: leaf, chain };
  }

  /**
   * Revoke a certificate this adapter received (RFC 8555 §7.6), signed with the account key.
   * Revoking an already revoked certificate succeeds (the server keeps its first reason).
   * @throws CardwrightError `CA_UNKNOWN_CERTIFICATE` when the ledger has no certificate with
   * that serial, `CA_UNSUPPORTED` for a reason the server refuses (badRevocationReason).
   */
  async revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    const serial = normalizeSerialHex(serialHex);
    const issued = await this.#ledger.issuedBySerial(serial);
    if (issued === undefined) {
      throw new CardwrightError(
        "CA_UNKNOWN_CERTIFICATE",
        `no certificate with serial ${serial} was received through this ACME adapter's ledger; ACME revokes by certificate, not serial`,
        { details: { serialHex: serial } },
      );
    }
    const dir = await this.#client.directory();
    try {
      await this.#client.post(
        dir.revokeCert,
        { certificate: base64url(Buffer.from(issued.certificateBase64, "base64")), reason: CrlReasonCode[reason] },
        await this.#signer(),
        `revoking certificate ${serial}`,
      );
    } catch (err) {
      // A resumed workflow repeats its revoke step: already revoked is done, not an error.
      if (err instanceof AcmeProblemError && err.problem.type === "alreadyRevoked") return;
      throw err;
    }
  }

  /** @throws CardwrightError `CA_UNSUPPORTED`: ACME revocation is final (RFC 8555 §7.6), there is no hold. */
  async suspend(serialHex: string): Promise<void> {
    throw noHold(serialHex);
  }

  /** @throws CardwrightError `CA_UNSUPPORTED`: ACME has no hold to release. */
  async unsuspend(serialHex: string): Promise<void> {
    throw noHold(serialHex);
  }

  /**
   * The CA chain that came with the latest certificate (ACME publishes no separate chain endpoint).
   * @throws CardwrightError `CA_UNSUPPORTED` before any certificate was received.
   */
  async chain(): Promise<Uint8Array[]> {
    const last = await this.#ledger.lastIssued();
    if (last === undefined) {
      throw new CardwrightError(
        "CA_UNSUPPORTED",
        "an ACME server hands out its chain only with an issued certificate; none has been received yet",
      );
    }
    return last.chainBase64.map((c) => new Uint8Array(Buffer.from(c, "base64")));
  }
}

function authorizationFailure(authz: AcmeAuthorization): string {
  const failed = authz.challenges.map((c) => readProblem(c.error)).find((p) => p !== undefined);
  return `authorization for ${authz.identifier.type} ${authz.identifier.value} failed${
    failed === undefined ? "" : `: ${describeProblem(failed)}`
  }`;
}

function unknownOrder(caRequestId: string): CardwrightError {
  return new CardwrightError("CA_UNKNOWN_REQUEST", `the ACME server has no order ${caRequestId}`, {
    details: { caRequestId },
  });
}

function noHold(serialHex: string): CardwrightError {
  return new CardwrightError(
    "CA_UNSUPPORTED",
    "ACME has no certificate hold (RFC 8555 §7.6 revocation is final); revoke instead",
    { details: { serialHex } },
  );
}
