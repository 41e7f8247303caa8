/**
 * CA calls in the issue workflow are retried while the CA is unavailable, and only then: a CA
 * that fails twice with CA_UNAVAILABLE still yields exactly one certificate per template, and a
 * CA_BAD_RESPONSE fails the run at once.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AesGcmSecretVault,
  type CaResult,
  Cardwright,
  CardwrightError,
  type CertificateAuthority,
  type CertificateRequest,
  isCardwrightError,
} from "../src/index.js";
import { examplePivPolicy, InMemoryDirectory, InMemoryStore, SoftwareKeyDevice } from "../src/testing/index.js";
import { ann } from "./support/fixtures.js";
import { ScriptedCa } from "./support/scripted-ca.js";

/** A CA whose first `failures` submits throw `code`, then pass through to a real signing double. */
class FlakyCa implements CertificateAuthority {
  readonly inner = new ScriptedCa("ca");
  readonly id = "ca";
  readonly renewal = { sameKey: false, rekey: false };
  submitCalls = 0;
  constructor(
    private failures: number,
    private readonly code: "CA_UNAVAILABLE" | "CA_BAD_RESPONSE",
  ) {}
  async submit(request: CertificateRequest): Promise<CaResult> {
    this.submitCalls++;
    if (this.failures > 0) {
      this.failures--;
      throw new CardwrightError(this.code, `ca: ${this.code === "CA_UNAVAILABLE" ? "connection refused" : "garbage"}`);
    }
    return this.inner.submit(request);
  }
  poll = (id: string) => this.inner.poll(id);
  renew = () => Promise.reject(new CardwrightError("CA_UNSUPPORTED", "no renewal"));
  revoke = (serial: string, reason: Parameters<CertificateAuthority["revoke"]>[1]) => this.inner.revoke(serial, reason);
  suspend = (serial: string) => this.inner.suspend(serial);
  unsuspend = (serial: string) => this.inner.unsuspend(serial);
  chain = () => this.inner.chain();
}

function world(ca: FlakyCa) {
  const store = new InMemoryStore();
  const waits: number[] = [];
  const cw = new Cardwright({
    store,
    vault: AesGcmSecretVault.fromKey("kek-1", new Uint8Array(randomBytes(32))),
    directory: new InMemoryDirectory([ann]),
    certificateAuthorities: [ca],
    policies: [examplePivPolicy()],
    caRetry: { attempts: 4, baseDelayMs: 50, sleep: async (ms) => void waits.push(ms) },
  });
  return { store, cw, waits };
}

describe("CA retry in the issue workflow", () => {
  it("a CA failing twice with CA_UNAVAILABLE then succeeding yields one certificate", async () => {
    const ca = new FlakyCa(2, "CA_UNAVAILABLE");
    const w = world(ca);
    const device = new SoftwareKeyDevice({ serial: "2001" });
    const result = await w.cw.issueCard({ userId: "ann", device, actor: "operator" });
    if (result.status !== "active") throw new Error(`expected active, got ${result.status}`);
    expect(result.certificates).toHaveLength(1);
    // Two failed calls and one that issued; the CA signed exactly one certificate.
    expect(ca.submitCalls).toBe(3);
    expect(ca.inner.submitCount).toBe(1);
    expect(ca.inner.byRequestId.size).toBe(1);
    expect(await w.store.certificates.list()).toHaveLength(1);
    expect(w.waits).toHaveLength(2);
    const onCard = await device.readCertificate(result.certificates[0]!.slot);
    expect(Buffer.from(onCard!).toString("base64")).toBe(result.certificates[0]!.certificate);
  });

  it("does not retry CA_BAD_RESPONSE: the run fails after one call and nothing is issued", async () => {
    const ca = new FlakyCa(1, "CA_BAD_RESPONSE");
    const w = world(ca);
    const err = await w.cw
      .issueCard({ userId: "ann", device: new SoftwareKeyDevice({ serial: "2002" }), actor: "operator" })
      .catch((e: unknown) => e);
    expect(isCardwrightError(err, "CA_BAD_RESPONSE")).toBe(true);
    expect(ca.submitCalls).toBe(1);
    expect(w.waits).toEqual([]);
    expect(ca.inner.byRequestId.size).toBe(0);
    expect(await w.store.certificates.list()).toHaveLength(0);
  });
});
