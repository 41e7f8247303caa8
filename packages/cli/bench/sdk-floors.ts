/**
 * The least the SDK's required parts cost per card, each measured alone with everything around it
 * instant: the issue workflow (xstate v5, as DESIGN.md prescribes, with its snapshot persisted at
 * every state) and the audit hash chain. Set against the 2 ms goal of issue 8, they say how much
 * of it those parts take before the SDK has built a CSR, parsed a certificate or sent an APDU.
 */
import {
  type AuditEvent,
  HashChainAuditLog,
  ISSUE_REST_STATES,
  issueMachine,
  type OperationRecord,
  runOperation,
  type Store,
} from "@cardwright/core";
import { fromPromise } from "xstate";
import { now, type Summary, summarize } from "./stats.js";

/** Runs timed per floor, after as many untimed ones warm the JIT. */
export const FLOOR_RUNS = 400;

/** The floors, as medians / p95 in milliseconds per card. */
export interface SdkFloors {
  /** One issue workflow run with instant steps, snapshots saved to a store that keeps nothing. */
  workflow: Summary;
  /** A card's audit events hashed and chained, appended to a store that keeps nothing. */
  audit: Summary;
  auditEvents: number;
  templates: number;
}

/** A step of the issue machine that answers at once with `output`. */
const instant = (output: unknown) => fromPromise(async () => output as never);

/** The issue machine with every step instant, planning `templates` P-256 certificates. */
function instantIssueMachine(templates: number) {
  const plans = Array.from({ length: templates }, (_, i) => ({
    templateId: `template-${i}`,
    caId: "ca",
    slot: ["9a", "9c", "9d", "9e"][i % 4],
    keyAlgorithm: "ECCP256",
    requestId: `request-${i}`,
    status: "planned",
  }));
  return issueMachine.provide({
    actors: {
      resolvePolicy: instant({ policyId: "policy", policyVersion: 1, initialiseOnIssue: true, templates: plans }),
      connectCard: instant(undefined),
      authenticateAdmin: instant({ source: "factory" }),
      initialise: instant(undefined),
      replaceAdminCredential: instant({ replaced: true }),
      writeCardIdentifiers: instant({ guid: "00".repeat(16) }),
      // A P-256 SubjectPublicKeyInfo is 91 bytes: about this much base64.
      generateKey: instant({ spki: "A".repeat(124) }),
      buildCsr: instant(undefined),
      submitRequest: instant({ status: "issued", caRequestId: "ca-request", serialHex: "01".repeat(16) }),
      writeCertificates: instant(undefined),
      setPins: instant(undefined),
      complete: instant(undefined),
    } as never,
  });
}

/** A store whose writes keep nothing: what the runner and the audit log cost without any store. */
const nullStore = {
  operations: { update: async (record: OperationRecord) => ({ ...record, version: record.version + 1 }) },
  audit: { last: async () => null, append: async (_event: AuditEvent) => undefined },
  transaction: <T>(fn: (tx: Store) => Promise<T>) => fn(nullStore),
} as unknown as Store;

async function timeRuns(run: (i: number) => Promise<void>): Promise<Summary> {
  for (let i = 0; i < FLOOR_RUNS; i++) await run(i);
  const samples: number[] = [];
  for (let i = 0; i < FLOOR_RUNS; i++) {
    const start = now();
    await run(i);
    samples.push(now() - start);
  }
  return summarize(samples);
}

/** Measures the floors for a card of `templates` certificates and `auditEvents` audit events. */
export async function measureSdkFloors(options: { templates: number; auditEvents: number }): Promise<SdkFloors> {
  const machine = instantIssueMachine(options.templates);
  const workflow = await timeRuns(async (i) => {
    const operation = {
      id: `operation-${i}`,
      version: 1,
      status: "running",
      snapshot: null,
    } as unknown as OperationRecord;
    const outcome = await runOperation({
      machine,
      store: nullStore,
      operation,
      input: {
        operationId: operation.id,
        cardId: `card-${i}`,
        userId: "user",
        actor: "operator",
        deviceSerial: "1",
        optionalTemplates: [],
        previousCardState: "registered",
      },
      restStates: ISSUE_REST_STATES,
      statusOf: (_state, done) => (done ? "completed" : "running"),
    });
    if (outcome.state !== "done") throw new Error(`instant issue run ended in ${outcome.state}`);
  });
  const log = new HashChainAuditLog(nullStore);
  const audit = await timeRuns(async (i) => {
    for (let e = 0; e < options.auditEvents; e++) {
      // About the size of the issue workflow's events: ids, a template, a serial, a slot.
      await log.append({
        actor: "operator",
        action: "certificate.issued",
        cardId: `card-${i}`,
        userId: "user",
        operationId: `operation-${i}`,
        details: { templateId: "piv-auth", caId: "ca", slot: "9a", serialHex: "01".repeat(16) },
      });
    }
  });
  return { workflow, audit, ...options };
}
