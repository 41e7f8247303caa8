/**
 * Measurement 1: APDUs and bytes per issued card and certificate, from the virtual reader's
 * transcript, against the fewest NIST SP 800-73-4 allows for the same job — with short APDUs
 * (ISO/IEC 7816-4 command chaining and GET RESPONSE) and with extended length.
 */
import type { CertificateTemplate, KeyAlgorithm } from "@cardwright/core";
import { certificateObjectFor } from "@cardwright/pcsc";
import type { TranscriptEntry } from "@cardwright/simulator";
import { PgliteStore } from "@cardwright/store-sql";
import { staffPivPolicy } from "../src/index.js";
import { benchSdk, benchUsers, blankCard, type IssuedCard, issueOn, openBenchCa, workDir } from "./fixtures.js";
import { type BenchSection, fixed, summarize, table } from "./stats.js";

type Mode = "short" | "extended";
const MODES: readonly Mode[] = ["short", "extended"];
/** APDUs sent before the workflow's first step: `PivDevice.open`. */
const OPEN = "(open device)";

// ---- The minimum, from the encodings of SP 800-73-4 Part 2 -------------------------------

const berLengthBytes = (n: number): number => (n < 0x80 ? 1 : n < 0x100 ? 2 : 3);
const tlvBytes = (tagBytes: number, content: number): number => tagBytes + berLengthBytes(content) + content;

const MODULUS_BYTES: Partial<Record<KeyAlgorithm, number>> = { RSA2048: 256, RSA3072: 384 };
const EC_POINT_BYTES: Partial<Record<KeyAlgorithm, number>> = { ECCP256: 65, ECCP384: 97 };
/** Largest DER ECDSA signature: SEQUENCE of two INTEGERs of field size + 1. */
const ECDSA_MAX_BYTES: Partial<Record<KeyAlgorithm, number>> = { ECCP256: 72, ECCP384: 104 };
const EC_FIELD_BYTES: Partial<Record<KeyAlgorithm, number>> = { ECCP256: 32, ECCP384: 48 };

/** GENERATE ASYMMETRIC KEY PAIR response (§3.3.2): 7F49 { 81 n, 82 e } or 7F49 { 86 point }. */
function generateResponseBytes(alg: KeyAlgorithm): number {
  const modulus = MODULUS_BYTES[alg];
  if (modulus !== undefined) return tlvBytes(2, tlvBytes(1, modulus) + tlvBytes(1, 3));
  return tlvBytes(2, tlvBytes(1, EC_POINT_BYTES[alg] ?? 0));
}

/** GENERAL AUTHENTICATE sign command (§3.2.4): 7C { 82 (empty), 81 challenge }. */
function signCommandBytes(alg: KeyAlgorithm): number {
  const challenge = MODULUS_BYTES[alg] ?? EC_FIELD_BYTES[alg] ?? 0;
  return tlvBytes(1, tlvBytes(1, 0) + tlvBytes(1, challenge));
}

/** GENERAL AUTHENTICATE sign response: 7C { 82 signature }. */
function signResponseBytes(alg: KeyAlgorithm): number {
  return tlvBytes(1, tlvBytes(1, MODULUS_BYTES[alg] ?? ECDSA_MAX_BYTES[alg] ?? 0));
}

/** PUT DATA of a certificate object (§3.3.2, Part 1 Table 15): 5C tag, 53 { 70 cert, 71 info, FE }. */
function certificateObjectBytes(certificate: number): number {
  return tlvBytes(1, 3) + tlvBytes(1, tlvBytes(1, certificate) + tlvBytes(1, 1) + tlvBytes(1, 0));
}

/**
 * APDUs for one command of `nc` data bytes answered with `nr` bytes: short APDUs chain the
 * command in 255-byte pieces and fetch the answer 256 bytes at a time with GET RESPONSE;
 * one extended APDU carries up to 65535 bytes each way.
 */
function exchangeApdus(mode: Mode, nc: number, nr: number): number {
  if (mode === "extended") return 1;
  return Math.max(1, Math.ceil(nc / 255)) + Math.max(0, Math.ceil(nr / 256) - 1);
}

/** GENERATE command data: AC { 80 algorithm }. */
const GENERATE_COMMAND_BYTES = 5;

interface TemplateMinimum {
  generate: number;
  sign: number;
  put: number;
}

function templateMinimum(mode: Mode, alg: KeyAlgorithm, certificateBytes: number): TemplateMinimum {
  return {
    generate: exchangeApdus(mode, GENERATE_COMMAND_BYTES, generateResponseBytes(alg)),
    sign: exchangeApdus(mode, signCommandBytes(alg), signResponseBytes(alg)),
    put: exchangeApdus(mode, certificateObjectBytes(certificateBytes), 0),
  };
}

/**
 * The fewest APDUs per workflow step. Per card: SELECT; mutual authentication with the
 * management key (witness, then challenge); SET MANAGEMENT KEY; PUT DATA of CHUID and of CCC
 * (each under 255 bytes); one VERIFY before the CSR signatures; PUK and PIN set (one CHANGE
 * REFERENCE DATA or RESET RETRY COUNTER each). Per certificate: GENERATE, the CSR signature,
 * the certificate's PUT DATA.
 */
function minimumBySteps(per: readonly TemplateMinimum[]): Map<string, number> {
  const sum = (pick: (t: TemplateMinimum) => number) => per.reduce((a, t) => a + pick(t), 0);
  return new Map([
    [OPEN, 1],
    ["authenticateAdmin", 2],
    ["initialise", 0],
    ["replaceAdminCredential", 1],
    ["writeCardIdentifiers", 2],
    ["generateKey", sum((t) => t.generate)],
    ["buildCsr", 1 + sum((t) => t.sign)],
    ["submitRequest", 0],
    ["writeCertificates", sum((t) => t.put)],
    ["setPins", 2],
  ]);
}

const WHY: Record<string, string> = {
  [OPEN]:
    "`PivDevice.open` identifies the card: GET VERSION (firmware), GET SERIAL and GET METADATA of the PIN " +
    "(capabilities, PIN tries). SP 800-73-4 itself needs only SELECT.",
  authenticateAdmin:
    "GET METADATA 9B asks which management-key algorithm the card holds (YubiKey 5.7 ships AES-192, " +
    "older ones 3DES) before the two-step mutual authentication.",
  initialise:
    "The policy sets `initialiseOnIssue`: the card is factory-reset first. YubiKey's RESET is only " +
    "accepted once PIN and PUK are blocked, so their remaining tries are spent with wrong values " +
    "(VERIFY ×3, CHANGE REFERENCE DATA ×3 on a fresh card), then RESET, then mutual authentication " +
    "again with the factory key. A card known to be factory-fresh needs none of it.",
};

// ---- Observation ------------------------------------------------------------------------

interface Attributed {
  entry: TranscriptEntry;
  step: string;
  templateId: string | undefined;
}

/** Which step (and template) each APDU of one issue belongs to: the last progress event before it. */
function attribute(entries: readonly TranscriptEntry[], issued: IssuedCard): Attributed[] {
  return entries.map((entry, position) => {
    let mark: IssuedCard["marks"][number] | undefined;
    for (const m of issued.marks) if (m.apdus <= position) mark = m;
    return { entry, step: mark?.step ?? OPEN, templateId: mark?.templateId };
  });
}

const bytesOf = (e: TranscriptEntry): number => e.command.length + e.response.length;
const isChained = (e: TranscriptEntry): boolean => ((e.command[0] ?? 0) & 0x10) !== 0;

/** Object tag named by the first command of a PUT DATA chain (5C 03 tag at the data start). */
function putDataTag(command: Uint8Array): number | undefined {
  const offset = command[4] === 0 && command.length > 7 ? 7 : 5;
  if (command[offset] !== 0x5c || command[offset + 1] !== 3) return undefined;
  return ((command[offset + 2] ?? 0) << 16) | ((command[offset + 3] ?? 0) << 8) | (command[offset + 4] ?? 0);
}

/** Per-template APDUs: GENERATE (+ GET RESPONSE), the signature, the certificate's PUT DATA. */
function perTemplate(attributed: readonly Attributed[], templates: readonly CertificateTemplate[]) {
  const byTag = new Map(templates.map((t) => [certificateObjectFor(Number.parseInt(t.slot, 16)), t.id]));
  const counts = new Map(templates.map((t) => [t.id, { generate: 0, sign: 0, put: 0 }]));
  let putOwner: string | undefined;
  let previousChained = false;
  for (const { entry, step, templateId } of attributed) {
    if (step === "generateKey" && templateId !== undefined) counts.get(templateId)!.generate++;
    if (step === "buildCsr" && templateId !== undefined && entry.instruction !== "VERIFY") {
      counts.get(templateId)!.sign++;
    }
    if (step === "writeCertificates" && entry.instruction === "PUT DATA") {
      if (!previousChained) putOwner = byTag.get(putDataTag(entry.command));
      if (putOwner !== undefined) counts.get(putOwner)!.put++;
      previousChained = isChained(entry);
    }
  }
  return counts;
}

interface ModeResult {
  mode: Mode;
  apdus: number[];
  bytes: number[];
  minimum: number[];
  steps: Map<string, { apdus: number; bytes: number; minimum: number }>;
  instructions: Map<string, { apdus: number; bytes: number }>;
  templates: Map<string, { generate: number; sign: number; put: number; min: TemplateMinimum; certBytes: number }>;
  cards: number;
}

function add<K>(map: Map<K, Record<string, number>>, key: K, values: Record<string, number>): void {
  const row = map.get(key) ?? {};
  for (const [k, v] of Object.entries(values)) row[k] = (row[k] ?? 0) + v;
  map.set(key, row);
}

async function runMode(mode: Mode, cards: number): Promise<ModeResult> {
  const dir = workDir(`apdu-${mode}`);
  const ca = await openBenchCa(dir);
  const store = await PgliteStore.open();
  const users = benchUsers(cards, `apdu-${mode}`);
  const cardwright = benchSdk({ store, ca, users });
  const templates = staffPivPolicy.certificates;
  const r: ModeResult = {
    mode,
    apdus: [],
    bytes: [],
    minimum: [],
    steps: new Map(),
    instructions: new Map(),
    templates: new Map(),
    cards,
  };
  try {
    for (const user of users) {
      const blank = await blankCard(`bench ${mode}`);
      const issued = await issueOn(cardwright, blank, user.id, { extendedLength: mode === "extended" });
      const entries = blank.transport.transcript;
      if (entries.some((e) => e.outcome !== "response")) throw new Error("an exchange failed during the bench issue");
      const attributed = attribute(entries, issued);
      const certBytes = new Map(
        issued.result.certificates.map((c) => [c.templateId, Buffer.from(c.certificate ?? "", "base64").length]),
      );
      const mins = templates.map((t) => templateMinimum(mode, t.keyAlgorithm, certBytes.get(t.id) ?? 0));
      const minSteps = minimumBySteps(mins);
      r.apdus.push(entries.length);
      r.bytes.push(entries.reduce((a, e) => a + bytesOf(e), 0));
      r.minimum.push([...minSteps.values()].reduce((a, b) => a + b, 0));
      const steps = new Map<string, Record<string, number>>();
      for (const [step, minimum] of minSteps) add(steps, step, { apdus: 0, bytes: 0, minimum });
      for (const a of attributed) {
        add(steps, a.step, { apdus: 1, bytes: bytesOf(a.entry), minimum: 0 });
        add(r.instructions as Map<string, Record<string, number>>, a.entry.instruction, {
          apdus: 1,
          bytes: bytesOf(a.entry),
        });
      }
      for (const [step, v] of steps) add(r.steps as Map<string, Record<string, number>>, step, v);
      const observed = perTemplate(attributed, templates);
      templates.forEach((t, i) => {
        const o = observed.get(t.id)!;
        const m = mins[i]!;
        const prev = r.templates.get(t.id);
        r.templates.set(t.id, {
          generate: (prev?.generate ?? 0) + o.generate,
          sign: (prev?.sign ?? 0) + o.sign,
          put: (prev?.put ?? 0) + o.put,
          certBytes: (prev?.certBytes ?? 0) + (certBytes.get(t.id) ?? 0),
          min: {
            generate: (prev?.min.generate ?? 0) + m.generate,
            sign: (prev?.min.sign ?? 0) + m.sign,
            put: (prev?.min.put ?? 0) + m.put,
          },
        });
      });
    }
  } finally {
    await store.close();
  }
  return r;
}

// ---- Report -----------------------------------------------------------------------------

const per = (total: number, cards: number) => fixed(total / cards, 1);

function report(results: readonly ModeResult[]): string {
  const certsPerCard = staffPivPolicy.certificates.length;
  const summary = table(
    [
      "APDU form",
      "cards",
      "APDUs per card (median, min–max)",
      "bytes per card (mean)",
      "APDUs per certificate",
      "bytes per certificate",
      "SP 800-73-4 minimum per card",
      "ours / minimum",
    ],
    results.map((r) => {
      const a = summarize(r.apdus);
      const b = summarize(r.bytes);
      const m = summarize(r.minimum);
      return [
        r.mode,
        r.cards,
        `${a.median} (${a.min}–${a.max})`,
        fixed(b.mean, 0),
        fixed(a.mean / certsPerCard, 1),
        fixed(b.mean / certsPerCard, 0),
        m.min === m.max ? String(m.min) : `${m.min}–${m.max}`,
        fixed(a.mean / m.mean, 2),
      ];
    }),
  );
  const stepNames = [...new Set(results.flatMap((r) => [...r.steps.keys()]))];
  const steps = table(
    [
      "workflow step",
      ...results.flatMap((r) => [`${r.mode}: APDUs`, `${r.mode}: bytes`, `${r.mode}: minimum`]),
      "why ours differs",
    ],
    stepNames.map((s) => [
      `\`${s}\``,
      ...results.flatMap((r) => {
        const v = r.steps.get(s);
        return [per(v?.apdus ?? 0, r.cards), per(v?.bytes ?? 0, r.cards), per(v?.minimum ?? 0, r.cards)];
      }),
      WHY[s] ?? "",
    ]),
  );
  const instructionNames = [...new Set(results.flatMap((r) => [...r.instructions.keys()]))];
  const instructions = table(
    ["instruction", ...results.flatMap((r) => [`${r.mode}: APDUs per card`, `${r.mode}: bytes per card`])],
    instructionNames.map((name) => [
      name,
      ...results.flatMap((r) => {
        const v = r.instructions.get(name);
        return [per(v?.apdus ?? 0, r.cards), per(v?.bytes ?? 0, r.cards)];
      }),
    ]),
  );
  const templates = table(
    [
      "certificate",
      "APDU form",
      "certificate bytes (mean)",
      "GENERATE ours / min",
      "sign (CSR) ours / min",
      "PUT DATA ours / min",
    ],
    results.flatMap((r) =>
      staffPivPolicy.certificates.map((t) => {
        const v = r.templates.get(t.id)!;
        return [
          `${t.slot} ${t.keyAlgorithm}`,
          r.mode,
          per(v.certBytes, r.cards),
          `${per(v.generate, r.cards)} / ${per(v.min.generate, r.cards)}`,
          `${per(v.sign, r.cards)} / ${per(v.min.sign, r.cards)}`,
          `${per(v.put, r.cards)} / ${per(v.min.put, r.cards)}`,
        ];
      }),
    ),
  );
  return [
    "Each card is a factory-fresh virtual YubiKey 5 (firmware 5.7.1) in its own in-memory reader, issued",
    "under the demo's `staffPivPolicy` (9A ECC P-256 PIV Authentication, 9C RSA-2048 Digital Signature,",
    "random PIN and PUK, `initialiseOnIssue`). Counts come from the reader's transcript, from",
    "`PivDevice.open` to the end of `issueCard`; bytes are command plus response, status words included.",
    "Per certificate is per card divided by the policy's two certificates, the card's fixed costs shared.",
    "",
    summary,
    "",
    "### The minimum SP 800-73-4 allows",
    "",
    "Per card, for both APDU forms: SELECT (1); mutual authentication with the management key,",
    "witness then challenge (2); SET MANAGEMENT KEY (1, a Yubico command — SP 800-73-4 leaves changing",
    "it to card management); PUT DATA of the CHUID and of the CCC (2: each is under 255 bytes);",
    "VERIFY once before the CSR signatures (1: the 9A key is PIN-once and the single PIN-always use of",
    '9C consumes that VERIFY — a card that reads "immediately before" more strictly would need one',
    "more); new PUK and PIN (2: CHANGE REFERENCE DATA or RESET RETRY COUNTER, one each). That is 9.",
    "",
    "Per certificate, from the encodings of SP 800-73-4 Part 2: GENERATE ASYMMETRIC KEY PAIR",
    "(command `AC 03 80 01 alg`; answer `7F49 {81 n, 82 e}` = 270 bytes for RSA-2048, `7F49 {86 point}`",
    "= 70 bytes for P-256); the CSR signature with GENERAL AUTHENTICATE (command `7C {82, 81",
    "challenge}` = 266 bytes for RSA-2048, 38 for P-256; answer `7C {82 signature}` = 264 bytes for",
    "RSA-2048, at most 76 for P-256); PUT DATA of the certificate object (`5C 03 tag` + `53 {70 cert,",
    "71 00, FE}` = certificate + 18 bytes when the certificate is 256 bytes or more). With short APDUs a",
    "command of n data bytes takes ⌈n/255⌉ chained APDUs and an answer of m bytes takes",
    "⌈m/256⌉ − 1 extra GET RESPONSE; with extended length each is one APDU. So RSA-2048 costs GENERATE",
    "1 + 1 GET RESPONSE, signature 2 chained + 1 GET RESPONSE, PUT DATA ⌈(cert + 18)/255⌉ in short",
    "form, and 1 + 1 + 1 extended; P-256 costs 1 + 1 + ⌈(cert + 18)/255⌉ short and 1 + 1 + 1 extended.",
    "The minimum column is computed per card from the sizes of the certificates actually issued.",
    "",
    "### Where the APDUs go, per card (mean)",
    "",
    steps,
    "",
    unexplained(results),
    "In extended form we ask for Ne = 65536 on every command that",
    "expects data, so those commands carry the extended Le (and Lc) fields: a few bytes more per APDU, in",
    "exchange for no chaining and no GET RESPONSE.",
    "",
    "### By instruction, per card (mean)",
    "",
    instructions,
    "",
    "### Per certificate, ours against the minimum (mean per card)",
    "",
    templates,
    "",
    "### Against yubico-piv-tool",
    "",
    "Measured through the real PC/SC stack, where yubico-piv-tool can reach the virtual card: see the",
    'section "PC/SC against yubico-piv-tool" below (same job, same pcscd, fresh cards, in this run).',
  ].join("\n");
}

/** Says which steps differ from the minimum without an explanation above (none, if all is known). */
function unexplained(results: readonly ModeResult[]): string {
  const odd = new Set<string>();
  for (const r of results) {
    for (const [step, v] of r.steps) if (v.apdus !== v.minimum && WHY[step] === undefined) odd.add(step);
  }
  return odd.size === 0
    ? "Steps without a note match the minimum on every card, in both forms."
    : `**Unexplained:** ${[...odd].map((s) => `\`${s}\``).join(", ")} differ from the minimum; see the table.`;
}

/** Runs measurement 1 with `cards` cards per APDU form. */
export async function measureApduCost(options: { cards: number }): Promise<BenchSection> {
  const results: ModeResult[] = [];
  for (const mode of MODES) results.push(await runMode(mode, options.cards));
  const headline: Record<string, string | number> = {};
  for (const r of results) {
    headline[`${r.mode} APDUs/card`] = summarize(r.apdus).median;
    headline[`${r.mode} bytes/card`] = Math.round(summarize(r.bytes).mean);
    headline[`${r.mode} minimum/card`] = summarize(r.minimum).median;
  }
  return { title: "1. APDUs and bytes per issued certificate", markdown: report(results), headline };
}
