/**
 * Renewal by the embedded CA beyond the contract: the supersession record, the checks on the
 * previous certificate, and renewals held for approval.
 */
import { isCardwrightError, type RenewalRequest } from "@cardwright/core";
import { describe, expect, it } from "vitest";
import { EmbeddedCa } from "../src/index.js";
import { makeCsr } from "./support/csr.js";
import { pivAuthProfile, serialHexOf } from "./support/x509.js";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  return isCardwrightError(error) ? error.code : `not a CardwrightError: ${String(error)}`;
}

async function newCa(approvalMode: "automatic" | "manual" = "automatic"): Promise<EmbeddedCa> {
  return EmbeddedCa.create({
    id: "renewal",
    subject: "CN=Renewal Root,O=Cardwright",
    keyAlgorithm: "ECCP256",
    validityDays: 3650,
    approvalMode,
  });
}

async function issued(ca: EmbeddedCa, requestId: string) {
  const csr = await makeCsr({ keyAlgorithm: "ECCP256", subject: `CN=${requestId}` });
  const result = await ca.submit({ requestId, csr: csr.der, profile: pivAuthProfile });
  if (result.status !== "issued") throw new Error(`expected issued, got ${result.status}`);
  return { csr, certificate: result.certificate, serialHex: serialHexOf(result.certificate) };
}

async function renewal(
  previous: Awaited<ReturnType<typeof issued>>,
  requestId: string,
  rekey: boolean,
): Promise<RenewalRequest> {
  const csr = await makeCsr({
    keyAlgorithm: "ECCP256",
    subject: "CN=renewed",
    ...(rekey ? {} : { keys: previous.csr.keys }),
  });
  return {
    requestId,
    csr: csr.der,
    profile: pivAuthProfile,
    previousCertificate: previous.certificate,
    previousSerialHex: previous.serialHex,
    rekey,
  };
}

describe("EmbeddedCa.renew", () => {
  it("records the old serial as superseded by the new one, once", async () => {
    const ca = await newCa();
    const old = await issued(ca, "old");
    const first = await ca.renew(await renewal(old, "renew-1", false));
    if (first.status !== "issued") throw new Error(first.status);
    const second = await ca.renew(await renewal(old, "renew-2", true));
    if (second.status !== "issued") throw new Error(second.status);
    const firstSerial = serialHexOf(first.certificate);
    expect(await ca.certificateStatus(old.serialHex)).toMatchObject({ supersededBy: firstSerial });
    expect(await ca.certificateStatus(firstSerial)).toMatchObject({ renews: old.serialHex });
    expect(await ca.certificateStatus(serialHexOf(second.certificate))).toMatchObject({ renews: old.serialHex });
    // Superseded is a record, not a revocation: the holder keeps the old one until the new is written.
    expect((await ca.certificateStatus(old.serialHex)).revocation).toBeUndefined();
    expect((await ca.listIssued()).length).toBe(3);
  });

  it("refuses a CSR whose key contradicts rekey", async () => {
    const ca = await newCa();
    const old = await issued(ca, "old");
    const sameKeyClaimingRekey = { ...(await renewal(old, "r1", false)), rekey: true };
    expect(await codeOf(ca.renew(sameKeyClaimingRekey))).toBe("CA_INVALID_REQUEST");
    const newKeyClaimingSame = { ...(await renewal(old, "r2", true)), rekey: false };
    expect(await codeOf(ca.renew(newKeyClaimingSame))).toBe("CA_INVALID_REQUEST");
    expect((await ca.listIssued()).length).toBe(1);
  });

  it("refuses a previous certificate it did not issue, or a serial that is not its own", async () => {
    const ca = await newCa();
    const other = await newCa();
    const foreign = await issued(other, "foreign");
    expect(await codeOf(ca.renew(await renewal(foreign, "r-foreign", true)))).toBe("CA_UNKNOWN_CERTIFICATE");
    const mine = await issued(ca, "mine");
    const wrongSerial = { ...(await renewal(mine, "r-serial", true)), previousSerialHex: foreign.serialHex };
    expect(await codeOf(ca.renew(wrongSerial))).toBe("CA_INVALID_REQUEST");
    // Same serial, different bytes: a certificate forged around one of our serials.
    const forged = mine.certificate.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    expect(await codeOf(ca.renew({ ...(await renewal(mine, "r-forged", true)), previousCertificate: forged }))).toBe(
      "CA_INVALID_REQUEST",
    );
  });

  it("rejects renewing a revoked or held certificate", async () => {
    const ca = await newCa();
    const revoked = await issued(ca, "revoked");
    await ca.revoke(revoked.serialHex, "keyCompromise");
    const r1 = await ca.renew(await renewal(revoked, "r-revoked", true));
    expect(r1).toMatchObject({ status: "rejected" });
    if (r1.status === "rejected") expect(r1.reason).toContain("keyCompromise");
    const held = await issued(ca, "held");
    await ca.suspend(held.serialHex);
    const r2 = await ca.renew(await renewal(held, "r-held", false));
    expect(r2).toMatchObject({ status: "rejected" });
    if (r2.status === "rejected") expect(r2.reason).toContain("on hold");
  });

  it("holds a renewal for approval and rejects it if the old certificate was revoked meanwhile", async () => {
    const ca = await newCa("manual");
    const submitted = await ca.submit({
      requestId: "first",
      csr: (await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=first" })).der,
      profile: pivAuthProfile,
    });
    if (submitted.status !== "pending") throw new Error(submitted.status);
    const approved = await ca.approve(submitted.caRequestId);
    if (approved.status !== "issued") throw new Error(approved.status);
    const old = { certificate: approved.certificate, serialHex: serialHexOf(approved.certificate) };
    const request: RenewalRequest = {
      requestId: "renewal",
      csr: (await makeCsr({ keyAlgorithm: "ECCP256", subject: "CN=first" })).der,
      profile: pivAuthProfile,
      previousCertificate: old.certificate,
      previousSerialHex: old.serialHex,
      rekey: true,
    };
    const pending = await ca.renew(request);
    if (pending.status !== "pending") throw new Error(pending.status);
    await ca.revoke(old.serialHex, "affiliationChanged");
    const decided = await ca.approve(pending.caRequestId);
    expect(decided).toMatchObject({ status: "rejected" });
    expect(await ca.renew(request)).toMatchObject({ status: "rejected", caRequestId: pending.caRequestId });
    expect((await ca.listIssued()).length).toBe(1);
  });
});
