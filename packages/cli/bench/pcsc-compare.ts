/**
 * Measurement: one card with two certificates issued through the real PC/SC stack (pcscd + vpcd)
 * by cardwright and by yubico-piv-tool 2.2, on the same kind of virtual YubiKey (a fresh one per
 * run), in one run. APDUs and bytes come from pcscd's own `--apdu` log and are cross-checked
 * against the card's count of the commands it answered; wall time is the host's.
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EmbeddedCa } from "@cardwright/ca-adapters";
import {
  AesGcmSecretVault,
  Cardwright,
  type IssueResult,
  type KeyAlgorithm,
  type Policy,
  type ProgressEvent,
} from "@cardwright/core";
import { InMemoryDirectory } from "@cardwright/core/testing";
import {
  type ApduTransport,
  instructionName,
  PcscDeviceProvider,
  PcscTransport,
  PivDevice,
  type TransmitOptions,
} from "@cardwright/pcsc";
import type { PgliteStore } from "@cardwright/store-sql";
import { staffPivPolicy } from "../src/index.js";
import { cardPresent } from "../test/support/pcsc-stack.js";
import { type Pcscd, startPcscd, until } from "../test/support/pcscd.js";
import { RemoteVpcdCard } from "../test/support/remote-vpcd-card.js";
import { openParts, TEST_KEK } from "../test/support/stack.js";
import { describeRun, tool } from "../test/support/tools.js";
import { benchUsers, workDir } from "./fixtures.js";
import { type BenchSection, fixed, now, summarize, table } from "./stats.js";

/**
 * Firmware of every card in this measurement. yubico-piv-tool 2.2 authenticates with 3DES only,
 * and YubiKeys ship the 3DES default management key before 5.7, so both tools get a 5.4.3.
 */
const FIRMWARE = "5.4.3";
const FACTORY_3DES_KEY = "010203040506070801020304050607080102030405060708";
const FACTORY_PIN = "123456";
const FACTORY_PUK = "12345678";
const TITLE = "5. Through PC/SC: cardwright against yubico-piv-tool";

// ---- Steps of the job, shared by both tools -------------------------------------------------

const STEPS = [
  "open the card",
  "management-key authentication",
  "factory reset",
  "new management key",
  "CHUID and CCC",
  "key generation (9A, 9C)",
  "CSR signatures (VERIFY + sign)",
  "certificates written (9A, 9C)",
  "new PIN and PUK",
] as const;
/** A step of the two-certificate job, in both tools' terms. */
export type Step = (typeof STEPS)[number];

/** cardwright's workflow steps (progress events) in the job's terms. */
const WORKFLOW_STEP: Record<string, Step> = {
  authenticateAdmin: "management-key authentication",
  initialise: "factory reset",
  replaceAdminCredential: "new management key",
  writeCardIdentifiers: "CHUID and CCC",
  generateKey: "key generation (9A, 9C)",
  buildCsr: "CSR signatures (VERIFY + sign)",
  writeCertificates: "certificates written (9A, 9C)",
  setPins: "new PIN and PUK",
};

// ---- The minimum, from SP 800-73-4 Part 2 (as docs/benchmarks.md section 1 derives it) ------

const berLengthBytes = (n: number): number => (n < 0x80 ? 1 : n < 0x100 ? 2 : 3);
const tlvBytes = (tagBytes: number, content: number): number => tagBytes + berLengthBytes(content) + content;
/** Short APDUs (what both tools send through pcscd here): 255-byte chained pieces, 256-byte GET RESPONSE. */
const shortApdus = (nc: number, nr: number): number =>
  Math.max(1, Math.ceil(nc / 255)) + Math.max(0, Math.ceil(nr / 256) - 1);
const generateApdus = (alg: KeyAlgorithm): number =>
  alg === "RSA2048"
    ? shortApdus(5, tlvBytes(2, tlvBytes(1, 256) + tlvBytes(1, 3)))
    : shortApdus(5, tlvBytes(2, tlvBytes(1, 65)));
const signApdus = (alg: KeyAlgorithm): number =>
  alg === "RSA2048"
    ? shortApdus(tlvBytes(1, tlvBytes(1, 0) + tlvBytes(1, 256)), tlvBytes(1, tlvBytes(1, 256)))
    : shortApdus(tlvBytes(1, tlvBytes(1, 0) + tlvBytes(1, 32)), tlvBytes(1, tlvBytes(1, 72)));
const certificatePutApdus = (certificate: number): number =>
  shortApdus(tlvBytes(1, 3) + tlvBytes(1, tlvBytes(1, certificate) + tlvBytes(1, 1) + tlvBytes(1, 0)), 0);

/**
 * Fewest APDUs per step for this job over short APDUs (SP 800-73-4 Part 2 encodings), given the
 * sizes of the two certificates written (9A P-256, 9C RSA-2048).
 */
export function jobMinimum(cert9a: number, cert9c: number): Record<Step, number> {
  return {
    "open the card": 1, // SELECT
    "management-key authentication": 2, // witness, then challenge
    "factory reset": 0, // not part of the job
    "new management key": 1, // SET MANAGEMENT KEY
    "CHUID and CCC": 2, // each under 255 bytes
    "key generation (9A, 9C)": generateApdus("ECCP256") + generateApdus("RSA2048"),
    "CSR signatures (VERIFY + sign)": 1 + signApdus("ECCP256") + signApdus("RSA2048"),
    "certificates written (9A, 9C)": certificatePutApdus(cert9a) + certificatePutApdus(cert9c),
    "new PIN and PUK": 2,
  };
}

// ---- Observation ----------------------------------------------------------------------------

/** One command and its response as pcscd logged them (secret bytes blanked, lengths kept). */
export interface Exchange {
  command: number[];
  /** Response bytes, status word included. */
  responseLength: number;
}

/** Command/response pairs in a stretch of pcscd's `--apdu` log. */
export function parsePcscdApdus(log: string): Exchange[] {
  const out: Exchange[] = [];
  for (const line of log.split("\n")) {
    const apdu = /\bAPDU: ((?:[0-9A-Fx]{2} ?)+)\s*$/.exec(line);
    if (apdu) {
      out.push({
        command: apdu[1]!
          .trim()
          .split(" ")
          .map((b) => (b === "xx" ? 0 : Number.parseInt(b, 16))),
        responseLength: -1,
      });
      continue;
    }
    const sw = /\bSW: ((?:[0-9A-F]{2} ?)+)\s*$/.exec(line);
    const last = out[out.length - 1];
    if (sw && last !== undefined && last.responseLength < 0) last.responseLength = sw[1]!.trim().split(" ").length;
  }
  return out;
}

const exchangeBytes = (e: Exchange): number => e.command.length + Math.max(0, e.responseLength);
const insName = (e: Exchange): string => instructionName(e.command[1] ?? 0);
const isManagementKeyAuth = (e: Exchange): boolean => e.command[1] === 0x87 && e.command[3] === 0x9b;

/**
 * The exchanges pcscd logged since `mark`, once the log holds all `apdus` the card answered
 * meanwhile (pcscd writes its log through a pipe, a little after the client has its answer).
 * @throws Error when the two counts disagree.
 */
async function loggedExchanges(pcscd: Pcscd, mark: number, apdus: number): Promise<Exchange[]> {
  let exchanges: Exchange[] = [];
  const complete = () => {
    exchanges = parsePcscdApdus(pcscd.logSince(mark));
    return exchanges.length >= apdus && exchanges.every((e) => e.responseLength >= 0);
  };
  await until(complete, `pcscd to log ${apdus} APDUs`, 5_000).catch(() => undefined);
  if (exchanges.length !== apdus || exchanges.some((e) => e.responseLength < 0)) {
    throw new Error(`pcscd logged ${exchanges.length} APDUs where the card answered ${apdus}`);
  }
  return exchanges;
}

interface Tally {
  apdus: number;
  bytes: number;
}

/** One issue by one tool. */
interface Run {
  ms: number;
  exchanges: { step: Step; exchange: Exchange }[];
  certificateBytes: [number, number];
  invocations: number;
}

function tallyBy<K>(run: Run, key: (x: Run["exchanges"][number]) => K): Map<K, Tally> {
  const map = new Map<K, Tally>();
  for (const x of run.exchanges) {
    const t = map.get(key(x)) ?? { apdus: 0, bytes: 0 };
    t.apdus++;
    t.bytes += exchangeBytes(x.exchange);
    map.set(key(x), t);
  }
  return map;
}

// ---- cardwright -----------------------------------------------------------------------------

/** Notes which workflow step each command belongs to; the command goes on to PcscTransport unchanged. */
class StepTaggingTransport implements ApduTransport {
  step: Step = "open the card";
  readonly steps: Step[] = [];
  constructor(private readonly inner: PcscTransport) {}
  get reader(): string {
    return this.inner.reader;
  }
  transmit(command: Uint8Array, options?: TransmitOptions): Promise<Uint8Array> {
    this.steps.push(this.step);
    return this.inner.transmit(command, options);
  }
  getAtr(): Promise<Uint8Array> {
    return this.inner.getAtr();
  }
  reset(): Promise<void> {
    return this.inner.reset();
  }
}

/** Where cardwright runs: one CA and store for the whole measurement, a user per card. */
interface CardwrightParts {
  cardwright: Cardwright;
  nextUser: () => string;
}

async function runCardwright(pcscd: Pcscd, parts: CardwrightParts): Promise<Run> {
  const card = await RemoteVpcdCard.start(pcscd.ports[0], { firmware: FIRMWARE });
  const provider = new PcscDeviceProvider();
  try {
    await card.insert();
    const reader = pcscd.readers[0];
    await cardPresent(provider, reader);
    const mark = pcscd.mark();
    const before = await card.apduCount();
    const start = now();
    const pcsc = await PcscTransport.connect(reader);
    const tagging = new StepTaggingTransport(pcsc);
    let result: IssueResult;
    try {
      const device = await PivDevice.open(tagging, { onClose: () => pcsc.close() });
      try {
        result = await parts.cardwright.issueCard({
          userId: parts.nextUser(),
          device,
          actor: "bench-operator",
          onProgress: (e: ProgressEvent) => {
            tagging.step = WORKFLOW_STEP[e.step] ?? tagging.step;
          },
        });
      } finally {
        await device.close();
      }
    } finally {
      await pcsc.close();
    }
    const ms = now() - start;
    if (result.status !== "active") throw new Error(`cardwright's issue ended ${result.status}`);
    const answered = (await card.apduCount()) - before;
    const exchanges = await loggedExchanges(pcscd, mark, answered);
    if (exchanges.length !== tagging.steps.length) {
      throw new Error(`cardwright sent ${tagging.steps.length} APDUs but pcscd logged ${exchanges.length}`);
    }
    const issued = result;
    const certBytes = (slot: string) =>
      Buffer.from(issued.certificates.find((c) => c.slot === slot)?.certificate ?? "", "base64").length;
    return {
      ms,
      exchanges: exchanges.map((exchange, i) => ({ step: tagging.steps[i]!, exchange })),
      certificateBytes: [certBytes("9a"), certBytes("9c")],
      invocations: 1,
    };
  } finally {
    await card.stop();
    // Let pcscd see the reader empty, so the next card is not taken for this one.
    await cardPresent(provider, pcscd.readers[0], false);
  }
}

/** The SDK under `policy` over shared parts, with users of its own. */
function cardwrightOver(parts: { ca: EmbeddedCa; store: PgliteStore }, policy: Policy, label: string, cards: number) {
  const users = benchUsers(cards, label);
  let next = 0;
  const cardwright = new Cardwright({
    store: parts.store,
    vault: new AesGcmSecretVault({ keys: { test: TEST_KEK }, currentKekId: "test" }),
    directory: new InMemoryDirectory(users),
    certificateAuthorities: [parts.ca],
    policies: [policy],
  });
  return { cardwright, nextUser: () => users[next++]!.id };
}

// ---- yubico-piv-tool ------------------------------------------------------------------------

/** X.509 extensions like those of the policy's certificates, so both tools write comparable objects. */
const EXTENSIONS = [
  "[v3]",
  "basicConstraints = critical, CA:FALSE",
  "keyUsage = critical, digitalSignature",
  "extendedKeyUsage = clientAuth, 1.3.6.1.4.1.311.20.2.2",
  "subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@corp.example.com",
  "subjectKeyIdentifier = hash",
  "authorityKeyIdentifier = keyid",
  "",
].join("\n");
const SUBJECT = "/O=Example Corp/OU=Engineering/CN=Alice Example";

interface CaFiles {
  key: string;
  cert: string;
  extensions: string;
}

async function openSslCa(dir: string): Promise<CaFiles> {
  const files = { key: join(dir, "ca.key"), cert: join(dir, "ca.pem"), extensions: join(dir, "ext.cnf") };
  writeFileSync(files.extensions, EXTENSIONS);
  await ok(tool("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", files.key]));
  await ok(
    tool("openssl", [
      "req",
      "-x509",
      "-new",
      "-key",
      files.key,
      "-subj",
      "/O=Example Corp/CN=Bench OpenSSL CA",
      "-days",
      "30",
      "-out",
      files.cert,
    ]),
  );
  return files;
}

async function ok(run: ReturnType<typeof tool>): Promise<void> {
  const r = await run;
  if (r.status !== 0) throw new Error(`bench step failed: ${describeRun(r)}`);
}

/**
 * yubico-piv-tool 2.2 doing the job in ten invocations. Its `request-certificate` (and
 * `selfsign-certificate`) cannot sign on the card when linked with OpenSSL 3 — it fails on the
 * host with "Failed signing request." right after its VERIFY, the signing callback it wraps around
 * the public key never being called (upstream Yubico/yubico-piv-tool#388)
 * — so each CSR signature is made by `-a verify-pin -a test-signature`, which sends the same
 * VERIFY and the same GENERAL AUTHENTICATE (a SHA-256 digest, PKCS#1-padded for RSA) that
 * request-certificate would, and checks the signature with the certificate; OpenSSL certifies the
 * public key `-a generate` wrote (`x509 -new -force_pubkey`) in the CA's place.
 */
async function runYubicoPivTool(pcscd: Pcscd, ca: CaFiles, dir: string): Promise<Run> {
  const card = await RemoteVpcdCard.start(pcscd.ports[0], { firmware: FIRMWARE });
  const provider = new PcscDeviceProvider();
  const exchanges: Run["exchanges"] = [];
  const certificateBytes: [number, number] = [0, 0];
  let invocations = 0;
  const reader = ["--reader", pcscd.readers[0]];
  const newKey = "8a27c3e15b4d6f0a9c1e2d3b4a5f6e7d8c9b0a1f2e3d4c5b";
  try {
    await card.insert();
    await cardPresent(provider, pcscd.readers[0]);
    const start = now();
    const ypt = async (step: Step, args: string[]) => {
      const mark = pcscd.mark();
      const before = await card.apduCount();
      await ok(tool("yubico-piv-tool", [...reader, ...args]));
      invocations++;
      const logged = await loggedExchanges(pcscd, mark, (await card.apduCount()) - before);
      // Every invocation opens the card: SELECT, an empty VERIFY (PIN status), GET VERSION, GET SERIAL.
      logged.forEach((exchange, i) => {
        const opening = i < 4 && [0xa4, 0x20, 0xfd, 0xf8][i] === exchange.command[1];
        exchanges.push({
          step: opening ? "open the card" : isManagementKeyAuth(exchange) ? "management-key authentication" : step,
          exchange,
        });
      });
    };
    for (const [slot, alg, index] of [
      ["9a", "ECCP256", 0],
      ["9c", "RSA2048", 1],
    ] as const) {
      const pub = join(dir, `${slot}.pub.pem`);
      const cert = join(dir, `${slot}.cert.pem`);
      await ypt("key generation (9A, 9C)", [
        `--key=${FACTORY_3DES_KEY}`,
        "-a",
        "generate",
        "-s",
        slot,
        "-A",
        alg,
        "-o",
        pub,
      ]);
      await ok(
        tool("openssl", [
          "x509",
          "-new",
          "-subj",
          SUBJECT,
          "-force_pubkey",
          pub,
          "-CA",
          ca.cert,
          "-CAkey",
          ca.key,
          "-days",
          "365",
          "-extfile",
          ca.extensions,
          "-extensions",
          "v3",
          "-outform",
          "DER",
          "-out",
          `${cert}.der`,
        ]),
      );
      await ok(tool("openssl", ["x509", "-inform", "DER", "-in", `${cert}.der`, "-out", cert]));
      certificateBytes[index] = statSync(`${cert}.der`).size;
      await ypt("CSR signatures (VERIFY + sign)", [
        "-a",
        "verify-pin",
        "-P",
        FACTORY_PIN,
        "-a",
        "test-signature",
        "-s",
        slot,
        "-i",
        cert,
      ]);
      await ypt("certificates written (9A, 9C)", [
        `--key=${FACTORY_3DES_KEY}`,
        "-a",
        "import-certificate",
        "-s",
        slot,
        "-i",
        cert,
      ]);
    }
    await ypt("new PIN and PUK", ["-a", "change-pin", "-P", FACTORY_PIN, "-N", "70417382"]);
    await ypt("new PIN and PUK", ["-a", "change-puk", "-P", FACTORY_PUK, "-N", "93820517"]);
    await ypt("new management key", [`--key=${FACTORY_3DES_KEY}`, "-a", "set-mgm-key", "-n", newKey]);
    await ypt("CHUID and CCC", [`--key=${newKey}`, "-a", "set-chuid", "-a", "set-ccc"]);
    return { ms: now() - start, exchanges, certificateBytes, invocations };
  } finally {
    await card.stop();
    // Let pcscd see the reader empty, so the next card is not taken for this one.
    await cardPresent(provider, pcscd.readers[0], false);
  }
}

// ---- Report ---------------------------------------------------------------------------------

interface Sequence {
  label: string;
  runs: Run[];
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const totalApdus = (r: Run): number => r.exchanges.length;
const totalBytes = (r: Run): number => r.exchanges.reduce((a, x) => a + exchangeBytes(x.exchange), 0);
const minimumTotal = (r: Run): number =>
  Object.values(jobMinimum(r.certificateBytes[0], r.certificateBytes[1])).reduce((a, b) => a + b, 0);
const range = (xs: readonly number[]): string => {
  const s = summarize(xs);
  return s.min === s.max ? String(s.median) : `${s.median} (${s.min}–${s.max})`;
};

/** Mean per run of a per-run tally keyed by `key`. */
function meanTally<K>(runs: readonly Run[], key: (x: Run["exchanges"][number]) => K): Map<K, Tally> {
  const out = new Map<K, Tally>();
  for (const run of runs) {
    for (const [k, t] of tallyBy(run, key)) {
      const o = out.get(k) ?? { apdus: 0, bytes: 0 };
      o.apdus += t.apdus / runs.length;
      o.bytes += t.bytes / runs.length;
      out.set(k, o);
    }
  }
  return out;
}

const NOTES: Partial<Record<Step, string>> = {
  "open the card":
    "cardwright: SELECT, GET VERSION, GET SERIAL, GET METADATA of the PIN, once. yubico-piv-tool: SELECT, an empty " +
    "VERIFY, GET VERSION and GET SERIAL in every one of its invocations. The minimum is SELECT.",
  "management-key authentication":
    "cardwright asks the card's management-key algorithm (GET METADATA 9B) and authenticates once per session. " +
    "yubico-piv-tool authenticates (witness, challenge) in each invocation that needs it: generate ×2, import ×2, " +
    "set-mgm-key, set-chuid.",
  "factory reset":
    "Only with the policy's `initialiseOnIssue`: PIN and PUK blocked with wrong values, RESET, authentication again.",
  "CSR signatures (VERIFY + sign)":
    "yubico-piv-tool: `verify-pin` + `test-signature` (same APDUs as its `request-certificate`, which OpenSSL 3 " +
    "breaks; see below).",
};

function report(sequences: readonly Sequence[]): string {
  const summary = table(
    [
      "sequence",
      "cards",
      "invocations per card",
      "APDUs per card (median)",
      "bytes per card (mean)",
      "wall time per card, s (median)",
      "SP 800-73-4 minimum",
      "APDUs / minimum",
    ],
    sequences.map((s) => [
      s.label,
      s.runs.length,
      range(s.runs.map((r) => r.invocations)),
      range(s.runs.map(totalApdus)),
      fixed(mean(s.runs.map(totalBytes)), 0),
      fixed(summarize(s.runs.map((r) => r.ms)).median / 1000, 2),
      range(s.runs.map(minimumTotal)),
      fixed(mean(s.runs.map(totalApdus)) / mean(s.runs.map(minimumTotal)), 2),
    ]),
  );
  const bySteps = sequences.map((s) => meanTally(s.runs, (x) => x.step));
  const like = sequences[0]!;
  const minimumSteps = jobMinimum(
    mean(like.runs.map((r) => r.certificateBytes[0])),
    mean(like.runs.map((r) => r.certificateBytes[1])),
  );
  const steps = table(
    ["step", ...sequences.flatMap((s) => [`${s.label}: APDUs`, `${s.label}: bytes`]), "minimum", "note"],
    STEPS.map((step) => [
      step,
      ...bySteps.flatMap((t) => [fixed(t.get(step)?.apdus ?? 0, 1), fixed(t.get(step)?.bytes ?? 0, 0)]),
      String(minimumSteps[step]),
      NOTES[step] ?? "",
    ]),
  );
  const byIns = sequences.map((s) => meanTally(s.runs, (x) => insName(x.exchange)));
  const names = [...new Set(byIns.flatMap((t) => [...t.keys()]))];
  const instructions = table(
    ["instruction", ...sequences.flatMap((s) => [`${s.label}: APDUs`, `${s.label}: bytes`])],
    names.map((n) => [n, ...byIns.flatMap((t) => [fixed(t.get(n)?.apdus ?? 0, 1), fixed(t.get(n)?.bytes ?? 0, 0)])]),
  );
  const certs = table(
    ["sequence", "9A certificate bytes (mean)", "9C certificate bytes (mean)"],
    sequences.map((s) => [
      s.label,
      fixed(mean(s.runs.map((r) => r.certificateBytes[0])), 0),
      fixed(mean(s.runs.map((r) => r.certificateBytes[1])), 0),
    ]),
  );
  const [ours, , theirs] = sequences;
  const oursApdus = mean(ours!.runs.map(totalApdus));
  const theirApdus = mean(theirs!.runs.map(totalApdus));
  const minimumApdus = mean(ours!.runs.map(minimumTotal));
  const over = STEPS.filter((step) => (bySteps[0]!.get(step)?.apdus ?? 0) > minimumSteps[step]).map(
    (step) => `${step} +${fixed((bySteps[0]!.get(step)?.apdus ?? 0) - minimumSteps[step], 0)}`,
  );
  const result = [
    `**Result:** cardwright does the job in ${fixed(oursApdus, 0)} APDUs and ${fixed(mean(ours!.runs.map(totalBytes)), 0)} bytes`,
    `per card, yubico-piv-tool in ${fixed(theirApdus, 0)} and ${fixed(mean(theirs!.runs.map(totalBytes)), 0)}`,
    `(${fixed(theirApdus / oursApdus, 1)}× the APDUs, its CSR signatures counted as explained below). The fewest`,
    `SP 800-73-4 allows for this job over short APDUs is ${fixed(minimumApdus, 0)} (the derivation is under the`,
    `per-step table); cardwright's steps above it: ${over.length === 0 ? "none" : over.join(", ")} — see the notes.`,
  ].join("\n");
  return [
    "The same job on the same kind of card through the same pcscd, in one run: a fresh virtual YubiKey 5",
    `(firmware ${FIRMWARE}, factory 3DES management key) in vpcd reader \`Virtual PCD 00 00\` of one`,
    "`pcscd --foreground --apdu` (the test harness's, packages/cli/test/support/pcscd.ts) for every card,",
    "issued with two certificates — 9A ECC P-256 and 9C RSA-2048: generate each key on the card, sign",
    "each CSR on the card, write each certificate, write CHUID and CCC, set PIN and PUK, replace the",
    "management key. Both tools send short APDUs (command chaining, GET RESPONSE), T=1.",
    "",
    "- **APDUs and bytes** are counted from pcscd's `--apdu` log (each command with its response, status",
    "  word included; secret bytes are blanked in the log but keep their length), cross-checked against",
    "  the card's own count of the commands it answered (and, for cardwright, the commands `PcscTransport`",
    "  sent): the bench stops if they disagree. Everything the card sees counts: cardwright's from",
    "  `PcscTransport.connect` to `device.close()`, yubico-piv-tool's over all of its invocations.",
    "- **Wall time** is the host's, per card: cardwright's includes its embedded CA and PGlite store;",
    "  yubico-piv-tool's includes the `openssl` runs that certify its keys (the CA's part). Through vpcd",
    "  every APDU costs pcscd's driver tens of milliseconds, so wall time follows the APDU count.",
    "- **cardwright, same job** runs the demo's `staffPivPolicy` with `initialiseOnIssue` off, the job",
    "  yubico-piv-tool does; **cardwright, as shipped** runs it as the demo ships it (factory reset first).",
    "",
    summary,
    "",
    result,
    "",
    "yubico-piv-tool 2.2 (Debian bookworm), ten invocations per card, each one opening the card again:",
    "`--key=… -a generate -s 9a -A ECCP256 -o pub`, then `openssl x509 -new -force_pubkey pub -CA …`",
    "(the CA's part, no APDU), `-a verify-pin -a test-signature -s 9a -i cert`, `--key=… -a",
    "import-certificate -s 9a -i cert`; the same three for 9c RSA2048; `-a change-pin`; `-a change-puk`;",
    "`--key=… -a set-mgm-key -n …`; `--key=<new> -a set-chuid -a set-ccc`.",
    "",
    "**The step yubico-piv-tool cannot do:** signing a CSR on the card. Its `request-certificate` (and",
    '`selfsign-certificate`) fails on the host with "Failed signing request." right after a successful',
    "VERIFY, sending no signature command (pcscd's log ends at the VERIFY): version 2.2 signs by wrapping",
    "the public key in an RSA/EC key method whose callback asks the card, and linked with OpenSSL 3 that",
    "callback never runs (reported upstream as Yubico/yubico-piv-tool#388, on OpenSSL 3.0 distributions;",
    "Debian bookworm ships 2.2.0 with OpenSSL 3.0). It is accounted as",
    "`-a verify-pin -a test-signature`: the same VERIFY and the same GENERAL AUTHENTICATE (a SHA-256",
    "digest, PKCS#1 v1.5-padded for RSA — request-certificate's own signing path), checked by the tool",
    "against the certificate. So its signature APDUs and bytes are what request-certificate would send;",
    "what it cannot produce is the CSR itself, which is why OpenSSL certifies the generated public key",
    "directly.",
    "",
    "### Per step, per card (mean)",
    "",
    steps,
    "",
    "The minimum column is computed as in section 1 for short APDUs (SELECT 1; mutual authentication 2;",
    "SET MANAGEMENT KEY 1; CHUID and CCC 2; VERIFY once plus GENERAL AUTHENTICATE per key —",
    "P-256 1, RSA-2048 2 chained + 1 GET RESPONSE; GENERATE P-256 1, RSA-2048 1 + 1 GET RESPONSE;",
    "PIN and PUK 2; certificates ⌈(certificate + 18) / 255⌉ PUT DATA each) from the sizes of",
    `cardwright's certificates; the summary's minimum is per sequence, from its own certificates.`,
    "",
    "Certificates written (they set the PUT DATA bytes):",
    "",
    certs,
    "",
    "### By instruction, per card (mean)",
    "",
    instructions,
  ].join("\n");
}

/**
 * Runs the PC/SC comparison: `cards` cards per sequence (cardwright for the same job,
 * cardwright as shipped, yubico-piv-tool), interleaved so a drift in the machine's load touches
 * each alike. Starts (and stops) the harness's pcscd, waiting for its lock; when none can be
 * started the section says so instead of giving numbers.
 * @throws Error when vpcd, yubico-piv-tool or openssl is missing, or a run fails.
 */
export async function measurePcscComparison(options: { cards: number }): Promise<BenchSection> {
  let pcscd: Pcscd;
  try {
    pcscd = await startPcscd();
  } catch (err) {
    // One pcscd per machine: when a test run keeps it past the harness's wait, or pcscd is
    // missing, the other sections' results are kept and this one says why it has no numbers.
    const reason = err instanceof Error ? err.message : String(err);
    console.error(`bench: PC/SC comparison not measured: ${reason}`);
    return {
      title: TITLE,
      markdown: `**Not measured in this run:** no pcscd could be started for it (${reason}). Run it again when no PC/SC test is running: \`npm run bench -- --only "PC/SC"\` prints it.`,
      headline: { measured: "no" },
    };
  }
  const dir = workDir("pcsc-compare");
  const sameJob: Policy = { ...staffPivPolicy, initialiseOnIssue: false };
  const sequences: Sequence[] = [
    { label: "cardwright, same job", runs: [] },
    { label: "cardwright, as shipped", runs: [] },
    { label: "yubico-piv-tool", runs: [] },
  ];
  const parts = await openParts(dir);
  try {
    const sdks = [
      cardwrightOver(parts, sameJob, "pcsc-same", options.cards),
      cardwrightOver(parts, staffPivPolicy, "pcsc-shipped", options.cards),
    ];
    const ca = await openSslCa(dir);
    for (let i = 0; i < options.cards; i++) {
      sequences[0]!.runs.push(await runCardwright(pcscd, sdks[0]!));
      sequences[1]!.runs.push(await runCardwright(pcscd, sdks[1]!));
      sequences[2]!.runs.push(await runYubicoPivTool(pcscd, ca, dir));
    }
  } finally {
    await parts.store.close();
    await pcscd.stop();
  }
  const headline: Record<string, string | number> = {};
  for (const s of sequences) {
    headline[`${s.label} APDUs`] = summarize(s.runs.map(totalApdus)).median;
    headline[`${s.label} bytes`] = Math.round(mean(s.runs.map(totalBytes)));
    headline[`${s.label} s`] = Number((summarize(s.runs.map((r) => r.ms)).median / 1000).toFixed(2));
  }
  headline.minimum = summarize(sequences[0]!.runs.map(minimumTotal)).median;
  return { title: TITLE, markdown: report(sequences), headline };
}
