/**
 * A `CertificateAuthority` speaking CMP (RFC 4210) in the lightweight profile (RFC 9483) over
 * HTTP (RFC 6712): p10cr for our PKCS#10 requests, certConf/pkiConf after an issued answer,
 * pollReq/pollRep while the CA holds a request, kur for same-key renewal, rr for revocation and
 * genm `id-it-caCerts` for the CA chain. Every response's protection, transactionID and nonces
 * are checked, and an issued certificate must certify the key of our request.
 */
import { createHash } from "node:crypto";
import {
  type CaResult,
  CardwrightError,
  type CertificateAuthority,
  type CertificateRequest,
  type Clock,
  parseName,
  type Random,
  type RenewalRequest,
  type RenewalSupport,
  type RevocationReason,
  spkiEquals,
} from "@cardwright/core";
import type * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { Pkcs9Oid } from "../oids.js";
import { encodeCertConfirmContent } from "./cert-confirm-content.js";
import { type CertResponse, decodeCertRepMessage } from "./cert-rep-message.js";
import { encodeCertReqMessages, encodeCertRequest } from "./cert-req-messages.js";
import { badResponse, bytesEqual, decodeDer, encode, fromHex, hex } from "./der.js";
import { decodeErrorMsgContent } from "./error-msg-content.js";
import { caCertsFromGenRep, encodeGenMsgContent, ID_IT_CA_CERTS } from "./general-message.js";
import { type CmpTransport, httpTransport } from "./http-transport.js";
import {
  type MessageProtector,
  macProtector,
  nameDer,
  type ResponseTrust,
  signatureProtector,
  verifyResponseProtection,
} from "./message-protection.js";
import { PBM_DEFAULT_ITERATIONS, PBM_MAX_ITERATIONS, PBM_MIN_ITERATIONS } from "./password-based-mac.js";
import { BodyType, bodyTypeName } from "./pki-body.js";
import { decodePkiMessage, finishMessage, nullDn, type PkiMessage, prepareMessage } from "./pki-message.js";
import { describeStatus, type FailureInfo, PkiStatus, type PkiStatusInfo } from "./pki-status.js";
import { decodePollRepContent, encodePollReqContent } from "./poll-content.js";
import { type CmpRequestLedger, MemoryCmpRequestLedger } from "./request-ledger.js";
import { decodeRevRepContent, encodeRevReqContent } from "./revocation-content.js";
import {
  certificateSignatureHash,
  cryptoKeySigner,
  parseCertificateDer,
  type SignatureHash,
} from "./signature-protection.js";

/** How the adapter protects its messages (RFC 4210 §5.1.3). */
export type CmpProtection =
  | {
      kind: "mac";
      /** The reference the CA knows the secret by; sent as senderKID (OpenSSL `-ref` / `-srv_ref`). */
      reference: string;
      /** The shared secret (OpenSSL `-secret` / `-srv_secret`). Never logged. */
      secret: string | Uint8Array;
      /**
       * PasswordBasedMac iterations of our messages (default 10 000, 100..100 000 as OpenSSL
       * accepts): more slow down guessing a weak secret from a captured message, and every message.
       */
      iterationCount?: number;
    }
  | {
      kind: "signature";
      /** DER client certificate the CA trusts. */
      certificate: Uint8Array;
      /** Its private key (ECDSA P-256/384/521 or RSASSA-PKCS1-v1_5). */
      privateKey: CryptoKey;
      /** Intermediate certificates to send after it in extraCerts. */
      chain?: Uint8Array[];
    };

/** Options of {@link CmpCertificateAuthority}. */
export interface CmpCertificateAuthorityOptions {
  /** Id the policy's templates refer to. */
  id: string;
  /** The CMP endpoint, e.g. `http://ca.example:8080/pkix/` (RFC 6712). */
  url: string;
  protection: CmpProtection;
  /**
   * The CMP server's certificate, pinned: signature-protected responses must verify with its
   * key. MAC-protected responses verify with the `mac` secret instead.
   */
  serverCertificate?: Uint8Array;
  /** The CA's name for the header's recipient, RFC 4514; NULL-DN when omitted (RFC 9483 §3.1). */
  recipient?: string;
  /**
   * DER CA certificates, issuing CA first: the issuer named in rr for certificates this adapter
   * did not enrol, and `chain()` when the CA answers genm without them.
   */
  caCertificates?: Uint8Array[];
  /**
   * The CA accepts key update requests (kur) for same-key renewal (default true); set false for
   * CAs that only enrol, and `renew` answers `CA_UNSUPPORTED`.
   */
  keyUpdate?: boolean;
  /** The CA releases a hold on an rr with reason removeFromCRL (RFC 5280 §5.3.1); off by default. */
  supportsRemoveFromCrl?: boolean;
  /** Per-message timeout in ms (default 30 000). */
  timeoutMs?: number;
  /** Where requests are remembered for idempotency; in memory by default (see {@link CmpRequestLedger}). */
  ledger?: CmpRequestLedger;
  clock?: Clock;
  random?: Random;
}

/** One request as the ledger keeps it. */
interface LedgerEntry {
  requestId: string;
  /** Hex transactionID: the caRequestId we report. */
  caRequestId: string;
  kind: "p10cr" | "kur";
  /** Base64 SPKI of the request's key. */
  spki: string;
  state: "sent" | "waiting" | "issued" | "rejected";
  certReqId?: number;
  /** Base64 senderNonce of the CA's last message in the transaction. */
  serverNonce?: string;
  certificate?: string;
  chain?: string[];
  reason?: string;
}

/** A transaction in progress: its id and the nonce the next message must echo. */
interface Transaction {
  id: Uint8Array;
  serverNonce?: Uint8Array;
}

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

const systemClock: Clock = { now: () => new Date() };
const systemRandom: Random = {
  bytes: (length) => globalThis.crypto.getRandomValues(new Uint8Array(length)),
  uuid: () => globalThis.crypto.randomUUID(),
};

function invalidOption(option: string, message: string): CardwrightError {
  return new CardwrightError("CONFIG_INVALID", `cmp CA: ${message}`, { details: { option } });
}

function configCertificate(der: Uint8Array, option: string): pkijs.Certificate {
  try {
    return parseCertificateDer(der, option);
  } catch (err) {
    throw new CardwrightError("CONFIG_INVALID", `cmp CA: ${option} is not a DER X.509 certificate`, {
      details: { option },
      cause: err,
    });
  }
}

/** Node's hash name for a port hash name. */
const nodeHash = (hash: SignatureHash): string => hash.toLowerCase().replace("-", "");

/**
 * A CMP client implementing the `CertificateAuthority` port.
 *
 * Idempotent on `requestId` through its {@link CmpRequestLedger}: a resubmission returns the
 * recorded outcome, continues polling a waiting request, or re-sends an unanswered one in the
 * same transaction (so a CA that tracks transactions refuses a duplicate with transactionIdInUse).
 */
export class CmpCertificateAuthority implements CertificateAuthority {
  /** The id policies' certificate templates refer to. */
  readonly id: string;
  /**
   * Same-key renewal with kur (RFC 9483 §4.1.3). Re-keying is not offered: kur's proof of
   * possession must be signed by the new key over the CRMF request, and the port only carries a
   * CSR for it — re-key by submitting a new request instead.
   */
  readonly renewal: RenewalSupport;

  readonly #url: string;
  readonly #transport: CmpTransport;
  readonly #protector: MessageProtector;
  readonly #trust: ResponseTrust;
  readonly #recipient: pkijs.RelativeDistinguishedNames;
  readonly #caCertificates: Uint8Array[];
  readonly #supportsRemoveFromCrl: boolean;
  readonly #ledger: CmpRequestLedger;
  /** Calls in progress by request id: a concurrent duplicate joins the first instead of opening a second transaction. */
  readonly #inflight = new Map<string, Promise<CaResult>>();
  readonly #clock: Clock;
  readonly #random: Random;

  /** @throws CardwrightError `CONFIG_INVALID` for a bad URL, certificate or empty secret. */
  constructor(options: CmpCertificateAuthorityOptions) {
    if (typeof options.id !== "string" || options.id.trim() === "") throw invalidOption("id", "id must be non-empty");
    if (!URL.canParse(options.url) || !/^https?:$/.test(new URL(options.url).protocol)) {
      throw invalidOption("url", `url "${options.url}" is not an http(s) URL`);
    }
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw invalidOption("timeoutMs", `timeoutMs must be a positive whole number, got ${timeoutMs}`);
    }
    this.id = options.id;
    this.#url = options.url;
    this.#transport = httpTransport(options.url, timeoutMs);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#ledger = options.ledger ?? new MemoryCmpRequestLedger();
    this.#supportsRemoveFromCrl = options.supportsRemoveFromCrl ?? false;
    this.renewal = { sameKey: options.keyUpdate ?? true, rekey: false };
    this.#caCertificates = (options.caCertificates ?? []).map((der, i) => {
      configCertificate(der, `caCertificates[${i}]`);
      return der.slice();
    });
    this.#recipient = options.recipient === undefined ? nullDn() : parseName(options.recipient);
    this.#trust =
      options.serverCertificate === undefined
        ? {}
        : { serverCertificate: configCertificate(options.serverCertificate, "serverCertificate") };
    const p = options.protection;
    if (p.kind === "mac") {
      const secret = typeof p.secret === "string" ? new TextEncoder().encode(p.secret) : p.secret.slice();
      if (secret.byteLength === 0) throw invalidOption("protection.secret", "the shared secret is empty");
      if (p.reference === "") throw invalidOption("protection.reference", "the reference is empty");
      const iterations = p.iterationCount ?? PBM_DEFAULT_ITERATIONS;
      if (!Number.isInteger(iterations) || iterations < PBM_MIN_ITERATIONS || iterations > PBM_MAX_ITERATIONS) {
        throw invalidOption(
          "protection.iterationCount",
          `iterationCount must be a whole number in ${PBM_MIN_ITERATIONS}..${PBM_MAX_ITERATIONS}, got ${iterations}`,
        );
      }
      this.#trust.secret = secret;
      this.#protector = macProtector(
        new TextEncoder().encode(p.reference),
        secret,
        () => this.#random.bytes(16),
        iterations,
      );
    } else {
      const cert = configCertificate(p.certificate, "protection.certificate");
      this.#protector = signatureProtector(p.certificate, cert, cryptoKeySigner(p.privateKey), p.chain ?? []);
    }
  }

  // ---------------------------------------------------------------- transport

  /**
   * Send one message of `tx` and return the CA's checked answer: protection verified,
   * transactionID and recipNonce matching (RFC 4210 §5.1.1), and one of `expected` body types
   * or an error message.
   */
  async #exchange(
    tx: Transaction,
    bodyType: number,
    content: asn1js.AsnType,
    expected: readonly number[],
    protector: MessageProtector = this.#protector,
  ): Promise<PkiMessage> {
    const senderNonce = this.#random.bytes(16);
    const protection = protector.next();
    const unprotected = prepareMessage(
      {
        sender: protector.sender,
        recipient: this.#recipient,
        messageTime: this.#clock.now(),
        protectionAlg: protection.algorithm,
        ...(protector.senderKid === undefined ? {} : { senderKid: protector.senderKid }),
        transactionId: tx.id,
        senderNonce,
        ...(tx.serverNonce === undefined ? {} : { recipNonce: tx.serverNonce }),
      },
      bodyType,
      content,
    );
    const der = finishMessage(unprotected, await protection.protect(unprotected.protectedPart), protector.extraCerts);
    const message = decodePkiMessage(await this.#transport(der));
    verifyResponseProtection(message, this.#trust);
    const h = message.header;
    if (h.pvno !== 2 && h.pvno !== 3) throw badResponse(`the response has protocol version ${h.pvno}`);
    if (h.transactionId === undefined || !bytesEqual(h.transactionId, tx.id)) {
      throw badResponse("the response's transactionID is not the one of our request");
    }
    if (h.recipNonce === undefined || !bytesEqual(h.recipNonce, senderNonce)) {
      throw badResponse("the response's recipNonce does not echo our senderNonce (replayed or misrouted answer)");
    }
    if (h.senderNonce === undefined || h.senderNonce.byteLength < 16) {
      throw badResponse("the response lacks a senderNonce of at least 128 bits");
    }
    tx.serverNonce = h.senderNonce;
    if (message.bodyType !== BodyType.error && !expected.includes(message.bodyType)) {
      throw badResponse(
        `the CA answered ${bodyTypeName(message.bodyType)} to ${bodyTypeName(bodyType)}, expected ${expected
          .map(bodyTypeName)
          .join(" or ")}`,
      );
    }
    return message;
  }

  /** The status of an error message, turning "try later" failures into `CA_UNAVAILABLE`. */
  #errorStatus(message: PkiMessage, doing: string): PkiStatusInfo {
    const error = decodeErrorMsgContent(message.body);
    const status = {
      ...error.status,
      statusString: [...error.status.statusString, ...error.errorDetails],
    };
    if (status.failInfo.includes("systemUnavail")) {
      throw new CardwrightError(
        "CA_UNAVAILABLE",
        `cmp: the CA is unavailable while ${doing}: ${describeStatus(status)}`,
        {
          details: { url: this.#url, failInfo: status.failInfo },
        },
      );
    }
    return status;
  }

  // ---------------------------------------------------------------- ledger

  async #entry(requestId: string): Promise<LedgerEntry | undefined> {
    const raw = await this.#ledger.get(`request:${requestId}`);
    return raw === undefined ? undefined : (JSON.parse(raw) as LedgerEntry);
  }

  async #save(entry: LedgerEntry): Promise<void> {
    await this.#ledger.set(`request:${entry.requestId}`, JSON.stringify(entry));
  }

  #result(entry: LedgerEntry, retryAfterSeconds?: number): CaResult {
    if (entry.state === "issued" && entry.certificate !== undefined) {
      return {
        status: "issued",
        caRequestId: entry.caRequestId,
        certificate: unb64(entry.certificate),
        chain: (entry.chain ?? []).map(unb64),
      };
    }
    if (entry.state === "rejected") {
      return { status: "rejected", caRequestId: entry.caRequestId, reason: entry.reason ?? "rejected by the CA" };
    }
    return {
      status: "pending",
      caRequestId: entry.caRequestId,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    };
  }

  /** Open (or, for an unanswered earlier attempt, reopen) the request's transaction. */
  async #begin(
    requestId: string,
    kind: LedgerEntry["kind"],
    spki: Uint8Array,
  ): Promise<{ entry: LedgerEntry; done?: CaResult }> {
    // The same request id always gets the recorded outcome, whatever CSR comes with it (the port's rule).
    const existing = await this.#entry(requestId);
    if (existing?.state === "issued" || existing?.state === "rejected")
      return { entry: existing, done: this.#result(existing) };
    if (existing?.state === "waiting") return { entry: existing, done: await this.poll(existing.caRequestId) };
    // Unanswered before: re-sent in the same transaction, with the CSR given now.
    if (existing !== undefined) existing.spki = b64(spki);
    const entry: LedgerEntry = existing ?? {
      requestId,
      caRequestId: hex(this.#random.bytes(16)),
      kind,
      spki: b64(spki),
      state: "sent",
    };
    if (existing === undefined) {
      await this.#save(entry);
      await this.#ledger.set(`transaction:${entry.caRequestId}`, requestId);
    }
    return { entry };
  }

  // ---------------------------------------------------------------- enrolment

  /**
   * Handle a CertRepMessage (ip/cp/kup, RFC 4210 §5.3.4) or error for `entry`: record waiting or
   * rejection, or check and confirm (certConf/pkiConf, RFC 9483 §4.1.1) an issued certificate.
   */
  async #certRep(
    entry: LedgerEntry,
    tx: Transaction,
    message: PkiMessage,
    protector?: MessageProtector,
  ): Promise<CaResult> {
    if (message.bodyType === BodyType.error) {
      const status = this.#errorStatus(message, `enrolling request ${entry.requestId}`);
      return this.#reject(entry, describeStatus(status));
    }
    const rep = decodeCertRepMessage(message.body);
    const response = rep.responses[0];
    if (response === undefined || rep.responses.length !== 1) {
      throw badResponse(`the CA answered ${rep.responses.length} certificate responses to one request`);
    }
    entry.serverNonce = b64(tx.serverNonce ?? new Uint8Array());
    entry.certReqId = response.certReqId;
    switch (response.status.status) {
      case PkiStatus.waiting:
        entry.state = "waiting";
        await this.#save(entry);
        return this.#result(entry);
      case PkiStatus.rejection:
        return this.#reject(entry, describeStatus(response.status));
      case PkiStatus.accepted:
      case PkiStatus.grantedWithMods:
        return this.#accept(entry, tx, response, [...rep.caPubs, ...message.extraCerts], protector);
      default:
        throw badResponse(`the CA answered the certificate request with ${describeStatus(response.status)}`);
    }
  }

  async #reject(entry: LedgerEntry, reason: string): Promise<CaResult> {
    entry.state = "rejected";
    entry.reason = reason;
    await this.#save(entry);
    return this.#result(entry);
  }

  async #accept(
    entry: LedgerEntry,
    tx: Transaction,
    response: CertResponse,
    candidates: Uint8Array[],
    protector?: MessageProtector,
  ): Promise<CaResult> {
    if (response.certificate === undefined) {
      throw badResponse(
        response.encrypted
          ? "the CA returned an encrypted certificate, which cardwright never asks for"
          : "the CA accepted the request but returned no certificate",
      );
    }
    const der = response.certificate;
    const cert = parseCertificateDer(der, "the issued certificate");
    const certHash = new Uint8Array(
      createHash(nodeHash(certificateSignatureHash(cert)))
        .update(der)
        .digest(),
    );
    if (!spkiEquals(encode(cert.subjectPublicKeyInfo.toSchema()), unb64(entry.spki))) {
      await this.#confirm(tx, certHash, response.certReqId, protector, {
        reason: "the certificate does not certify the requested public key",
        failInfo: ["badCertTemplate"],
      }).catch(() => undefined);
      throw new CardwrightError(
        "CA_BAD_RESPONSE",
        `cmp: the CA returned a certificate for another public key than the one of request ${entry.requestId}; it was refused in certConf`,
        {
          details: {
            requestId: entry.requestId,
            caRequestId: entry.caRequestId,
            serialHex: hex(cert.serialNumber.valueBlock.valueHexView),
          },
        },
      );
    }
    const confirmation = await this.#confirm(tx, certHash, response.certReqId, protector);
    if (confirmation.bodyType === BodyType.error) {
      const status = this.#errorStatus(confirmation, `confirming request ${entry.requestId}`);
      return this.#reject(entry, `the CA refused our certificate confirmation: ${describeStatus(status)}`);
    }
    const chain = issuerChain(cert, candidates);
    entry.state = "issued";
    entry.certificate = b64(der);
    entry.chain = chain.map(b64);
    delete entry.serverNonce;
    await this.#save(entry);
    const serialHex = hex(cert.serialNumber.valueBlock.valueHexView);
    await this.#ledger.set(`issuer:${normalizeSerial(serialHex)}`, b64(nameDer(cert.issuer)));
    if (chain.length > 0) await this.#ledger.set("chain", JSON.stringify(entry.chain));
    return this.#result(entry);
  }

  /** certConf → pkiConf (RFC 4210 §5.3.18, RFC 9483 §4.1.1). */
  #confirm(
    tx: Transaction,
    certHash: Uint8Array,
    certReqId: number,
    protector?: MessageProtector,
    rejection?: { reason: string; failInfo: readonly FailureInfo[] },
  ): Promise<PkiMessage> {
    return this.#exchange(
      tx,
      BodyType.certConf,
      encodeCertConfirmContent([{ certHash, certReqId, ...(rejection === undefined ? {} : { rejection }) }]),
      [BodyType.pkiconf],
      protector,
    );
  }

  /**
   * Submit a PKCS#10 request as p10cr (RFC 9483 §4.1.4); idempotent on `requestId`: a repeated
   * id gets the recorded outcome (even with another CSR), a concurrent one shares the call in flight.
   * @throws CardwrightError `CA_INVALID_REQUEST` for a CSR that is not PKCS#10, `CA_UNAVAILABLE`,
   * `CA_BAD_RESPONSE` (including a certificate for another key).
   */
  submit(request: CertificateRequest): Promise<CaResult> {
    return this.#once(request.requestId, () => this.#submit(request));
  }

  /** Run `call` unless a call for `requestId` is in progress in this instance; then share its outcome. */
  #once(requestId: string, call: () => Promise<CaResult>): Promise<CaResult> {
    const running = this.#inflight.get(requestId);
    if (running !== undefined) return running;
    const started = call().finally(() => this.#inflight.delete(requestId));
    this.#inflight.set(requestId, started);
    return started;
  }

  async #submit(request: CertificateRequest): Promise<CaResult> {
    const spki = csrSpki(request.csr, request.requestId);
    const { entry, done } = await this.#begin(request.requestId, "p10cr", spki);
    if (done !== undefined) return done;
    const tx: Transaction = { id: fromHex(entry.caRequestId) };
    const message = await this.#exchange(tx, BodyType.p10cr, decodeDer(request.csr, "CSR"), [BodyType.cp]);
    return this.#certRep(entry, tx, message);
  }

  /**
   * Ask again about a waiting request with pollReq (RFC 9483 §4.4); an issued answer is confirmed.
   * @throws CardwrightError `CA_UNKNOWN_REQUEST` for a caRequestId this adapter's ledger does not know.
   */
  async poll(caRequestId: string): Promise<CaResult> {
    const requestId = await this.#ledger.get(`transaction:${caRequestId}`);
    const entry = requestId === undefined ? undefined : await this.#entry(requestId);
    if (entry === undefined) {
      throw new CardwrightError(
        "CA_UNKNOWN_REQUEST",
        `cmp: no request with transaction ${caRequestId} is on record; was the ledger lost?`,
        { details: { caRequestId } },
      );
    }
    if (entry.state !== "waiting") {
      if (entry.state === "sent") {
        throw new CardwrightError(
          "CA_WRONG_STATE",
          `cmp: request ${entry.requestId} has no answer yet; submit it again`,
          { details: { requestId: entry.requestId, caRequestId } },
        );
      }
      return this.#result(entry);
    }
    const tx: Transaction = {
      id: fromHex(entry.caRequestId),
      ...(entry.serverNonce === undefined ? {} : { serverNonce: unb64(entry.serverNonce) }),
    };
    const answer = entry.kind === "kur" ? BodyType.kup : BodyType.cp;
    const message = await this.#exchange(tx, BodyType.pollReq, encodePollReqContent([entry.certReqId ?? 0]), [
      BodyType.pollRep,
      answer,
    ]);
    if (message.bodyType === BodyType.pollRep) {
      const [rep] = decodePollRepContent(message.body);
      entry.serverNonce = b64(tx.serverNonce ?? new Uint8Array());
      await this.#save(entry);
      return this.#result(entry, rep?.checkAfter);
    }
    return this.#certRep(entry, tx, message);
  }

  /**
   * Renew with a key update request (kur, RFC 9483 §4.1.3), signed with the previous
   * certificate's key through `request.signWithPreviousKey`; idempotent on `requestId`.
   * @throws CardwrightError `CA_UNSUPPORTED` for a re-key, or without `signWithPreviousKey`.
   */
  renew(request: RenewalRequest): Promise<CaResult> {
    return this.#once(request.requestId, () => this.#renew(request));
  }

  async #renew(request: RenewalRequest): Promise<CaResult> {
    if (!this.renewal.sameKey) {
      throw new CardwrightError(
        "CA_UNSUPPORTED",
        `cmp: ${this.id} is configured without key update (keyUpdate: false); submit a new request instead`,
        { details: { requestId: request.requestId } },
      );
    }
    if (request.rekey) {
      throw new CardwrightError(
        "CA_UNSUPPORTED",
        "cmp: re-key renewal needs a proof of possession signed by the new key over the CRMF request, which a CSR cannot provide; submit a new request for the new key instead",
        { details: { requestId: request.requestId } },
      );
    }
    const sign = request.signWithPreviousKey;
    if (sign === undefined) {
      throw new CardwrightError(
        "CA_UNSUPPORTED",
        "cmp: kur must be signed with the key of the certificate being renewed (RFC 9483 §4.1.3); pass signWithPreviousKey",
        { details: { requestId: request.requestId } },
      );
    }
    const previous = configCertificate(request.previousCertificate, "previousCertificate");
    const csr = readCsr(request.csr, request.requestId);
    const spki = encode(csr.subjectPublicKeyInfo.toSchema());
    if (!spkiEquals(spki, encode(previous.subjectPublicKeyInfo.toSchema()))) {
      throw new CardwrightError(
        "CA_INVALID_REQUEST",
        "cmp: the renewal is marked same-key but the CSR's key is not the previous certificate's",
        { details: { requestId: request.requestId } },
      );
    }
    const { entry, done } = await this.#begin(request.requestId, "kur", spki);
    if (done !== undefined) return done;
    const protector = signatureProtector(request.previousCertificate, previous, sign);
    const certRequest = encodeCertRequest({
      certReqId: 0,
      subject: csr.subject,
      spki,
      extensions: requestedExtensions(csr),
      oldCert: { issuer: previous.issuer, serialNumber: previous.serialNumber },
    });
    const popo = protector.next();
    const body = encodeCertReqMessages(certRequest, popo.algorithm, await popo.protect(certRequest));
    const tx: Transaction = { id: fromHex(entry.caRequestId) };
    const message = await this.#exchange(tx, BodyType.kur, body, [BodyType.kup], protector);
    return this.#certRep(entry, tx, message, protector);
  }

  // ---------------------------------------------------------------- revocation

  async #issuerOf(serialHex: string): Promise<Uint8Array> {
    const recorded = await this.#ledger.get(`issuer:${normalizeSerial(serialHex)}`);
    if (recorded !== undefined) return unb64(recorded);
    const issuing = this.#caCertificates[0];
    if (issuing !== undefined) return nameDer(configCertificate(issuing, "caCertificates[0]").subject);
    throw new CardwrightError(
      "CA_UNKNOWN_CERTIFICATE",
      `cmp: certificate ${serialHex} was not enrolled through this adapter and no caCertificates name its issuer`,
      { details: { serialHex } },
    );
  }

  /** rr → rp (RFC 9483 §4.2). A CA answering certRevoked to a revocation means it is already done. */
  async #revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    const issuer = await this.#issuerOf(serialHex);
    const tx: Transaction = { id: this.#random.bytes(16) };
    const message = await this.#exchange(tx, BodyType.rr, encodeRevReqContent([{ issuer, serialHex, reason }]), [
      BodyType.rp,
    ]);
    const status =
      message.bodyType === BodyType.error
        ? this.#errorStatus(message, `revoking ${serialHex}`)
        : decodeRevRepContent(message.body)[0];
    if (status === undefined) throw badResponse("the revocation answer has no status");
    if (status.status === PkiStatus.accepted || status.status === PkiStatus.grantedWithMods) return;
    if (reason !== "removeFromCRL" && status.failInfo.includes("certRevoked")) return;
    throw new CardwrightError(
      "CA_REJECTED",
      `cmp: the CA refused to ${reason === "removeFromCRL" ? "release" : "revoke"} ${serialHex}: ${describeStatus(status)}`,
      {
        details: { serialHex, reason, failInfo: status.failInfo },
      },
    );
  }

  /**
   * Revoke with rr and the RFC 5280 §5.3.1 reason code.
   * @throws CardwrightError `CA_REJECTED`, `CA_UNKNOWN_CERTIFICATE`, `CA_UNAVAILABLE`, `CA_BAD_RESPONSE`.
   */
  revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    return this.#revoke(serialHex, reason);
  }

  /** Put on hold: rr with certificateHold. */
  suspend(serialHex: string): Promise<void> {
    return this.#revoke(serialHex, "certificateHold");
  }

  /**
   * Release a hold: rr with removeFromCRL, when `supportsRemoveFromCrl` says the CA does that.
   * @throws CardwrightError `CA_UNSUPPORTED` otherwise: CMP defines no other way to release a hold.
   */
  async unsuspend(serialHex: string): Promise<void> {
    if (!this.#supportsRemoveFromCrl) {
      throw new CardwrightError(
        "CA_UNSUPPORTED",
        `cmp: releasing a hold needs a CA that accepts rr with removeFromCRL; set supportsRemoveFromCrl if ${this.id} does`,
        { details: { serialHex } },
      );
    }
    return this.#revoke(serialHex, "removeFromCRL");
  }

  /**
   * The CA chain, issuing CA first: genm `id-it-caCerts` (RFC 9483 §4.3.1); when the CA does not
   * answer it, the chain of the last enrolment (caPubs/extraCerts) or the configured caCertificates.
   * @throws CardwrightError `CA_UNSUPPORTED` when none of those is available.
   */
  async chain(): Promise<Uint8Array[]> {
    const tx: Transaction = { id: this.#random.bytes(16) };
    const message = await this.#exchange(tx, BodyType.genm, encodeGenMsgContent(ID_IT_CA_CERTS), [BodyType.genp]);
    if (message.bodyType === BodyType.genp) {
      const certs = caCertsFromGenRep(message.body);
      if (certs !== undefined) return certs;
    }
    const recorded = await this.#ledger.get("chain");
    if (recorded !== undefined) return (JSON.parse(recorded) as string[]).map(unb64);
    if (this.#caCertificates.length > 0) return this.#caCertificates.map((c) => c.slice());
    throw new CardwrightError(
      "CA_UNSUPPORTED",
      `cmp: ${this.id} does not return its certificates to genm caCerts; configure caCertificates`,
    );
  }
}

// ---------------------------------------------------------------- helpers

function readCsr(csr: Uint8Array, requestId: string): pkijs.CertificationRequest {
  try {
    return new pkijs.CertificationRequest({ schema: decodeDer(csr, "CSR") });
  } catch (err) {
    throw new CardwrightError("CA_INVALID_REQUEST", `cmp: request ${requestId} does not carry a DER PKCS#10 CSR`, {
      details: { requestId },
      cause: err,
    });
  }
}

function csrSpki(csr: Uint8Array, requestId: string): Uint8Array {
  return encode(readCsr(csr, requestId).subjectPublicKeyInfo.toSchema());
}

function requestedExtensions(csr: pkijs.CertificationRequest): pkijs.Extension[] {
  const attr = csr.attributes?.find((a) => a.type === Pkcs9Oid.extensionRequest);
  const value = attr?.values[0];
  return value === undefined ? [] : new pkijs.Extensions({ schema: value }).extensions;
}

function normalizeSerial(serialHex: string): string {
  return serialHex.toLowerCase().replace(/^(00)+(?=.)/, "");
}

/** The issuers of `leaf` found among `candidates`, issuing CA first, following names up to a root. */
function issuerChain(leaf: pkijs.Certificate, candidates: readonly Uint8Array[]): Uint8Array[] {
  const parsed = candidates.map((der) => ({ der, cert: parseCertificateDer(der, "a CA certificate") }));
  const chain: Uint8Array[] = [];
  let current = leaf;
  while (chain.length < 8) {
    if (current !== leaf && current.issuer.isEqual(current.subject)) break;
    const next = parsed.find(
      (c) => c.cert.subject.isEqual(current.issuer) && !chain.some((d) => bytesEqual(d, c.der)) && c.cert !== current,
    );
    if (next === undefined) break;
    chain.push(next.der);
    current = next.cert;
  }
  return chain;
}
