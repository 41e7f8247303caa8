/**
 * `cardwright demo`: issues a card to a sample user on a virtual YubiKey, through every layer a
 * real deployment uses — the PIV card edge over APDUs, the embedded CA, the embedded SQL store,
 * the vault and the audit log. With `approval`, the CA holds the requests; the demo approves
 * them as the CA operator and continues the issue with a fresh SDK instance over the same
 * store, as a second process would.
 */
import { join } from "node:path";
import { Cardwright, type IssueResult, type ProgressEvent } from "@cardwright/core";
import { InMemoryDirectory } from "@cardwright/core/testing";
import { PivDevice } from "@cardwright/pcsc";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { progressLine, renderCard } from "./print.js";
import { sampleUsers, staffPivPolicy } from "./sample-policy.js";
import { type DemoWorkspace, openWorkspace } from "./workspace.js";

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Workspace directory (created when missing). */
  workspace: string;
  /** Hold requests for CA approval, then approve and continue. */
  approval: boolean;
  /** Sample user to issue to. */
  userId: string;
  /** Where to write output lines. */
  out: (line: string) => void;
}

/** What the demo did, for callers and tests. */
export interface DemoReport {
  cardId: string;
  serial: string;
  /** Command APDUs the card received. */
  apdus: number;
  /** Bytes sent to and received from the card. */
  bytes: number;
  /** The virtual card's image file. */
  cardImage: string;
}

const STEP_LABELS: Record<string, string> = {
  resolvePolicy: "choosing the policy",
  connectCard: "checking the card",
  authenticateAdmin: "authenticating with the card's management key",
  initialise: "resetting the card to factory state",
  replaceAdminCredential: "replacing the default management key with a random one",
  writeCardIdentifiers: "writing a fresh CHUID and CCC",
  generateKey: "generating a key pair on the card",
  buildCsr: "signing the certificate request on the card",
  submitRequest: "submitting the request to the CA",
  markPending: "recording the card issue as pending",
  pending: "waiting for the CA operator",
  pollRequests: "asking the CA about the pending requests",
  rollback: "rolling back: revoking what was issued",
  rollbackPending: "rollback waits for the CA",
  writeCertificates: "writing certificates to the card",
  setPins: "setting a random PIN and PUK",
  complete: "recording the card as active",
};

function progressPrinter(out: (line: string) => void): (event: ProgressEvent) => void {
  return (event) => {
    const template = staffPivPolicy.certificates.find((t) => t.id === event.templateId);
    const label = STEP_LABELS[event.step] ?? event.step;
    if (template) {
      const where = `${template.name} (slot ${template.slot}, ${template.keyAlgorithm})`;
      out(`          certificate ${event.index}/${event.total} ${where}: ${label}`);
    } else {
      out(progressLine(event.index, event.total, label));
    }
  };
}

function sdk(ws: DemoWorkspace): Cardwright {
  return new Cardwright({
    store: ws.store,
    vault: ws.vault,
    directory: new InMemoryDirectory(sampleUsers),
    certificateAuthorities: [ws.ca],
    policies: [staffPivPolicy],
  });
}

/**
 * Runs the demo.
 * @throws CardwrightError from any layer, with its code and an actionable message.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { out } = options;
  let ws = await openWorkspace(options.workspace, options.approval);
  out(`${ws.created ? "Created" : "Using"} workspace ${ws.directory}`);
  out(`  CA     ${ws.ca.subject} (embedded${options.approval ? ", approval required" : ""})`);
  out(`  store  ${join(ws.directory, "store")} (embedded PostgreSQL)`);

  const card = await VirtualPivCard.create();
  const transport = new InMemoryTransport(card);
  const device = await PivDevice.open(transport);
  out(`Inserted ${device.identity.model} serial ${device.identity.serial}, firmware ${device.identity.firmware}`);
  const user = sampleUsers.find((u) => u.id === options.userId);
  out(`Issuing a card to ${user?.displayName ?? options.userId} (${options.userId}) under "${staffPivPolicy.name}"`);

  const onProgress = progressPrinter(out);
  let result: IssueResult = await sdk(ws).issueCard({
    userId: options.userId,
    device,
    actor: "demo-operator",
    onProgress,
  });

  if (result.status === "pending") {
    out(`Card issue pending: ${result.pendingRequests.length} request(s) wait for the CA operator.`);
    for (const request of result.pendingRequests) {
      if (!request.caRequestId) continue;
      await ws.ca.approve(request.caRequestId);
      out(`  CA operator approved request ${request.caRequestId} (${request.templateId})`);
    }
    // Continue as a second process would: a new SDK over a reopened store, nothing from memory.
    await ws.store.close();
    ws = await openWorkspace(options.workspace, options.approval);
    out("Continuing card issue with a fresh SDK instance over the same store");
    result = await sdk(ws).resumeOperation(result.operationId, { device, actor: "demo-operator", onProgress });
  }
  if (result.status !== "active") {
    await ws.store.close();
    throw new Error(`the issue is still pending after approval (operation ${result.operationId})`);
  }

  const cardImage = join(ws.cardsDirectory, `${device.identity.serial}.json`);
  await card.saveImage(cardImage);
  out("");
  out(renderCard(result.card, result.certificates));
  if (result.pin) {
    out("");
    out(`PIN ${result.pin}  (shown once: it is not stored anywhere; write it down)`);
  }
  const transcript = transport.transcript;
  const bytes = transcript.reduce((n, e) => n + e.command.length + e.response.length, 0);
  out("");
  out(`${transcript.length} APDUs exchanged with the card (${bytes} bytes); card image saved to ${cardImage}`);
  const audit = await sdk(ws).verifyAudit();
  out(`Audit log: ${audit.count} events, hash chain ${audit.ok ? "verified" : `BROKEN at ${audit.brokenAt}`}`);
  await device.close();
  await ws.store.close();
  return { cardId: result.card.id, serial: device.identity.serial, apdus: transcript.length, bytes, cardImage };
}
