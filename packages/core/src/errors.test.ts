import { describe, expect, it } from "vitest";
import { CardwrightError, StoreConflictError, withContext } from "./errors.js";

describe("CardwrightError", () => {
  it("serialises code, details and cause chain to JSON and back", () => {
    const inner = new StoreConflictError("card", "c1", 3, 4);
    const outer = withContext(inner, "saving card");
    const json = JSON.parse(JSON.stringify(outer));
    expect(json.code).toBe("STORE_CONFLICT");
    expect(json.message).toMatch(/^saving card: card c1 was changed/);
    expect(json.details).toMatchObject({ expectedVersion: 3, actualVersion: 4 });
    expect(json.cause.code).toBe("STORE_CONFLICT");
    const back = CardwrightError.fromJSON(json);
    expect(back.code).toBe("STORE_CONFLICT");
    expect(back.name).toBe("StoreConflictError");
  });
});
