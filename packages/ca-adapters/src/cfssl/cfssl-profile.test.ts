import type { CertificateProfile } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { decodeCfsslProfile, goDurationHours, profileMismatch } from "./cfssl-profile.js";

const template: CertificateProfile = {
  templateId: "piv-auth",
  keyUsage: ["digitalSignature"],
  extendedKeyUsage: ["clientAuth"],
  validityDays: 365,
};

describe("cfssl profiles", () => {
  it("reads Go durations as hours", () => {
    expect(goDurationHours("8760h")).toBe(8760);
    expect(goDurationHours("8760h0m0s")).toBe(8760);
    expect(goDurationHours("90m")).toBe(1.5);
    expect(goDurationHours("1y")).toBeUndefined();
    expect(goDurationHours("")).toBeUndefined();
  });

  it("decodes usages into key usages and EKU OIDs, keeping unknown names", () => {
    expect(
      decodeCfsslProfile({ usages: ["signing", "digital signature", "client auth", "frobnicate"], expiry: "24h" }),
    ).toEqual({
      keyUsage: ["digitalSignature"],
      extendedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
      expiryHours: 24,
      unknownUsages: ["frobnicate"],
    });
    expect(decodeCfsslProfile({ usages: "signing", expiry: "24h" })).toBeUndefined();
    expect(decodeCfsslProfile({ usages: [], expiry: "forever" })).toBeUndefined();
  });

  it("agrees only on the same usages and validity", () => {
    const grant = {
      keyUsage: ["digitalSignature"],
      extendedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
      expiryHours: 8760,
      unknownUsages: [],
    };
    expect(profileMismatch(grant, template)).toBeUndefined();
    expect(profileMismatch({ ...grant, keyUsage: ["digitalSignature", "keyEncipherment"] }, template)).toMatch(
      /keyUsage/,
    );
    expect(profileMismatch(grant, { ...template, extendedKeyUsage: ["clientAuth", "smartcardLogon"] })).toMatch(
      /extKeyUsage/,
    );
    expect(profileMismatch({ ...grant, expiryHours: 720 }, template)).toMatch(/720 h validity instead of 8760 h/);
  });
});
