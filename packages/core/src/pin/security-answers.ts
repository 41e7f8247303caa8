/**
 * Security questions for helpdesk-assisted offline unblock: answers are normalised (so "  Paris "
 * and "paris" match) and kept only as scrypt hashes (RFC 7914) with a random salt each; checking
 * them counts failures and locks further checks for a while after too many, so a helpdesk line
 * cannot be used to guess them.
 */
import { scrypt, timingSafeEqual } from "node:crypto";
import type { SecurityAnswer, SecurityAnswersRecord } from "../domain/records.js";
import { CardwrightError, PolicyError } from "../errors.js";
import type { Random } from "../ports/runtime.js";

/** A question and the user's answer, as typed. The answer is secret: never stored or logged. */
export interface SecurityAnswerInput {
  question: string;
  answer: string;
}

/** scrypt parameters as the record keeps them. */
export type ScryptParameters = SecurityAnswersRecord["kdf"];

/**
 * scrypt cost for answers: N = 2¹⁵, r = 8, p = 1 (RFC 7914 §2; 32 MiB and some tens of ms per
 * answer) — answers have little entropy, so each guess must be expensive.
 */
export const DEFAULT_ANSWER_KDF: ScryptParameters = { name: "scrypt", n: 2 ** 15, r: 8, p: 1, keyLength: 32 };

/** Fewest questions a user must answer. */
export const MIN_SECURITY_QUESTIONS = 2;
/** Shortest normalised answer accepted at enrolment. */
export const MIN_ANSWER_LENGTH = 2;

/** Failed checks before answers are locked, and for how long. */
export interface AnswerLockout {
  maxFailedAttempts: number;
  lockoutMs: number;
}

/** Three failed checks lock the answers for 30 minutes. */
export const DEFAULT_ANSWER_LOCKOUT: AnswerLockout = { maxFailedAttempts: 3, lockoutMs: 30 * 60 * 1000 };

/**
 * The form an answer is compared in: Unicode NFKC, lower case, punctuation dropped, runs of
 * white space as one space, trimmed.
 */
export function normaliseAnswer(answer: string): string {
  return answer
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, "")
    .replace(/\s+/gu, " ")
    .trim();
}

function normaliseQuestion(question: string): string {
  return question.normalize("NFKC").replace(/\s+/gu, " ").trim();
}

function scryptHash(answer: string, salt: Uint8Array, kdf: ScryptParameters): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      normaliseAnswer(answer),
      salt,
      kdf.keyLength,
      { N: kdf.n, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.n * kdf.r + 1024 * 1024 },
      (err, key) => (err === null ? resolve(key) : reject(err)),
    );
  });
}

/**
 * Hash a user's answers for the store, each with a fresh 16-byte salt.
 * @throws PolicyError `POLICY_RULE` (`details.rule` `security-answers`) for fewer than
 * {@link MIN_SECURITY_QUESTIONS} questions, a repeated question, or an answer too short.
 */
export async function hashSecurityAnswers(
  inputs: readonly SecurityAnswerInput[],
  random: Random,
  kdf: ScryptParameters = DEFAULT_ANSWER_KDF,
): Promise<SecurityAnswer[]> {
  if (inputs.length < MIN_SECURITY_QUESTIONS) {
    throw new PolicyError(
      undefined,
      "security-answers",
      `answer at least ${MIN_SECURITY_QUESTIONS} security questions`,
    );
  }
  const seen = new Set<string>();
  const out: SecurityAnswer[] = [];
  for (const input of inputs) {
    const question = normaliseQuestion(input.question);
    if (question.length === 0 || seen.has(question)) {
      throw new PolicyError(undefined, "security-answers", "each security question must be given once, and not empty");
    }
    seen.add(question);
    if ([...normaliseAnswer(input.answer)].length < MIN_ANSWER_LENGTH) {
      throw new PolicyError(
        undefined,
        "security-answers",
        `the answer to "${question}" is too short (at least ${MIN_ANSWER_LENGTH} letters or digits)`,
      );
    }
    const salt = random.bytes(16);
    const hash = await scryptHash(input.answer, salt, kdf);
    out.push({ question, hash: hash.toString("base64"), salt: Buffer.from(salt).toString("base64") });
  }
  return out;
}

/**
 * Whether `given` answers every question of `record` correctly. Every answer is hashed and
 * compared in constant time, right or wrong, so timing does not tell which one failed.
 */
export async function securityAnswersMatch(
  record: Pick<SecurityAnswersRecord, "answers" | "kdf">,
  given: readonly SecurityAnswerInput[],
): Promise<boolean> {
  const byQuestion = new Map(given.map((g) => [normaliseQuestion(g.question), g.answer]));
  let ok = record.answers.length > 0;
  for (const stored of record.answers) {
    const answer = byQuestion.get(stored.question);
    const expected = Buffer.from(stored.hash, "base64");
    const actual = await scryptHash(answer ?? "", Buffer.from(stored.salt, "base64"), record.kdf);
    const same = actual.length === expected.length && timingSafeEqual(actual, expected);
    ok = ok && same && answer !== undefined;
  }
  return ok;
}

/**
 * Refuse a check while the answers are locked.
 * @throws CardwrightError `AUTHZ_LOCKED_OUT` with `details.lockedUntil` and `userId`.
 */
export function assertNotLockedOut(record: SecurityAnswersRecord, now: Date): void {
  if (record.lockedUntil !== undefined && Date.parse(record.lockedUntil) > now.getTime()) {
    throw new CardwrightError(
      "AUTHZ_LOCKED_OUT",
      `security answers of user ${record.id} are locked after too many failed checks until ${record.lockedUntil}; try again then`,
      { details: { userId: record.id, lockedUntil: record.lockedUntil } },
    );
  }
}

/** The record after a failed check: one more failure, locked once they reach the limit (the count restarts). */
export function afterFailedCheck(
  record: SecurityAnswersRecord,
  now: Date,
  lockout: AnswerLockout = DEFAULT_ANSWER_LOCKOUT,
): SecurityAnswersRecord {
  const failedAttempts = record.failedAttempts + 1;
  if (failedAttempts >= lockout.maxFailedAttempts) {
    return { ...record, failedAttempts: 0, lockedUntil: new Date(now.getTime() + lockout.lockoutMs).toISOString() };
  }
  const { lockedUntil: _expired, ...rest } = record;
  return { ...rest, failedAttempts };
}

/** The record after a successful check: failures forgotten. */
export function afterSuccessfulCheck(record: SecurityAnswersRecord): SecurityAnswersRecord {
  const { lockedUntil: _l, ...rest } = record;
  return { ...rest, failedAttempts: 0 };
}
