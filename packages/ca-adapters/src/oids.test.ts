import { describe, expect, it } from "vitest";
import { ExtendedKeyUsageOid, extendedKeyUsageName, isDottedOid, resolveExtendedKeyUsage } from "./oids.js";

describe("EKU table", () => {
  it("maps policy names to the registered OIDs", () => {
    expect(resolveExtendedKeyUsage("clientAuth")).toBe("1.3.6.1.5.5.7.3.2");
    expect(resolveExtendedKeyUsage("smartcardLogon")).toBe("1.3.6.1.4.1.311.20.2.2");
    expect(resolveExtendedKeyUsage("emailProtection")).toBe("1.3.6.1.5.5.7.3.4");
    expect(resolveExtendedKeyUsage("documentSigning")).toBe("1.3.6.1.5.5.7.3.36");
    expect(resolveExtendedKeyUsage("msDocumentSigning")).toBe("1.3.6.1.4.1.311.10.3.12");
  });

  it("passes unknown dotted OIDs through and names known ones", () => {
    expect(resolveExtendedKeyUsage("1.2.3.4.5")).toBe("1.2.3.4.5");
    expect(extendedKeyUsageName(ExtendedKeyUsageOid.smartcardLogon)).toBe("smartcardLogon");
    expect(extendedKeyUsageName("1.2.3.4.5")).toBeUndefined();
  });

  it("refuses names it does not know and malformed OIDs", () => {
    expect(() => resolveExtendedKeyUsage("smartCardLogin")).toThrow(/unknown extended key usage/);
    expect(isDottedOid("1.3.6.01")).toBe(false);
    expect(isDottedOid("3.1")).toBe(false);
    expect(isDottedOid("toString")).toBe(false);
    expect(() => resolveExtendedKeyUsage("toString")).toThrow(/unknown extended key usage/);
  });
});
