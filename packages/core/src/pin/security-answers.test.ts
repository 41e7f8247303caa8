import { describe, expect, it } from "vitest";
import type { SecurityAnswersRecord } from "../domain/records.js";
import { isCardwrightError } from "../errors.js";
import { SeededRandom } from "../testing/seeded-random.js";
import {
  afterFailedCheck,
  afterSuccessfulCheck,
  assertNotLockedOut,
  hashSecurityAnswers,
  normaliseAnswer,
  type ScryptParameters,
  securityAnswersMatch,
} from "./security-answers.js";

/** Cheap scrypt for unit tests; the default cost is exercised end to end. */
const kdf: ScryptParameters = { name: "scrypt", n: 1024, r: 8, p: 1, keyLength: 32 };
const questions = [
  { question: "First school?", answer: "St. Mary's Primary" },
  { question: "Favourite  city?", answer: "Zürich" },
];

async function record(): Promise<SecurityAnswersRecord> {
  const answers = await hashSecurityAnswers(questions, new SeededRandom(3), kdf);
  const t = "2026-01-01T00:00:00.000Z";
  return { id: "alice", answers, kdf, failedAttempts: 0, version: 1, createdAt: t, updatedAt: t };
}

describe("security answers", () => {
  it("normalises case, punctuation, white space and Unicode forms", () => {
    expect(normaliseAnswer("  St. Mary's   PRIMARY ")).toBe("st marys primary");
    expect(normaliseAnswer("Zu\u0308rich")).toBe(normaliseAnswer("Zürich"));
  });

  it("keeps only salted hashes: no answer in clear, a different salt per answer", async () => {
    const r = await record();
    const text = JSON.stringify(r);
    for (const q of questions) {
      expect(text).not.toContain(q.answer);
      expect(text).not.toContain(normaliseAnswer(q.answer));
    }
    expect(r.answers[0]!.salt).not.toBe(r.answers[1]!.salt);
    expect(r.answers.map((a) => a.question)).toEqual(["First school?", "Favourite city?"]);
  });

  it("matches the right answers as typed differently, and refuses a wrong or missing one", async () => {
    const r = await record();
    expect(
      await securityAnswersMatch(r, [
        { question: "First school?", answer: "st marys primary" },
        { question: "Favourite city?", answer: "ZÜRICH " },
      ]),
    ).toBe(true);
    expect(
      await securityAnswersMatch(r, [
        { question: "First school?", answer: "st marys primary" },
        { question: "Favourite city?", answer: "Geneva" },
      ]),
    ).toBe(false);
    expect(await securityAnswersMatch(r, [{ question: "First school?", answer: "st marys primary" }])).toBe(false);
  });

  it("refuses enrolments with one question, a repeated question or an empty answer", async () => {
    const rules = async (inputs: { question: string; answer: string }[]) =>
      hashSecurityAnswers(inputs, new SeededRandom(1), kdf).then(
        () => "accepted",
        (e: unknown) => (isCardwrightError(e) ? `${e.code}:${e.details.rule}` : "other"),
      );
    expect(await rules([questions[0]!])).toBe("POLICY_RULE:security-answers");
    expect(await rules([questions[0]!, { ...questions[0]!, answer: "other" }])).toBe("POLICY_RULE:security-answers");
    expect(await rules([questions[0]!, { question: "Pet?", answer: " ?! " }])).toBe("POLICY_RULE:security-answers");
  });

  it("locks after the third failure for the lockout time, and forgets failures on success", async () => {
    const now = new Date("2026-05-01T10:00:00.000Z");
    let r = await record();
    r = afterFailedCheck(r, now);
    r = afterFailedCheck(r, now);
    expect(r).toMatchObject({ failedAttempts: 2 });
    expect(r.lockedUntil).toBeUndefined();
    expect(afterSuccessfulCheck(r).failedAttempts).toBe(0);
    r = afterFailedCheck(r, now);
    expect(r.lockedUntil).toBe("2026-05-01T10:30:00.000Z");
    expect(() => assertNotLockedOut(r, new Date("2026-05-01T10:29:59.000Z"))).toThrow(
      expect.objectContaining({ code: "AUTHZ_LOCKED_OUT" }),
    );
    expect(() => assertNotLockedOut(r, new Date("2026-05-01T10:30:00.001Z"))).not.toThrow();
  });
});
