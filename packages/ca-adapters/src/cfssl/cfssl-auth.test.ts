import { describe, expect, it } from "vitest";
import { authenticateCfsslRequest, decodeCfsslAuthKey } from "./cfssl-auth.js";

describe("cfssl standard auth", () => {
  it("tokens are HMAC-SHA256 over the request bytes (RFC 4231 test case 2)", () => {
    const wrapped = authenticateCfsslRequest(decodeCfsslAuthKey("4a656665"), "what do ya want for nothing?");
    expect(Buffer.from(wrapped.token, "base64").toString("hex")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    expect(Buffer.from(wrapped.request, "base64").toString("utf8")).toBe("what do ya want for nothing?");
  });

  it("refuses keys that are not hex without echoing them", () => {
    for (const bad of ["", "abc", "zz11", "secret-key"]) {
      expect(() => decodeCfsslAuthKey(bad)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
      try {
        decodeCfsslAuthKey(bad);
      } catch (err) {
        if (bad !== "") expect(JSON.stringify(err) + String((err as Error).message)).not.toContain(bad);
      }
    }
  });
});
