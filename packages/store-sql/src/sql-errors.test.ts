import { CardwrightError } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { sqlState, toStoreError } from "./sql-errors.js";

/** Shaped like the DatabaseError of PGlite and node-postgres. */
function databaseError(fields: Record<string, string>): Error {
  return Object.assign(new Error(fields.message ?? "server error"), fields);
}

describe("toStoreError", () => {
  it("keeps the SQLSTATE and schema identifiers but none of the server's text", () => {
    const err = databaseError({
      message: 'invalid input syntax for type timestamp with time zone: "wrapped-ciphertext-xyz"',
      detail: "Key (id)=(wrapped-ciphertext-xyz) already exists.",
      code: "22007",
      table: "certificates",
      constraint: "certificates_pkey",
    });
    const mapped = toStoreError(err, "updating certificate cert-1");
    expect(mapped).toBeInstanceOf(CardwrightError);
    expect(mapped.code).toBe("STORE_FAILURE");
    expect(mapped.message).toBe("updating certificate cert-1: database error 22007 (invalid_datetime_format)");
    expect(mapped.details).toEqual({ sqlState: "22007", table: "certificates", constraint: "certificates_pkey" });
    expect(JSON.stringify(mapped)).not.toContain("wrapped-ciphertext-xyz");
    expect(mapped.cause).toBeUndefined();
  });

  it("names unknown SQLSTATEs by number only", () => {
    expect(toStoreError(databaseError({ code: "XX000" }), "listing cards").message).toBe(
      "listing cards: database error XX000",
    );
  });

  it("keeps client-side driver messages, which describe the session", () => {
    const mapped = toStoreError(new Error("PGlite is closed"), "reading card c1");
    expect(mapped).toMatchObject({ code: "STORE_FAILURE", message: "reading card c1: PGlite is closed", details: {} });
  });

  it("passes cardwright errors through untouched", () => {
    const original = new CardwrightError("STORE_DUPLICATE", "card c1 already exists");
    expect(toStoreError(original, "creating card c1")).toBe(original);
  });
});

describe("sqlState", () => {
  it("accepts only five-character SQLSTATEs", () => {
    expect(sqlState({ code: "23505" })).toBe("23505");
    expect(sqlState({ code: "ECONNREFUSED" })).toBeUndefined();
    expect(sqlState(null)).toBeUndefined();
  });
});
