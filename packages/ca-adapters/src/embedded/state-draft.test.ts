import { describe, expect, it } from "vitest";
import { CA_STATE_FORMAT, type CaState, type CertificateRecord } from "./ca-state.js";
import { adoptState, applyChanges, CaStateDraft } from "./state-draft.js";

const certificate = (serialHex: string): CertificateRecord => ({
  serialHex,
  subject: `CN=${serialHex}`,
  der: "AA==",
  notAfter: "2030-01-01T00:00:00.000Z",
});

const committed = (): CaState =>
  adoptState({
    format: CA_STATE_FORMAT,
    id: "ca",
    keyAlgorithm: "ECCP256",
    approvalMode: "automatic",
    retryAfterSeconds: 60,
    crlUrl: "http://crl.example/ca.crl",
    crlValidityHours: 24,
    crlNumber: 3,
    requests: {},
    requestIndex: { "req-1": "ca-1" },
    certificates: { "01": certificate("01"), "02": certificate("02") },
  });

describe("CaStateDraft", () => {
  it("copies a record on its first read by key and never writes through to the committed state", () => {
    const base = committed();
    const draft = new CaStateDraft(base);
    const record = draft.state.certificates["01"] as CertificateRecord;
    record.revocation = { reason: "keyCompromise", revokedAt: "2026-01-01T00:00:00.000Z" };
    expect(draft.state.certificates["01"]).toBe(record);
    expect(base.certificates["01"]?.revocation).toBeUndefined();
    expect(draft.changes()).toEqual({ certificates: { "01": record } });
  });

  it("reports nothing for a change that only read", () => {
    const draft = new CaStateDraft(committed());
    expect(draft.state.certificates["02"]?.subject).toBe("CN=02");
    expect(Object.values(draft.state.certificates)).toHaveLength(2);
    expect(draft.state.requestIndex["req-1"]).toBe("ca-1");
    expect(draft.changes()).toBeUndefined();
  });

  it("adds, removes and lists keys like a plain object, and knows no inherited keys", () => {
    const draft = new CaStateDraft(committed());
    const maps = draft.state;
    maps.certificates["03"] = certificate("03");
    delete maps.certificates["01"];
    maps.requestIndex["req-2"] = "ca-2";
    expect(Object.keys(maps.certificates).sort()).toEqual(["02", "03"]);
    expect("01" in maps.certificates).toBe(false);
    expect("03" in maps.certificates).toBe(true);
    expect(maps.requestIndex.constructor).toBeUndefined();
    expect(maps.requestIndex.toString).toBeUndefined();
    expect(draft.changes()).toEqual({
      certificates: { "01": null, "03": certificate("03") },
      requestIndex: { "req-2": "ca-2" },
    });
  });

  it("records changed and removed settings", () => {
    const draft = new CaStateDraft(committed());
    draft.state.crlNumber += 1;
    delete draft.state.crlUrl;
    expect(draft.changes()).toEqual({ settings: { crlNumber: 4, crlUrl: null } });
  });

  it("refuses a change that replaces a whole record map", () => {
    const draft = new CaStateDraft(committed());
    draft.state.certificates = {};
    expect(() => draft.changes()).toThrow(TypeError);
  });
});

describe("applyChanges", () => {
  it("applies settings and records, and freezes what it commits", () => {
    const state = committed();
    const draft = new CaStateDraft(state);
    draft.state.crlNumber = 9;
    delete draft.state.crlUrl;
    draft.state.certificates["03"] = certificate("03");
    delete draft.state.certificates["02"];
    applyChanges(state, draft.changes() ?? {});
    expect(state.crlNumber).toBe(9);
    expect("crlUrl" in state).toBe(false);
    expect(Object.keys(state.certificates).sort()).toEqual(["01", "03"]);
    expect(() => {
      (state.certificates["03"] as CertificateRecord).subject = "CN=changed";
    }).toThrow(TypeError);
  });
});
